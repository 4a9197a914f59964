package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// More successors of a permissive task that fails in a DO_WHILE iteration,
// each mapped as its Conductor mapper maps it in the decision in which
// DoWhile fails the loop (DeciderService.decide, getNextTask,
// getTasksToBeScheduled; WorkflowExecutorOps.decide executes what is
// synchronous). No definition in conductor-oss's test-harness or e2e puts a
// permissive task in a loop (their "permissive" tasks are all false or
// outside loops), so these are written here.

// successorRun runs def and returns its view and its records by ref.
func successorRun(t *testing.T, h *harness, def string, input ...string) (*engine.Result, runView, map[string]taskView) {
	t.Helper()
	in := `{"list":["p","q"],"none":[],"st":"nope"}`
	if len(input) > 0 {
		in = input[0]
	}
	res := h.run(def, in)
	v := viewRun(t, h.e, res.RunID)
	return res, v, byRef(v.Tasks)
}

func refsStatuses(v runView) string {
	var got []string
	for _, tk := range v.Tasks {
		got = append(got, tk.Ref+":"+tk.TaskType+":"+tk.Status)
	}
	return strings.Join(got, " ")
}

// refStatuses is the run's records as "ref:status", in order.
func refStatuses(v runView) string {
	var got []string
	for _, tk := range v.Tasks {
		got = append(got, tk.Ref+":"+tk.Status)
	}
	return strings.Join(got, " ")
}

// checkFailedNaming checks that the run FAILED with a reason that names,
// by their task ids, the records of the refs in failed, in that order.
func checkFailedNaming(t *testing.T, res *engine.Result, v runView, failed ...string) {
	t.Helper()
	ids := map[string]string{}
	for _, tk := range v.Tasks {
		ids[tk.TaskID] = tk.Ref
	}
	var named []string
	for _, w := range strings.Fields(res.Reason) {
		if ref, ok := ids[w]; ok {
			named = append(named, ref)
		}
	}
	if res.Status != engine.StatusFailed || strings.Join(named, " ") != strings.Join(failed, " ") {
		t.Fatalf("run %s, reason %q names %v, want FAILED naming %v", res.Status, res.Reason, named, failed)
	}
}

// runFailing parses def and runs it n times on one engine with the
// default task registry: each run FAILS naming failed (checkFailedNaming),
// its records as refStatuses gives them; then check looks further at run i.
func runFailing(t *testing.T, def string, n int, records string, failed []string, check func(i int, v runView)) {
	t.Helper()
	h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
	d, err := h.e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		res := startRun(t, h.e, d, `{}`)
		v := viewRun(t, h.e, res.RunID)
		if got := refStatuses(v); got != records {
			t.Fatalf("run %d: tasks %s\nwant %s", i, got, records)
		}
		checkFailedNaming(t, res, v, failed...)
		check(i, v)
	}
}

func mustJSON(t *testing.T, v any, want string) {
	t.Helper()
	b, _ := json.Marshal(v)
	jsonEq(t, b, want)
}

const (
	succFail   = `{"name":"fail","taskReferenceName":"x","permissive":true,"retryCount":0,"inputParameters":{}}`
	succInline = `{"name":"i","taskReferenceName":"i","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}}`
)

func succLoop(attrs, body, after string) string {
	return `{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",` + attrs + `"loopCondition":"$.loop['iteration'] < 2","loopOver":[` + body + `]}` +
		after + `]}`
}

const succAfter = `,{"name":"echo","taskReferenceName":"after","inputParameters":{}}`

