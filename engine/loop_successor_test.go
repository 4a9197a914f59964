package engine_test

import (
	"context"
	"encoding/json"
	"strings"
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
	x := `{"name":"fail","taskReferenceName":"x","permissive":true,"retryCount":0,"inputParameters":{}}`
	inline := `{"name":"i","taskReferenceName":"i","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}}`
	setVar := `{"name":"v","taskReferenceName":"v","type":"SET_VARIABLE","inputParameters":{"seen":true}}`
	echo := `{"name":"echo","taskReferenceName":"e","inputParameters":{}}`
	wait := `{"name":"w","taskReferenceName":"w","type":"WAIT","inputParameters":{"duration":"1 hour"}}`
	sw := func(tasks string) string {
		return `{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","expression":"k","inputParameters":{"k":"a"},
		  "decisionCases":{"a":[` + tasks + `]}}`
	}
	fork := `{"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[[` + inline + `,` + echo + `],[{"name":"echo","taskReferenceName":"e2","inputParameters":{}}]]},
	  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["e","e2"]}`
	dyn := `{"name":"d","taskReferenceName":"d","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"ts","dynamicForkTasksInputParamName":"in",
	  "inputParameters":{"ts":[{"name":"echo","taskReferenceName":"da","type":"SIMPLE"},
	    {"name":"i","taskReferenceName":"db","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"2"}}],"in":{}}},
	  {"name":"j","taskReferenceName":"dj","type":"JOIN"}`
	inner := `{"name":"inner","taskReferenceName":"inner","type":"DO_WHILE","loopCondition":"false","loopOver":[` + inline + `,` + echo + `]}`
	term := `{"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":{"terminationStatus":"COMPLETED","workflowOutput":{"stopped":true}}}`
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
		// SwitchTaskMapper: the SWITCH with its case's first task, which
		// the decider executes (an INLINE) or leaves SCHEDULED.
		{"a SWITCH", loop(x + `,` + sw(inline+`,`+echo)), []string{"DO_WHILE:FAILED", "fail:FAILED", "SWITCH:COMPLETED", "INLINE:COMPLETED"}, false},
		{"a SWITCH to a worker", loop(x + `,` + sw(wait+`,`+inline)), []string{"DO_WHILE:FAILED", "fail:FAILED", "SWITCH:COMPLETED", "WAIT:CANCELED"}, false},
		// ForkJoinTaskMapper: the FORK, each branch's first task, the JOIN.
		{"a FORK_JOIN", loop(x + `,` + fork), []string{"DO_WHILE:FAILED", "fail:FAILED", "FORK:COMPLETED", "INLINE:COMPLETED", "echo:CANCELED", "JOIN:CANCELED"}, false},
		{"a FORK_JOIN_DYNAMIC", loop(x + `,` + dyn), []string{"DO_WHILE:FAILED", "fail:FAILED", "FORK:COMPLETED", "echo:CANCELED", "INLINE:COMPLETED", "JOIN:CANCELED"}, false},
		// DoWhileTaskMapper, then DoWhile.execute: iteration 1 with its
		// first task scheduled, not executed.
		{"a DO_WHILE", loop(x + `,` + inner), []string{"DO_WHILE:FAILED", "fail:FAILED", "DO_WHILE:CANCELED", "INLINE:CANCELED"}, false},
		// Terminate.execute completes it; the next decision's retry() of
		// the loop fails the run first.
		{"a TERMINATE", loop(x + `,` + term), []string{"DO_WHILE:FAILED", "fail:FAILED", "TERMINATE:COMPLETED"}, false},
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
			byType := map[string]taskView{}
			for _, tk := range v.Tasks {
				byType[tk.TaskType] = tk
			}
			loop := v.Tasks[0]
			if want := "Task " + loop.TaskID + " failed with status: FAILED and reason: 'worker says no to {} '"; res.Reason != want {
				t.Fatalf("run reason %q, want %q", res.Reason, want)
			}
			if tk, ok := byType["TERMINATE"]; ok && (tk.Ref != "t__1" || tk.Output["stopped"] != true) {
				t.Fatalf("TERMINATE %+v", tk)
			}
			if tk := v.Tasks[len(v.Tasks)-1]; c.name == "a DO_WHILE" && (tk.Ref != "i__1__1" || v.Tasks[2].Iteration != 1 || v.Tasks[2].Output["iteration"] != float64(1)) {
				t.Fatalf("inner loop %+v, its task %+v", v.Tasks[2], tk)
			}
			if n := h.calls["echo"].Load(); n != 0 && c.name != "the last task" {
				t.Fatalf("echo ran %d times: a scheduled worker task never starts", n)
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
	     {"name":"fail","taskReferenceName":"x","permissive":true,"retryCount":0,"inputParameters":{}},
	     {"name":"hold","taskReferenceName":"y"}],
	    [{"name":"hold","taskReferenceName":"b"}]]},
	  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["y","b"]}]}]}`
	// The successor a SWITCH: mapped with its case's first task in the
	// branch's turn.
	swDef := strings.Replace(def, `{"name":"hold","taskReferenceName":"y"}`,
		`{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","expression":"k","inputParameters":{"k":"a"},
		  "decisionCases":{"a":[{"name":"hold","taskReferenceName":"y"}]}}`, 1)
	for i := range 20 {
		d, extra := def, []string{}
		if i%2 == 1 {
			d, extra = swDef, []string{"SWITCH:COMPLETED"}
		}
		h := newHarness(t, nil, engine.WithRemoteWorker(hold))
		res := h.run(d, `{}`)
		if res.Status != engine.StatusFailed {
			t.Fatalf("run %s %q", res.Status, res.Reason)
		}
		v := viewRun(t, h.e, res.RunID)
		checkTasks(t, v.Tasks, append(append([]string{"DO_WHILE:FAILED", "FORK:COMPLETED", "echo:COMPLETED", "hold:CANCELED", "JOIN:CANCELED",
			"fail:FAILED"}, extra...), "hold:CANCELED")...)
		if y := byRef(v.Tasks)["y__1"]; y.Status != engine.TaskCanceled {
			t.Fatalf("y__1 %+v", y)
		}
	}
}
