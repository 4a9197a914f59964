package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// An unsuccessful loop-over task fails its DO_WHILE when the loop judges
// the iteration, as conductor-oss core/.../execution/tasks/DoWhile.java
// does (no definition in conductor-oss's test-harness or e2e puts a
// permissive task in a loop, so these are written here):
//   - lines 118-130: the iteration's latest attempts (highest retryCount,
//     lines 67-80) in order; the first whose status is not successful
//     (FAILED, FAILED_WITH_TERMINAL_ERROR, CANCELED, TIMED_OUT; not
//     COMPLETED_WITH_ERRORS) stops the walk, its reason and a space are the
//     loop's reason, and the iteration's output holds the tasks up to it;
//   - lines 131 and 147-154: that output is recorded, then the loop is
//     FAILED, its loopCondition not evaluated, iteration unchanged;
//   - DeciderService.java lines 216-235: only a permissive task's failure
//     reaches the loop (a plain one fails the run at once, retry() lines
//     580-603); an optional one, permissive or not, becomes
//     COMPLETED_WITH_ERRORS, which is successful, and a task with retries
//     left is retried, the retry being the attempt the loop judges;
//   - retry() again for the FAILED DO_WHILE (built in, not retried): the run
//     FAILS with "Task <loop id> failed with status: FAILED and reason:
//     '<reason> '", and nothing after the loop is scheduled.
//   - DeciderService lines 238-250: the decision that sees the permissive
//     task's failure schedules its successor in the iteration (b__1)
//     before DoWhile runs; it never starts (the next decision fails the
//     run) and is cancelled with the run: echo:CANCELED.
func TestDoWhileIterationWithUnsuccessfulTask(t *testing.T) {
	body := func(x string) string {
		return `{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",
		  "loopCondition":"$.loop['iteration'] < 2",
		  "loopOver":[{"name":"echo","taskReferenceName":"a","inputParameters":{"i":"${loop.output.iteration}"}},` + x + `,
		    {"name":"echo","taskReferenceName":"b","inputParameters":{"i":"${loop.output.iteration}"}}]},
		  {"name":"echo","taskReferenceName":"after","inputParameters":{}}],
		  "outputParameters":{"loop":"${loop.output}"}}`
	}
	// The child terminates itself: its SUB_WORKFLOW task ends CANCELED.
	cancelled := `{"name":"sub","taskReferenceName":"x","type":"SUB_WORKFLOW","permissive":true,
	  "subWorkflowParam":{"name":"child","workflowDefinition":{"name":"child","tasks":[
	    {"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":{"terminationStatus":"TERMINATED","terminationReason":"child gave up"}}]}}}`
	aOut := func(i int) string { return `"a":{"echo":{"i":` + string(rune('0'+i)) + `}}` }
	cases := []struct {
		name, x string
		// the loop's status, reason, iteration and output; the run's
		// status; the tasks (type:status) in order.
		loop, loopReason string
		iteration        int
		loopOut          string
		run              string
		tasks            []string
	}{
		{"permissive FAILED", `{"name":"fail","taskReferenceName":"x","permissive":true,"retryCount":0,"inputParameters":{"k":1}}`,
			"FAILED", `worker says no to {"k":1} `, 1,
			`{"iteration":1,"1":{` + aOut(1) + `,"x":{}}}`,
			"FAILED", []string{"DO_WHILE:FAILED", "echo:COMPLETED", "fail:FAILED", "echo:CANCELED"}},
		{"permissive FAILED_WITH_TERMINAL_ERROR", `{"name":"term","taskReferenceName":"x","permissive":true,
		  "taskDefinition":{"name":"term","retryCount":3,"retryDelaySeconds":0}}`,
			"FAILED", `terminal for x__1 `, 1,
			`{"iteration":1,"1":{` + aOut(1) + `,"x":{}}}`,
			"FAILED", []string{"DO_WHILE:FAILED", "echo:COMPLETED", "term:FAILED_WITH_TERMINAL_ERROR", "echo:CANCELED"}},
		{"permissive CANCELED", cancelled,
			"FAILED", `Sub workflow ID failure reason: child gave up `, 1,
			"", "FAILED", []string{"DO_WHILE:FAILED", "echo:COMPLETED", "SUB_WORKFLOW:CANCELED", "echo:CANCELED"}},
		{"optional FAILED", `{"name":"fail","taskReferenceName":"x","optional":true,"retryCount":0,"inputParameters":{"k":1}}`,
			"COMPLETED", "", 2, "", "COMPLETED",
			[]string{"DO_WHILE:COMPLETED", "echo:COMPLETED", "fail:COMPLETED_WITH_ERRORS", "echo:COMPLETED",
				"echo:COMPLETED", "fail:COMPLETED_WITH_ERRORS", "echo:COMPLETED", "echo:COMPLETED"}},
		{"permissive and optional FAILED", `{"name":"fail","taskReferenceName":"x","optional":true,"permissive":true,"retryCount":0,"inputParameters":{"k":1}}`,
			"COMPLETED", "", 2, "", "COMPLETED",
			[]string{"DO_WHILE:COMPLETED", "echo:COMPLETED", "fail:COMPLETED_WITH_ERRORS", "echo:COMPLETED",
				"echo:COMPLETED", "fail:COMPLETED_WITH_ERRORS", "echo:COMPLETED", "echo:COMPLETED"}},
		// flaky fails twice, then succeeds: the retry is what the loop judges.
		{"permissive FAILED with retries left", `{"name":"flaky","taskReferenceName":"x","permissive":true,
		  "taskDefinition":{"name":"flaky","retryCount":2,"retryDelaySeconds":0}}`,
			"COMPLETED", "", 2, "", "COMPLETED",
			[]string{"DO_WHILE:COMPLETED", "echo:COMPLETED", "flaky:FAILED", "flaky:FAILED", "flaky:COMPLETED", "echo:COMPLETED",
				"echo:COMPLETED", "flaky:COMPLETED", "echo:COMPLETED", "echo:COMPLETED"}},
		{"permissive FAILED after its retries", `{"name":"fail","taskReferenceName":"x","permissive":true,"inputParameters":{"k":1},
		  "taskDefinition":{"name":"fail","retryCount":1,"retryDelaySeconds":0}}`,
			"FAILED", `worker says no to {"k":1} `, 1,
			`{"iteration":1,"1":{` + aOut(1) + `,"x":{}}}`,
			"FAILED", []string{"DO_WHILE:FAILED", "echo:COMPLETED", "fail:FAILED", "fail:FAILED", "echo:CANCELED"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil, engine.WithRemoteWorker(func(_ context.Context, rt engine.RemoteTask) tasks.Result {
				return tasks.Result{Status: tasks.FailedTerminal, Reason: "terminal for " + rt.Ref}
			}))
			res := h.run(body(c.x), `{}`)
			v := viewRun(t, h.e, res.RunID)
			checkTasks(t, v.Tasks, c.tasks...)
			loop := v.Tasks[0]
			if loop.Status != c.loop || stripIDs(loop.Reason) != stripIDs(c.loopReason) && stripChild(loop.Reason) != c.loopReason || loop.Iteration != c.iteration {
				t.Fatalf("loop %s %q iteration %d, want %s %q %d", loop.Status, loop.Reason, loop.Iteration, c.loop, c.loopReason, c.iteration)
			}
			if got := loop.Output["iteration"]; got != float64(c.iteration) {
				t.Fatalf("loop output iteration %v", got)
			}
			if _, ok := loop.Output["2"]; ok != (c.iteration == 2) {
				t.Fatalf("loop output %v", loop.Output)
			}
			if c.loopOut != "" {
				b, _ := json.Marshal(loop.Output)
				jsonEq(t, b, c.loopOut)
			}
			if res.Status != c.run || v.Status != c.run {
				t.Fatalf("run %s (%s), want %s", res.Status, v.Status, c.run)
			}
			if c.run == "FAILED" {
				want := "Task " + loop.TaskID + " failed with status: FAILED and reason: '" + loop.Reason + "'"
				if res.Reason != want {
					t.Fatalf("run reason %q, want %q", res.Reason, want)
				}
			}
			if n := h.calls["echo"].Load(); c.run == "FAILED" && n != 1 {
				t.Fatalf("echo ran %d times: b and the task after the loop must not run", n)
			}
		})
	}
}