// DynamicTaskMapper: the successor is the task inputParameters
// [dynamicTaskNameParam] names, its taskType that name, its input the
// resolved inputParameters; a synchronous one (INLINE) is executed by the
// decider, a worker task is SCHEDULED and never starts. A name it cannot
// map (its input has no name) throws TerminateWorkflowException in that
// decision: the run FAILS with the mapper's reason before DoWhile runs, the
// loop is cancelled IN_PROGRESS with its iteration's output not recorded.
// Beside a permissive loop the successor is recorded in that decision,
// before the task after the loop, and runs.
func TestDoWhileDynamicSuccessor(t *testing.T) {
	dyn := func(name, extra string) string {
		return `{"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn",` + extra + `
		  "inputParameters":{"tn":"` + name + `","evaluatorType":"javascript","expression":"7","v":1}}`
	}
	toWorker := dyn("echo", `"taskDefinition":{"name":"echo"},`)

	t.Run("INLINE", func(t *testing.T) {
		h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
		res, v, recs := successorRun(t, h, succLoop("", succFail+`,`+dyn("INLINE", ""), succAfter))
		if got := refsStatuses(v); got != "loop:DO_WHILE:FAILED x__1:fail:FAILED d__1:INLINE:COMPLETED" {
			t.Fatalf("tasks %s", got)
		}
		d := recs["d__1"]
		if d.Iteration != 1 || d.Output["result"] != float64(7) || d.Input["tn"] != "INLINE" {
			t.Fatalf("d__1 %+v", d)
		}
		if want := "Task " + v.Tasks[0].TaskID + " failed with status: FAILED and reason: 'worker says no to {} '"; res.Reason != want {
			t.Fatalf("reason %q", res.Reason)
		}
	})
	t.Run("a worker task", func(t *testing.T) {
		h := newHarness(t, nil)
		_, v, recs := successorRun(t, h, succLoop("", succFail+`,`+toWorker, succAfter))
		if got := refsStatuses(v); got != "loop:DO_WHILE:FAILED x__1:fail:FAILED d__1:echo:CANCELED" {
			t.Fatalf("tasks %s", got)
		}
		mustJSON(t, recs["d__1"].Input, `{"tn":"echo","evaluatorType":"javascript","expression":"7","v":1}`)
		if n := h.calls["echo"].Load(); n != 0 {
			t.Fatalf("echo ran %d times", n)
		}
	})
	t.Run("a name it cannot map", func(t *testing.T) {
		h := newHarness(t, nil)
		unnamed := `{"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn","inputParameters":{}}`
		res, v, recs := successorRun(t, h, succLoop("", succFail+`,`+unnamed, succAfter))
		if got := refsStatuses(v); got != "loop:DO_WHILE:CANCELED x__1:fail:FAILED" {
			t.Fatalf("tasks %s", got)
		}
		if res.Status != engine.StatusFailed || res.Reason != "Cannot map a dynamic task based on the parameter and input. Parameter= tn, input= {}" {
			t.Fatalf("run %s %q", res.Status, res.Reason)
		}
		mustJSON(t, recs["loop"].Output, `{"iteration":1}`)
	})
	t.Run("beside a permissive loop", func(t *testing.T) {
		h := newHarness(t, nil)
		for range 10 {
			_, v, recs := successorRun(t, h, succLoop(`"permissive":true,`, succFail+`,`+toWorker, succAfter))
			if got := refsStatuses(v); got != "loop:DO_WHILE:FAILED x__1:fail:FAILED d__1:echo:COMPLETED after:echo:COMPLETED" {
				t.Fatalf("tasks %s", got)
			}
			if d := recs["d__1"]; d.Output["echo"] == nil {
				t.Fatalf("d__1 %+v", d)
			}
		}
	})
}

// A DO_WHILE successor over items (DoWhileTaskMapper, then DoWhile.execute
// with no task yet): iteration 1 with loopItem (the first item) and
// loopIndex 0 in its output, which its first task's input reads; an empty
// list completes the loop with iteration 0 and schedules nothing.
func TestDoWhileSuccessorOverItems(t *testing.T) {
	inner := func(items string) string {
		return `{"name":"inner","taskReferenceName":"inner","type":"DO_WHILE","items":` + items + `,"loopCondition":"true",
		  "loopOver":[{"name":"echo","taskReferenceName":"e","inputParameters":{"it":"${inner.output.loopItem}","ix":"${inner.output.loopIndex}"}}]}`
	}
	t.Run("two items", func(t *testing.T) {
		h := newHarness(t, nil)
		_, v, recs := successorRun(t, h, succLoop("", succFail+`,`+inner(`"${workflow.input.list}"`), succAfter))
		if got := refsStatuses(v); got != "loop:DO_WHILE:FAILED x__1:fail:FAILED inner__1:DO_WHILE:CANCELED e__1__1:echo:CANCELED" {
			t.Fatalf("tasks %s", got)
		}
		in := recs["inner__1"]
		if in.Iteration != 1 {
			t.Fatalf("inner__1 %+v", in)
		}
		mustJSON(t, in.Output, `{"iteration":1,"loopItem":"p","loopIndex":0}`)
		mustJSON(t, recs["e__1__1"].Input, `{"it":"p","ix":0}`)
	})
	t.Run("no items", func(t *testing.T) {
		h := newHarness(t, nil)
		_, v, recs := successorRun(t, h, succLoop("", succFail+`,`+inner(`"${workflow.input.none}"`), succAfter))
		if got := refsStatuses(v); got != "loop:DO_WHILE:FAILED x__1:fail:FAILED inner__1:DO_WHILE:COMPLETED" {
			t.Fatalf("tasks %s", got)
		}
		mustJSON(t, recs["inner__1"].Output, `{"iteration":0}`)
	})
	// The failed loop over items itself: its iteration's output keeps
	// loopItem and loopIndex, the successor reads them, no next item runs.
	t.Run("the failed loop over items", func(t *testing.T) {
		h := newHarness(t, nil)
		echo := `{"name":"echo","taskReferenceName":"e","inputParameters":{"it":"${loop.output.loopItem}"}}`
		_, v, recs := successorRun(t, h, succLoop(`"items":"${workflow.input.list}",`, succFail+`,`+echo, succAfter))
		if got := refsStatuses(v); got != "loop:DO_WHILE:FAILED x__1:fail:FAILED e__1:echo:CANCELED" {
			t.Fatalf("tasks %s", got)
		}
		mustJSON(t, recs["loop"].Output, `{"iteration":1,"loopItem":"p","loopIndex":0,"1":{"x":{}}}`)
		mustJSON(t, recs["e__1"].Input, `{"it":"p"}`)
	})
}

