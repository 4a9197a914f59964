package engine_test

import (
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// A SWITCH is validated before the tasks of its cases (the walk visits a
// task, then what it holds), so what it notes then of its cases' mappers
// (casesThrow) cannot know a problem a case's first task is given later
// in the walk. The decide still sees it: Conductor's SwitchTaskMapper
// maps the case's first task in the same call, whose mapper throws out
// of the decide, and the run fails with its words, storing nothing that
// decide mapped (no SWITCH record). Inside a DO_WHILE, which Conductor's
// registration does not check.
func TestSwitchCaseValidatedAfterTheSwitch(t *testing.T) {
	for _, c := range []struct{ name, first, reason string }{
		{"SIMPLE task without a name", `{"taskReferenceName":"x","type":"SIMPLE","inputParameters":{}}`,
			`task "x" at /tasks/0/loopOver/0/decisionCases/a/0 has no name`},
		{"SWITCH without evaluatorType", `{"name":"s2","taskReferenceName":"s2","type":"SWITCH","expression":"k","inputParameters":{"k":"a"},"decisionCases":{"a":[{"name":"echo","taskReferenceName":"e","inputParameters":{}}]}}`,
			"No evaluator registered for type: null"},
		{"DO_WHILE with an empty loopOver", `{"name":"l2","taskReferenceName":"l2","type":"DO_WHILE","loopCondition":"false","loopOver":[]}`,
			`DO_WHILE "l2" at /tasks/0/loopOver/0/decisionCases/a/0 has no task in loopOver`},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			sw := `{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","expression":"k",
			  "inputParameters":{"k":"a"},"decisionCases":{"a":[` + c.first + `]},"defaultCase":[{"name":"echo","taskReferenceName":"d","inputParameters":{}}]}`
			for _, tc := range []struct{ where, def, reason string }{
				{"alone", inLoop(sw), c.reason},
				// First in a fork's branch: the fork's mapper maps it in
				// the same call, so no FORK, no branch task, no JOIN.
				{"in a fork", inLoop(`{"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[[` + sw + `],[{"name":"echo","taskReferenceName":"e2","inputParameters":{}}]]},
				  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["s","e2"]}`), strings.Replace(c.reason, "/loopOver/0/", "/loopOver/0/forkTasks/0/0/", 1)},
			} {
				res := h.run(tc.def, `{}`)
				if res.Status != engine.StatusFailed || !strings.HasPrefix(res.Reason, tc.reason) {
					t.Fatalf("%s: run %s %q, want FAILED %q", tc.where, res.Status, res.Reason, tc.reason)
				}
				checkTasks(t, viewRun(t, h.e, res.RunID).Tasks, "DO_WHILE:CANCELED")
			}
		})
	}
}