// stripChild replaces the child run ("name.version/id") in "Sub workflow
// <child> failure reason: ..." by ID.
func stripChild(s string) string {
	if rest, ok := strings.CutPrefix(s, "Sub workflow "); ok {
		if i := strings.IndexByte(rest, ' '); i > 0 {
			return "Sub workflow ID" + rest[i:]
		}
	}
	return s
}

// The failed DO_WHILE is then judged like any task (DeciderService lines
// 216-235, and 277-312 when the run would complete): a permissive loop
// lets the run go on past it, which then fails naming the loop and the
// task; an optional one becomes COMPLETED_WITH_ERRORS (the permissive task
// inside still fails the run at its end). Inside another loop, the outer
// one, whose DoWhile.execute walks every task under it of its iteration
// and runs first, fails on the same task with the same reason
// (TestDoWhileFailureInANestedLoop).
func TestDoWhileFailedByItsIterationIsJudgedAsATask(t *testing.T) {
	inner := `"loopCondition":"$.loop['iteration'] < 2","loopOver":[{"name":"fail","taskReferenceName":"x","permissive":true,"retryCount":0,"inputParameters":{}}]`
	after := `{"name":"echo","taskReferenceName":"after","inputParameters":{}}`
	cases := []struct {
		name, def string
		tasks     []string // ref:status:reason
		failed    []string // the tasks the run's reason names, in order
	}{
		{"permissive loop", `{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","permissive":true,` + inner + `},` + after + `]}`,
			[]string{"loop:FAILED:worker says no to {} ", "x__1:FAILED:worker says no to {}", "after:COMPLETED:"}, []string{"loop", "x__1"}},
		{"optional loop", `{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","optional":true,` + inner + `},` + after + `]}`,
			[]string{"loop:COMPLETED_WITH_ERRORS:worker says no to {} ", "x__1:FAILED:worker says no to {}", "after:COMPLETED:"}, []string{"x__1"}},
		{"loop in a loop", `{"name":"w","tasks":[{"name":"outer","taskReferenceName":"outer","type":"DO_WHILE","loopCondition":"$.outer['iteration'] < 2",
		  "loopOver":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","permissive":true,` + inner + `}]},` + after + `]}`,
			[]string{"outer:FAILED:worker says no to {} ", "loop__1:FAILED:worker says no to {} ", "x__1__1:FAILED:worker says no to {}"}, []string{"outer"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			res := h.run(c.def, `{}`)
			v := viewRun(t, h.e, res.RunID)
			var got []string
			for _, tk := range v.Tasks {
				got = append(got, tk.Ref+":"+tk.Status+":"+tk.Reason)
			}
			if strings.Join(got, "|") != strings.Join(c.tasks, "|") {
				t.Fatalf("tasks %q, want %q", got, c.tasks)
			}
			checkFailedNaming(t, res, v, c.failed...)
		})
	}
}