// A DO_WHILE successor whose first loop-over task is an operator:
// DoWhile.execute maps it through scheduleNextIteration
// (getTasksToBeScheduled) and nothing it brings is executed in that
// decision: a SWITCH is IN_PROGRESS with its case evaluated (its mapper
// evaluates it) and its case's first task SCHEDULED, even an INLINE; a fork
// is its FORK (COMPLETED), each branch's first task and its JOIN; a nested
// DO_WHILE is IN_PROGRESS with no task of its own; a DYNAMIC is the task it
// names. The next decision fails the run and cancels what has not ended.
func TestDoWhileSuccessorLoopStartingWithAnOperator(t *testing.T) {
	inner := func(first string) string {
		return `{"name":"inner","taskReferenceName":"inner","type":"DO_WHILE","loopCondition":"false","loopOver":[` + first + `,` + succInline + `]}`
	}
	sw := `{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","expression":"k","inputParameters":{"k":"a"},
	  "decisionCases":{"a":[{"name":"j2","taskReferenceName":"c","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"2"}}]}}`
	fork := `{"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[
	    [{"name":"j2","taskReferenceName":"c","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"2"}}],
	    [{"name":"echo","taskReferenceName":"b","inputParameters":{}}]]},
	  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["c","b"]}`
	nested := `{"name":"deep","taskReferenceName":"deep","type":"DO_WHILE","loopCondition":"false","loopOver":[
	  {"name":"k","taskReferenceName":"k","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"3"}}]}`
	dyn := `{"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn","inputParameters":{"tn":"INLINE","evaluatorType":"javascript","expression":"7"}}`
	cases := []struct {
		name, first, tasks string
	}{
		{"a SWITCH", sw, "s__1__1:SWITCH:CANCELED c__1__1:INLINE:CANCELED"},
		{"a FORK_JOIN", fork, "f__1__1:FORK:COMPLETED c__1__1:INLINE:CANCELED b__1__1:echo:CANCELED j__1__1:JOIN:CANCELED"},
		{"a DO_WHILE", nested, "deep__1__1:DO_WHILE:CANCELED"},
		{"a DYNAMIC", dyn, "d__1__1:INLINE:CANCELED"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
			res, v, recs := successorRun(t, h, succLoop("", succFail+`,`+inner(c.first), succAfter))
			want := "loop:DO_WHILE:FAILED x__1:fail:FAILED inner__1:DO_WHILE:CANCELED " + c.tasks
			if got := refsStatuses(v); got != want {
				t.Fatalf("tasks %s\nwant  %s", got, want)
			}
			if want := "Task " + v.Tasks[0].TaskID + " failed with status: FAILED and reason: 'worker says no to {} '"; res.Reason != want {
				t.Fatalf("reason %q", res.Reason)
			}
			mustJSON(t, recs["inner__1"].Output, `{"iteration":1}`)
			for _, tk := range v.Tasks[3:] {
				if tk.Iteration != 1 {
					t.Fatalf("%s iteration %d", tk.Ref, tk.Iteration)
				}
				if tk.TaskType == "INLINE" && len(tk.Output) != 0 {
					t.Fatalf("%s executed: %v", tk.Ref, tk.Output)
				}
			}
			if s, ok := recs["s__1__1"]; ok {
				mustJSON(t, s.Input, `{"k":"a","case":"a","hasChildren":"true"}`)
				mustJSON(t, s.Output, `{"evaluationResult":["a"],"selectedCase":"a"}`)
			}
			if j, ok := recs["j__1__1"]; ok {
				mustJSON(t, j.Input, `{"joinOn":["c","b"]}`)
			}
			if n := h.calls["echo"].Load(); n != 0 {
				t.Fatalf("echo ran %d times", n)
			}
		})
	}
}

