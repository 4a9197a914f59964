package engine_test

import (
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// A DECISION whose caseExpression throws, mapped together with the task
// that encloses it. ForkJoinTaskMapper maps each branch's first task
// through DeciderService.getTasksToBeScheduled, and SwitchTaskMapper and
// DecisionTaskMapper map their case's first task the same way: the
// TerminateWorkflowException DecisionTaskMapper throws ("Error while
// evaluating script: <caseExpression>") leaves the enclosing mapper too,
// so the decide that maps the FORK (or the SWITCH) stores none of its
// tasksToBeScheduled, and WorkflowExecutor.decide fails the run with that
// reason: no FORK, no branch task, no JOIN, no SWITCH, no failed task, and
// no task event for any of them.
func TestDecisionThatThrowsInsideAMapper(t *testing.T) {
	const expr = "$.a.b.c"
	dec := `{"name":"d","taskReferenceName":"d","type":"DECISION","caseExpression":"` + expr + `",
	  "inputParameters":{"a":"${workflow.input.a}","tok":"${workflow.secrets.api_token}"},
	  "decisionCases":{"x":[{"name":"echo","taskReferenceName":"inx","inputParameters":{}}]}}`
	before := `{"name":"echo","taskReferenceName":"before","inputParameters":{}}`
	after := `{"name":"echo","taskReferenceName":"after","inputParameters":{}}`
	fork := func(first string) string {
		return `{"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[
		  [{"name":"echo","taskReferenceName":"b1","inputParameters":{}}],[` + first + `],[{"name":"echo","taskReferenceName":"c1","inputParameters":{}}]]},
		  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["b1","c1"]}`
	}
	sw := func(first string) string {
		return `{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","expression":"k",
		  "inputParameters":{"k":"${workflow.input.k}"},"decisionCases":{"go":[` + first + `,{"name":"echo","taskReferenceName":"insw","inputParameters":{}}]}}`
	}
	cases := []struct{ name, tasks string }{
		{"first task of a fork branch", fork(dec)},
		{"first task of a SWITCH case", sw(dec)},
		{"first task of a DECISION case", `{"name":"o","taskReferenceName":"o","type":"DECISION","caseValueParam":"k",
		  "inputParameters":{"k":"${workflow.input.k}"},"decisionCases":{"go":[` + dec + `]}}`},
		{"a fork branch's SWITCH's case", fork(sw(dec))},
		{"a SWITCH case's fork branch", sw(fork(dec))},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			res := h.run(`{"name":"w","tasks":[`+before+`,`+c.tasks+`,`+after+`]}`, `{"a":null,"k":"go"}`)
			wf := viewRun(t, h.e, res.RunID)
			if want := "Error while evaluating script: " + expr; res.Status != engine.StatusFailed || wf.Status != engine.StatusFailed || wf.Reason != want {
				t.Fatalf("run %s %q, want FAILED %q", wf.Status, wf.Reason, want)
			}
			checkTasks(t, wf.Tasks, "echo:COMPLETED")
			if len(wf.FailedRefs) != 0 {
				t.Fatalf("failedReferenceTaskNames %v", wf.FailedRefs)
			}
			// Nor is anything of that decide emitted: a task event (event
			// handlers, status listeners) names only the task before.
			h.mu.Lock()
			for _, ev := range h.events {
				if ev.Kind == engine.EventTask && ev.TaskRef != "before" {
					h.mu.Unlock()
					t.Fatalf("event for a task of the decide that threw: %+v", ev)
				}
			}
			h.mu.Unlock()
			noSecretAnywhere(t, h, res.RunID)
		})
	}
	// The same definitions whose caseExpression evaluates run on.
	t.Run("evaluates", func(t *testing.T) {
		h := newHarness(t, nil)
		res := h.run(`{"name":"w","tasks":[`+before+`,`+fork(sw(dec))+`,`+after+`]}`, `{"a":{"b":{"c":"x"}},"k":"go"}`)
		if res.Status != engine.StatusCompleted {
			t.Fatalf("run %s %q", res.Status, res.Reason)
		}
	})
}
