package engine_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// The successor of a permissive task that fails inside a DO_WHILE
// iteration (DeciderService.decide lines 238-250, getNextTask and
// WorkflowTask.next): scheduled in the decision in which DoWhile fails the
// loop; a synchronous one is executed by that decision
// (WorkflowExecutor.decide), a worker task waits and is cancelled when the
// next decision fails the run. For the last task of a SWITCH case it is
// the task after the SWITCH; for the last task of the iteration, the loop
// itself (nothing new).
func TestDoWhileSuccessorOfAFailedPermissiveTask(t *testing.T) {
	x := `{"name":"fail","taskReferenceName":"x","permissive":true,"inputParameters":{}}`
	inline := `{"name":"i","taskReferenceName":"i","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}}`
	setVar := `{"name":"v","taskReferenceName":"v","type":"SET_VARIABLE","inputParameters":{"seen":true}}`
	echo := `{"name":"echo","taskReferenceName":"e","inputParameters":{}}`
	wait := `{"name":"w","taskReferenceName":"w","type":"WAIT","inputParameters":{"duration":"1 hour"}}`
	sw := func(tasks string) string {
		return `{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","expression":"k","inputParameters":{"k":"a"},
		  "decisionCases":{"a":[` + tasks + `]}}`
	}
	loop := func(body string) string {
		return `{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"false","loopOver":[` + body + `]},
		  {"name":"echo","taskReferenceName":"after","inputParameters":{}}]}`
	}
	cases := []struct {
		name, def string
		tasks     []string
		variable  bool // SET_VARIABLE ran
	}{
		{"an INLINE", loop(x + `,` + inline + `,` + echo), []string{"DO_WHILE:FAILED", "fail:FAILED", "INLINE:COMPLETED"}, false},
		{"a SET_VARIABLE", loop(x + `,` + setVar), []string{"DO_WHILE:FAILED", "fail:FAILED", "SET_VARIABLE:COMPLETED"}, true},
		{"a WAIT", loop(x + `,` + wait), []string{"DO_WHILE:FAILED", "fail:FAILED", "WAIT:CANCELED"}, false},
		{"the last task", loop(echo + `,` + x), []string{"DO_WHILE:FAILED", "echo:COMPLETED", "fail:FAILED"}, false},
		{"the last task of a SWITCH case", loop(sw(x) + `,` + wait), []string{"DO_WHILE:FAILED", "SWITCH:COMPLETED", "fail:FAILED", "WAIT:CANCELED"}, false},
		{"in a SWITCH case", loop(sw(x+`,`+wait) + `,` + echo), []string{"DO_WHILE:FAILED", "SWITCH:COMPLETED", "fail:FAILED", "WAIT:CANCELED"}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
			res := h.run(c.def, `{}`)
			if res.Status != engine.StatusFailed {
				t.Fatalf("run %s %q", res.Status, res.Reason)
			}
			v := viewRun(t, h.e, res.RunID)
			checkTasks(t, v.Tasks, c.tasks...)
			b, err := h.e.Show(context.Background(), res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			var vars struct {
				Variables map[string]any `json:"variables"`
			}
			_ = json.Unmarshal(b, &vars)
			if _, ok := vars.Variables["seen"]; ok != c.variable {
				t.Fatalf("variables %v", vars.Variables)
			}
		})
	}
}

// A permissive task failing in a fork branch inside an iteration: its
// successor in the branch is scheduled (and cancelled), DoWhile fails the
// loop, and the next decision fails the run, cancelling the other branch's
// waiting task and the JOIN.
func TestDoWhileForkBranchWithAFailedPermissiveTask(t *testing.T) {
	hold := func(ctx context.Context, _ engine.RemoteTask) tasks.Result {
		<-ctx.Done()
		return tasks.Result{Status: tasks.Failed, Reason: "cancelled"}
	}
	def := `{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"false","loopOver":[
	  {"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[
	    [{"name":"echo","taskReferenceName":"a","inputParameters":{}},
	     {"name":"fail","taskReferenceName":"x","permissive":true,"inputParameters":{}},
	     {"name":"hold","taskReferenceName":"y"}],
	    [{"name":"hold","taskReferenceName":"b"}]]},
	  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["y","b"]}]}]}`
	for range 10 {
		h := newHarness(t, nil, engine.WithRemoteWorker(hold))
		res := h.run(def, `{}`)
		if res.Status != engine.StatusFailed {
			t.Fatalf("run %s %q", res.Status, res.Reason)
		}
		v := viewRun(t, h.e, res.RunID)
		checkTasks(t, v.Tasks, "DO_WHILE:FAILED", "FORK:COMPLETED", "echo:COMPLETED", "hold:CANCELED", "JOIN:CANCELED",
			"fail:FAILED", "hold:CANCELED")
		if y := byRef(v.Tasks)["y__1"]; y.Status != engine.TaskCanceled {
			t.Fatalf("y__1 %+v", y)
		}
	}
}