// The first task of a DO_WHILE successor whose mapper fails, as
// scheduleNextIteration maps it after the failed loop was judged in that
// decision: a SWITCH whose expression throws is recorded FAILED with the
// evaluator's message (SwitchTaskMapper catches it) and the run fails with
// the loop's reason; a DYNAMIC whose input names no task throws
// (DynamicTaskMapper), and the decision fails the run with its reason.
func TestDoWhileSuccessorLoopWhoseFirstTaskCannotBeMapped(t *testing.T) {
	inner := func(first string) string {
		return `{"name":"inner","taskReferenceName":"inner","type":"DO_WHILE","loopCondition":"false","loopOver":[` + first + `]}`
	}
	sw := `{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"javascript","expression":"$.a.b.c","inputParameters":{"a":null},
	  "decisionCases":{"a":[` + succInline + `]}}`
	dyn := `{"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn","inputParameters":{}}`

	h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
	res, v, recs := successorRun(t, h, succLoop("", succFail+`,`+inner(sw), succAfter))
	if got := refsStatuses(v); got != "loop:DO_WHILE:FAILED x__1:fail:FAILED inner__1:DO_WHILE:CANCELED s__1__1:SWITCH:FAILED" {
		t.Fatalf("tasks %s", got)
	}
	if s := recs["s__1__1"]; s.Reason == "" || strings.HasPrefix(s.Reason, "expression: ") {
		t.Fatalf("SWITCH reason %q", s.Reason)
	}
	if want := "Task " + v.Tasks[0].TaskID + " failed with status: FAILED and reason: 'worker says no to {} '"; res.Reason != want {
		t.Fatalf("reason %q", res.Reason)
	}

	res, v, _ = successorRun(t, h, succLoop("", succFail+`,`+inner(dyn), succAfter))
	if got := refsStatuses(v); got != "loop:DO_WHILE:FAILED x__1:fail:FAILED inner__1:DO_WHILE:CANCELED" {
		t.Fatalf("tasks %s", got)
	}
	if res.Status != engine.StatusFailed || res.Reason != "Cannot map a dynamic task based on the parameter and input. Parameter= tn, input= {}" {
		t.Fatalf("run %s %q", res.Status, res.Reason)
	}
}

