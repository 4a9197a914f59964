package engine_test

import (
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// A DECISION mapped in a fork's second pass sees what every synchronous
// task of the first pass did, whichever branch ran it: WorkflowExecutor's
// decide executes the synchronous tasks it scheduled (a SET_VARIABLE here,
// in the other branch) before the next pass maps the branches' next tasks,
// so DecisionTaskMapper reads the variable already set and takes its case.
func TestForkDecisionSeesThePreviousPass(t *testing.T) {
	for range 5 {
		h := newHarness(t, nil)
		res := h.run(`{"name":"w","tasks":[{"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[
		  [{"name":"a","taskReferenceName":"a","type":"SET_VARIABLE","inputParameters":{"a":1}},
		   {"name":"d","taskReferenceName":"d","type":"DECISION","caseValueParam":"v","inputParameters":{"v":"${workflow.variables.v}"},
		    "decisionCases":{"set":[{"name":"echo","taskReferenceName":"inset","inputParameters":{}}]},
		    "defaultCase":[{"name":"echo","taskReferenceName":"indefault","inputParameters":{}}]}],
		  [{"name":"b","taskReferenceName":"b","type":"SET_VARIABLE","inputParameters":{"v":"set"}}]]},
		  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["d","b"]}]}`, `{}`)
		if res.Status != engine.StatusCompleted {
			t.Fatalf("run %s %q", res.Status, res.Reason)
		}
		wf := viewRun(t, h.e, res.RunID)
		refs := map[string]bool{}
		for _, x := range wf.Tasks {
			refs[x.Ref] = true
		}
		if !refs["inset"] || refs["indefault"] {
			t.Fatalf("tasks %+v: the DECISION did not see the variable set in the previous pass", wf.Tasks)
		}
	}
}
