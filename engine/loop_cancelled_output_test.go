package engine_test

import (
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// The output a DO_WHILE is cancelled with when a task of its iteration
// ends the run. Conductor persists the loop as DoWhile.execute last left
// it in the decide that ends the run (WorkflowExecutorOps.decide executes
// the loop, then the synchronous tasks of the pass; a TerminateWorkflow-
// Exception in the next pass cancels the loop of that same workflow
// object):
//   - a task the decider executes (INLINE, LAMBDA, JSON_JQ_TRANSFORM,
//     SET_VARIABLE, TERMINATE) ends the run in the decide that scheduled
//     it, after the loop ran: the iteration's entry is there, the tasks up
//     to that one, which had no output yet ({}); keepLastN applied to it;
//     a TERMINATE whatever its status (endExecution cancels the tasks
//     still open whether it fails, terminates or completes the run);
//   - a worker's task ends the run in a decide of its own, which throws
//     before the loop runs: the loop keeps the output it was written with
//     when the iteration began (the iteration, the earlier entries).
func TestDoWhileCancelledByATaskOfItsIteration(t *testing.T) {
	inline := func(ref, expr string) string {
		return `{"name":"` + ref + `","taskReferenceName":"` + ref + `","type":"INLINE","inputParameters":{"i":"${loop.output.iteration}","evaluatorType":"javascript","expression":"` + expr + `"}}`
	}
	loop := func(attrs, body string) string {
		return `{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",` + attrs + `"loopCondition":"$.loop['iteration'] < 5","loopOver":[` + body + `]}]}`
	}
	a, b := inline("a", "$.i * 10"), inline("b", "if ($.i == 2) throw 'no'; $.i")
	cases := []struct{ name, def, run, out string }{
		{"an INLINE failing in the second iteration", loop("", a+`,`+b), engine.StatusFailed,
			`{"iteration":2,"1":{"a":{"result":10},"b":{"result":1}},"2":{"a":{"result":20},"b":{}}}`},
		{"an INLINE failing first", loop("", inline("b", "if ($.i == 2) throw 'no'; $.i")+`,`+a), engine.StatusFailed,
			`{"iteration":2,"1":{"b":{"result":1},"a":{"result":10}},"2":{"b":{}}}`},
		{"a TERMINATE", loop("", a+`,{"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":{"terminationStatus":"TERMINATED"}}`), engine.StatusTerminated,
			`{"iteration":1,"1":{"a":{"result":10},"t":{}}}`},
		{"a TERMINATE completing the run", loop("", a+`,{"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":{"terminationStatus":"COMPLETED"}}`), engine.StatusCompleted,
			`{"iteration":1,"1":{"a":{"result":10},"t":{}}}`},
		{"keepLastN", loop(`"inputParameters":{"keepLastN":1},`, a+`,`+inline("b", "if ($.i == 3) throw 'no'; $.i")), engine.StatusFailed,
			`{"iteration":3,"3":{"a":{"result":30},"b":{}}}`},
		{"a worker's task", loop("", a+`,{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","expression":"i",
		  "inputParameters":{"i":"${loop.output.iteration}"},"decisionCases":{"2":[{"name":"fail","taskReferenceName":"x","retryCount":0,"inputParameters":{}}]}}`), engine.StatusFailed,
			`{"iteration":2,"1":{"a":{"result":10},"s":{"evaluationResult":["1"],"selectedCase":"1"}}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
			res := h.run(c.def, `{}`)
			v := viewRun(t, h.e, res.RunID)
			if res.Status != c.run || v.Tasks[0].Status != engine.TaskCanceled {
				t.Fatalf("run %s %q, tasks %s", res.Status, res.Reason, refStatuses(v))
			}
			b, _ := json.Marshal(v.Tasks[0].Output)
			jsonEq(t, b, c.out)
		})
	}
}