// A TERMINATE successor: TerminateTaskMapper maps it and the decider
// executes it (Terminate.execute: COMPLETED, its output workflowOutput, a
// value other than a map as {"output": value}, {} when absent). The run's
// output is then that output whatever the outputParameters, as
// updateWorkflowOutput takes a completed TERMINATE's. The run fails with
// the loop's reason (the next decision's retry() of the loop); when the
// loop is permissive or optional that decision schedules the task after the
// loop but, a TERMINATE having completed, fails the run naming the
// permissive tasks that did not succeed before it returns: nothing after
// the loop is recorded. A TERMINATE that fails (a termination status it
// does not know) fails the run with its own failure there.
func TestDoWhileTerminateSuccessorOutput(t *testing.T) {
	term := func(in string) string {
		return `{"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":` + in + `}`
	}
	withOut := func(def string) string {
		return def[:len(def)-1] + `,"outputParameters":{"o":"${x__1.output}","z":1}}`
	}
	cases := []struct {
		name, def, tasks, termOut, runOut string
		failed                            []string // the tasks the run's reason names
	}{
		{"workflowOutput a map", withOut(succLoop("", succFail+`,`+term(`{"terminationStatus":"COMPLETED","workflowOutput":{"stopped":true}}`), succAfter)),
			"loop:FAILED x__1:FAILED t__1:COMPLETED", `{"stopped":true}`, `{"stopped":true}`, []string{"loop"}},
		{"no workflowOutput", withOut(succLoop("", succFail+`,`+term(`{"terminationStatus":"TERMINATED"}`), succAfter)),
			"loop:FAILED x__1:FAILED t__1:COMPLETED", `{}`, `{}`, []string{"loop"}},
		{"workflowOutput a string", withOut(succLoop("", succFail+`,`+term(`{"terminationStatus":"FAILED","terminationReason":"why","workflowOutput":"s"}`), succAfter)),
			"loop:FAILED x__1:FAILED t__1:COMPLETED", `{"output":"s"}`, `{"output":"s"}`, []string{"loop"}},
		{"a permissive loop", withOut(succLoop(`"permissive":true,`, succFail+`,`+term(`{"terminationStatus":"COMPLETED","workflowOutput":{"stopped":true}}`)+`,`+succInline, succAfter)),
			"loop:FAILED x__1:FAILED t__1:COMPLETED", `{"stopped":true}`, `{"stopped":true}`, []string{"loop", "x__1"}},
		{"an optional loop", succLoop(`"optional":true,`, succFail+`,`+term(`{"terminationStatus":"COMPLETED"}`), succAfter),
			"loop:COMPLETED_WITH_ERRORS x__1:FAILED t__1:COMPLETED", `{}`, `{}`, []string{"x__1"}},
		{"a permissive loop, the TERMINATE failing", succLoop(`"permissive":true,`, succFail+`,`+term(`{"terminationStatus":"${workflow.input.st}"}`), succAfter),
			"loop:FAILED x__1:FAILED t__1:FAILED", ``, ``, []string{"t__1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
			res, v, recs := successorRun(t, h, c.def)
			if got := refStatuses(v); got != c.tasks {
				t.Fatalf("tasks %s, want %s", got, c.tasks)
			}
			checkFailedNaming(t, res, v, c.failed...)
			if c.termOut != "" {
				mustJSON(t, recs["t__1"].Output, c.termOut)
				jsonEq(t, res.Output, c.runOut)
				mustJSON(t, v.Output, c.runOut)
			}
			if n := h.calls["echo"].Load(); n != 0 {
				t.Fatalf("echo ran %d times: nothing after the loop is scheduled", n)
			}
		})
	}
}