// stripIDs replaces the task and run ids (UUIDs) a reason names by "ID".
func stripIDs(s string) string {
	f := strings.Fields(s)
	for i, w := range f {
		if strings.Count(w, "-") == 4 && len(w) >= 36 {
			f[i] = "ID"
		}
	}
	return strings.Join(f, " ")
}

// A permissive or optional DO_WHILE failed by its iteration lets the run
// go on (DeciderService.decide lines 216-235), and the rest of the failed
// iteration runs beside the tasks after the loop: the decision that fails
// the loop schedules the failed task's successor (lines 238-250), the next
// one the task after the loop, and each task of the rest, when it ends,
// schedules its own successor in the iteration (getNextTask,
// filterNextLoopOverTasks) up to the loop itself, which schedules nothing
// more. The run then fails on the permissive tasks (lines 277-312).
func TestDoWhileRestOfAFailedIterationRunsBeside(t *testing.T) {
	x := `{"name":"fail","taskReferenceName":"x","permissive":true,"retryCount":0,"inputParameters":{}}`
	b := `{"name":"echo","taskReferenceName":"b","inputParameters":{"k":"b"}}`
	c := `{"name":"c","taskReferenceName":"c","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"3"}}`
	sw := func(tasks string) string {
		return `{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","expression":"k","inputParameters":{"k":"a"},
		  "decisionCases":{"a":[` + tasks + `]}}`
	}
	def := func(kind, body string) string {
		return `{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",` + kind + `:true,
		  "loopCondition":"$.loop['iteration'] < 3","loopOver":[` + body + `]},
		  {"name":"echo","taskReferenceName":"after","inputParameters":{"k":"after"}}]}`
	}
	cases := []struct {
		name, def string
		tasks     []string // ref:status
		failed    []string // the tasks the run's reason names
	}{
		{"permissive loop", def(`"permissive"`, x+`,`+b+`,`+c),
			[]string{"loop:FAILED", "x__1:FAILED", "b__1:COMPLETED", "after:COMPLETED", "c__1:COMPLETED"}, []string{"loop", "x__1"}},
		{"optional loop", def(`"optional"`, x+`,`+b+`,`+c),
			[]string{"loop:COMPLETED_WITH_ERRORS", "x__1:FAILED", "b__1:COMPLETED", "after:COMPLETED", "c__1:COMPLETED"}, []string{"x__1"}},
		// The successor a synchronous task: executed with the loop's
		// failure, before the task after the loop is scheduled.
		{"synchronous successor", def(`"permissive"`, x+`,`+c+`,`+b),
			[]string{"loop:FAILED", "x__1:FAILED", "c__1:COMPLETED", "after:COMPLETED", "b__1:COMPLETED"}, []string{"loop", "x__1"}},
		// In a SWITCH case: the rest of the case, then the rest of the
		// iteration after the SWITCH.
		{"in a SWITCH case", def(`"permissive"`, sw(x+`,`+b)+`,`+c),
			[]string{"loop:FAILED", "s__1:COMPLETED", "x__1:FAILED", "b__1:COMPLETED", "after:COMPLETED", "c__1:COMPLETED"}, []string{"loop", "x__1"}},
		// A permissive task failing in the rest: the rest goes on past it
		// (the loop, failed already, is not judged again), and the run
		// names it too.
		{"a permissive task failing in the rest", def(`"permissive"`, x+`,`+b+`,`+strings.ReplaceAll(x, `"x"`, `"x2"`)+`,`+c),
			[]string{"loop:FAILED", "x__1:FAILED", "b__1:COMPLETED", "after:COMPLETED", "x2__1:FAILED", "c__1:COMPLETED"}, []string{"loop", "x__1", "x2__1"}},
		// Nothing after the loop: the rest runs before the run ends.
		{"the last task", `{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","permissive":true,
		  "loopCondition":"true","loopOver":[` + x + `,` + b + `,` + c + `]}]}`,
			[]string{"loop:FAILED", "x__1:FAILED", "b__1:COMPLETED", "c__1:COMPLETED"}, []string{"loop", "x__1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runFailing(t, c.def, 20, strings.Join(c.tasks, " "), c.failed, func(i int, v runView) {
				if loop := v.Tasks[0]; loop.Iteration != 1 || loop.Output["2"] != nil {
					t.Fatalf("run %d: loop %+v: no iteration after the failed one", i, loop)
				}
			})
		})
	}
}
