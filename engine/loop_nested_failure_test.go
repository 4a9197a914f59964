package engine_test

import (
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// A permissive task failing in the iteration of a DO_WHILE (i) that runs
// in the iteration of another (o). Conductor's DoWhile.execute of o walks
// every task under o of its iteration, at any depth, and o comes before i
// in the run's tasks: in the decision that sees the task fail, o fails
// first with the task's reason and a space, then i with the same, and the
// task's successor in i's iteration is scheduled (a synchronous one
// executed). The next decision's retry() walks them in the run's order:
// the first loop that is neither permissive nor optional fails the run
// with its reason (nothing more is scheduled, the waiting successor is
// cancelled); an optional one becomes COMPLETED_WITH_ERRORS; past a
// permissive or optional one the decider schedules its next task — the
// task after o, then the task after i in o's iteration — and the rest of
// i's iteration runs on, each task scheduling the next (getNextTask,
// filterNextLoopOverTasks). The run then fails naming the permissive
// tasks that did not succeed. (Conductor names i's tasks with i's
// iteration only, x__1; wfrun with both, x__1__1.)
func TestDoWhileFailureInANestedLoop(t *testing.T) {
	x := `{"name":"fail","taskReferenceName":"x","permissive":true,"retryCount":0,"inputParameters":{}}`
	b := `{"name":"echo","taskReferenceName":"b","inputParameters":{"k":"b"}}`
	c := `{"name":"c","taskReferenceName":"c","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"3"}}`
	def := func(outer, inner, body string) string {
		return `{"name":"w","tasks":[{"name":"o","taskReferenceName":"o","type":"DO_WHILE",` + outer + `"loopCondition":"false","loopOver":[
		  {"name":"i","taskReferenceName":"i","type":"DO_WHILE",` + inner + `"loopCondition":"false","loopOver":[` + body + `]},
		  {"name":"echo","taskReferenceName":"z","inputParameters":{"k":"z"}}]},
		  {"name":"echo","taskReferenceName":"after","inputParameters":{"k":"after"}}]}`
	}
	const perm, opt = `"permissive":true,`, `"optional":true,`
	cases := []struct {
		name, def string
		tasks     string
		failed    []string // the tasks the run's reason names
	}{
		{"in a plain loop", def("", perm, x+`,`+c+`,`+b),
			"o:FAILED i__1:FAILED x__1__1:FAILED c__1__1:COMPLETED", []string{"o"}},
		{"in a plain loop, a worker successor", def("", perm, x+`,`+b+`,`+c),
			"o:FAILED i__1:FAILED x__1__1:FAILED b__1__1:CANCELED", []string{"o"}},
		{"in a permissive loop", def(perm, perm, x+`,`+c+`,`+b),
			"o:FAILED i__1:FAILED x__1__1:FAILED c__1__1:COMPLETED after:COMPLETED z__1:COMPLETED b__1__1:COMPLETED", []string{"o", "i__1", "x__1__1"}},
		{"in a permissive loop, a worker successor", def(perm, perm, x+`,`+b+`,`+c),
			"o:FAILED i__1:FAILED x__1__1:FAILED b__1__1:COMPLETED after:COMPLETED z__1:COMPLETED c__1__1:COMPLETED", []string{"o", "i__1", "x__1__1"}},
		{"in an optional loop", def(opt, perm, x+`,`+b+`,`+c),
			"o:COMPLETED_WITH_ERRORS i__1:FAILED x__1__1:FAILED b__1__1:COMPLETED after:COMPLETED z__1:COMPLETED c__1__1:COMPLETED", []string{"i__1", "x__1__1"}},
		{"an optional loop in a permissive one", def(perm, opt, x+`,`+b+`,`+c),
			"o:FAILED i__1:COMPLETED_WITH_ERRORS x__1__1:FAILED b__1__1:COMPLETED after:COMPLETED z__1:COMPLETED c__1__1:COMPLETED", []string{"o", "x__1__1"}},
		{"a plain loop in a permissive one", def(perm, "", x+`,`+b+`,`+c),
			"o:FAILED i__1:FAILED x__1__1:FAILED b__1__1:CANCELED", []string{"i__1"}},
		{"a plain loop in a plain one", def("", "", x+`,`+b+`,`+c),
			"o:FAILED i__1:FAILED x__1__1:FAILED b__1__1:CANCELED", []string{"o"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			runFailing(t, c.def, 10, c.tasks, c.failed, func(n int, v runView) {
				// Both loops fail with the task's reason and one space.
				for _, tk := range v.Tasks[:2] {
					if tk.Reason != "worker says no to {} " {
						t.Fatalf("run %d: %s reason %q", n, tk.Ref, tk.Reason)
					}
				}
			})
		})
	}
}

// The same in a fork branch of a permissive loop's iteration: the outer
// loop fails on the task itself (one space); the JOIN, on the failed
// permissive inner loop, fails the run once the fork's other branch has
// ended (Join.execute), whatever else then runs.
func TestDoWhileFailureInANestedLoopInAForkBranch(t *testing.T) {
	def := `{"name":"w","tasks":[{"name":"o","taskReferenceName":"o","type":"DO_WHILE","permissive":true,"loopCondition":"false","loopOver":[
	  {"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[
	    [{"name":"i","taskReferenceName":"i","type":"DO_WHILE","permissive":true,"loopCondition":"false","loopOver":[
	      {"name":"fail","taskReferenceName":"x","permissive":true,"retryCount":0,"inputParameters":{}},
	      {"name":"echo","taskReferenceName":"b","inputParameters":{"k":"b"}}]}],
	    [{"name":"echo","taskReferenceName":"e2","inputParameters":{}}]]},
	  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["i","e2"]}]},
	  {"name":"echo","taskReferenceName":"after","inputParameters":{"k":"after"}}]}`
	h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
	for n := range 10 {
		res := h.run(def, `{}`)
		v := viewRun(t, h.e, res.RunID)
		recs := byRef(v.Tasks)
		if res.Status != engine.StatusFailed || recs["j__1"].Status != engine.TaskFailed {
			t.Fatalf("run %d: %s %q, tasks %+v", n, res.Status, res.Reason, v.Tasks)
		}
		for _, ref := range []string{"o", "i__1"} {
			if tk := recs[ref]; tk.Status != engine.TaskFailed || tk.Reason != "worker says no to {} " {
				t.Fatalf("run %d: %s %s %q", n, ref, tk.Status, tk.Reason)
			}
		}
	}
}

// The permissive task failing in the inner loop's second iteration, the
// outer loop in its first. Conductor's DoWhile.execute of the outer loop
// counts only the tasks whose iteration is its own (1): not the failed
// task (2) nor the inner loop, whose iteration is 2 by then. So the outer
// loop stays IN_PROGRESS, the inner one fails with the task's reason and a
// space, and the next decision's retry() fails the run naming the inner
// loop; the outer loop and the inner iteration's waiting successor are
// cancelled with the run. (A permissive inner loop is left out: there
// Conductor's outer loop never sees its iteration complete, the inner loop
// being none of its iteration's tasks, and the run does not end.)
func TestDoWhileFailureInANestedLoopsSecondIteration(t *testing.T) {
	def := func(outer string) string {
		return `{"name":"w","tasks":[{"name":"o","taskReferenceName":"o","type":"DO_WHILE",` + outer + `"loopCondition":"false","loopOver":[
		  {"name":"i","taskReferenceName":"i","type":"DO_WHILE","loopCondition":"$.i['iteration'] < 2","loopOver":[
		    {"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","expression":"it","inputParameters":{"it":"${i.output.iteration}"},
		     "decisionCases":{"2":[{"name":"fail","taskReferenceName":"x","permissive":true,"retryCount":0,"inputParameters":{}}]}},
		    {"name":"echo","taskReferenceName":"b","inputParameters":{"k":"b"}}]},
		  {"name":"echo","taskReferenceName":"z","inputParameters":{"k":"z"}}]},
		  {"name":"echo","taskReferenceName":"after","inputParameters":{"k":"after"}}]}`
	}
	for _, outer := range []string{``, `"permissive":true,`} {
		t.Run("outer "+outer, func(t *testing.T) {
			h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
			res := h.run(def(outer), `{}`)
			v := viewRun(t, h.e, res.RunID)
			want := "o:CANCELED i__1:FAILED s__1__1:COMPLETED b__1__1:COMPLETED s__1__2:COMPLETED x__1__2:FAILED b__1__2:CANCELED"
			if got := refStatuses(v); got != want {
				t.Fatalf("tasks %s\nwant %s", got, want)
			}
			recs := byRef(v.Tasks)
			inner := recs["i__1"]
			if inner.Reason != "worker says no to {} " {
				t.Fatalf("inner loop reason %q", inner.Reason)
			}
			wantRun := "Task " + inner.TaskID + " failed with status: FAILED and reason: 'worker says no to {} '"
			if res.Status != engine.StatusFailed || res.Reason != wantRun {
				t.Fatalf("run %s %q, want FAILED %q", res.Status, res.Reason, wantRun)
			}
			if n := h.calls["echo"].Load(); n != 1 {
				t.Fatalf("echo ran %d times, want once (b__1__1)", n)
			}
		})
	}
}