// Outside a loop too, a completed TERMINATE's output is the run's output
// (updateWorkflowOutput): {} when it has no workflowOutput, not the
// outputParameters.
func TestTerminateWithoutWorkflowOutputIsTheRunsOutput(t *testing.T) {
	h := newHarness(t, nil)
	res, _, _ := successorRun(t, h, `{"name":"w","tasks":[{"name":"echo","taskReferenceName":"e","inputParameters":{"k":1}},
	  {"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":{"terminationStatus":"COMPLETED"}}],
	  "outputParameters":{"o":"${e.output}"}}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("run %s %q", res.Status, res.Reason)
	}
	jsonEq(t, res.Output, `{}`)
}

// A permissive task failing in a fork branch inside an iteration:
// DoWhile.execute walks the iteration's tasks in the order they were
// scheduled — the FORK, each branch's first task, the JOIN, then the
// failed branch's next tasks — and stops after the first unsuccessful one,
// so the iteration's output holds the other branch's task and the JOIN
// (still running: their output as it stands), not only the failed
// branch's tasks.
func TestDoWhileForkBranchFailureIterationOutput(t *testing.T) {
	hold := func(ctx context.Context, _ engine.RemoteTask) tasks.Result {
		<-ctx.Done()
		return tasks.Result{Status: tasks.Failed, Reason: "cancelled"}
	}
	def := succLoop("", `{"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[
	    [{"name":"echo","taskReferenceName":"a","inputParameters":{}},
	     {"name":"fail","taskReferenceName":"x","permissive":true,"retryCount":0,"inputParameters":{}},
	     {"name":"hold","taskReferenceName":"y"}],
	    [{"name":"hold","taskReferenceName":"b"}]]},
	  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["y","b"]}`, "")
	for range 10 {
		h := newHarness(t, nil, engine.WithRemoteWorker(hold))
		_, v, recs := successorRun(t, h, def)
		checkTasks(t, v.Tasks, "DO_WHILE:FAILED", "FORK:COMPLETED", "echo:COMPLETED", "hold:CANCELED", "JOIN:CANCELED", "fail:FAILED", "hold:CANCELED")
		mustJSON(t, recs["loop"].Output, `{"iteration":1,"1":{"f":{},"a":{"echo":{}},"b":{},"j":{},"x":{}}}`)
	}
}

// A permissive or optional loop whose iteration fails in a fork branch
// lets the run go on past it (DeciderService.decide lines 216-235) while
// the iteration goes on: the decision that sees the failed task schedules
// its successor in the branch and DoWhile fails the loop (its output taken
// then); the next one schedules the task after the loop; the branches run
// on, the JOIN completes on the tasks it joins (Join.execute: the failed
// task is not among them), the task after the JOIN follows, and the run
// then fails on the permissive tasks (lines 277-312).
func TestDoWhileForkBranchFailureInAPermissiveLoop(t *testing.T) {
	fork := `{"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[
	    [{"name":"echo","taskReferenceName":"a","inputParameters":{}},
	     {"name":"fail","taskReferenceName":"x","permissive":true,"retryCount":0,"inputParameters":{}},
	     {"name":"echo","taskReferenceName":"y","inputParameters":{}}],
	    [{"name":"echo","taskReferenceName":"b","inputParameters":{}}]]},
	  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["y","b"]},
	  {"name":"echo","taskReferenceName":"z","inputParameters":{}}`
	cases := []struct {
		name, attrs, loop string
		failed            []string
	}{
		{"permissive", `"permissive":true,`, "FAILED", []string{"loop", "x__1"}},
		{"optional", `"optional":true,`, "COMPLETED_WITH_ERRORS", []string{"x__1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			for range 10 {
				res, v, recs := successorRun(t, h, succLoop(c.attrs, fork, succAfter))
				want := map[string]string{"loop": c.loop, "f__1": "COMPLETED", "a__1": "COMPLETED", "b__1": "COMPLETED", "j__1": "COMPLETED",
					"x__1": "FAILED", "y__1": "COMPLETED", "z__1": "COMPLETED", "after": "COMPLETED"}
				if len(v.Tasks) != len(want) {
					t.Fatalf("tasks %s", refsStatuses(v))
				}
				for _, tk := range v.Tasks {
					if want[tk.Ref] != tk.Status {
						t.Fatalf("tasks %s", refsStatuses(v))
					}
				}
				// y__1 is scheduled with the loop's failure, the task after
				// the loop in the next decision.
				var order []string
				for _, tk := range v.Tasks {
					if tk.Ref == "y__1" || tk.Ref == "after" {
						order = append(order, tk.Ref)
					}
				}
				if strings.Join(order, " ") != "y__1 after" {
					t.Fatalf("tasks %s", refsStatuses(v))
				}
				if loop := recs["loop"]; loop.Iteration != 1 || loop.Reason != "worker says no to {} " || loop.Output["2"] != nil {
					t.Fatalf("loop %+v", loop)
				}
				if e, ok := recs["loop"].Output["1"].(map[string]any); !ok || e["x"] == nil || e["y"] != nil || e["z"] != nil {
					t.Fatalf("loop output %v", recs["loop"].Output)
				}
				mustJSON(t, recs["j__1"].Output, `{"y__1":{"echo":{}},"b__1":{"echo":{}}}`)
				checkFailedNaming(t, res, v, c.failed...)
			}
		})
	}
}

// DoWhileTest testExecute_EmptyItemsList_CompletesWithoutSchedulingIteration
// and its Orkes-compatible twin (_items): a loop over an empty list
// completes at once, its output iteration 0, no task scheduled.
func TestDoWhileEmptyItemsCompletesWithIterationZero(t *testing.T) {
	// Registration requires a loopCondition beside items (isDoWhileTaskValid);
	// a blank one leaves the list alone to decide.
	for _, items := range []string{`"loopCondition":"","items":"${workflow.input.itemList}",`, `"loopCondition":"","inputParameters":{"_items":"${workflow.input.itemList}"},`} {
		h := newHarness(t, nil)
		res, v, _ := successorRun(t, h, `{"name":"w","tasks":[{"name":"l","taskReferenceName":"l","type":"DO_WHILE",`+items+`
		  "loopOver":[{"name":"echo","taskReferenceName":"e","inputParameters":{}}]}]}`, `{"itemList":[]}`)
		if res.Status != engine.StatusCompleted || len(v.Tasks) != 1 || v.Tasks[0].Status != engine.TaskCompleted {
			t.Fatalf("run %s, tasks %s", res.Status, refsStatuses(v))
		}
		if got := v.Tasks[0].Output["iteration"]; got != float64(0) {
			t.Fatalf("loop output %v", v.Tasks[0].Output)
		}
	}
}
