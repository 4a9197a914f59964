package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// A permissive DO_WHILE failed by its iteration lets the run go on, and the
// rest of the failed iteration runs beside the task after the loop
// (TestDoWhileRestOfAFailedIterationRunsBeside). A run paused and resumed
// by another process while that rest runs (the first went away) goes on
// with it: Conductor's resumeWorkflow sets the run RUNNING and decides it
// again, and the decider schedules the next task of each task that ended
// (getNextTask, filterNextLoopOverTasks), whatever the loop's status. So
// the rest's waiting task ends and the one after it runs; the run then
// fails naming the permissive tasks.
func TestDoWhileRestOfAFailedIterationGoesOnAfterAResume(t *testing.T) {
	iteration := simpleA(`"retryCount":0,"permissive":true`) + `,
	  {"name":"hold","taskReferenceName":"hold"},
	  {"name":"c","taskReferenceName":"c","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"3"}}`
	loop := func(ref, body string) string {
		return `{"name":"` + ref + `","taskReferenceName":"` + ref + `","type":"DO_WHILE","permissive":true,"loopCondition":"false","loopOver":[` + body + `]}`
	}
	parent := func(l string) string {
		return `{"name":"resume_parent","version":1,"schemaVersion":2,"tasks":[` + l + `,{"name":"hold","taskReferenceName":"after"}]}`
	}
	z := `{"name":"z","taskReferenceName":"z","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"4"}}`
	cases := []struct {
		name, def, holding string
		tasks, named       string
	}{
		{"a loop", parent(loop("loop", iteration)), "hold__1",
			"loop:FAILED a__1:FAILED hold__1:COMPLETED after:COMPLETED c__1:COMPLETED", "loop a__1"},
		// The inner loop's rest, beside the outer loop's (z) and the
		// task after it (TestDoWhileFailureInANestedLoop).
		{"a loop in a loop", parent(loop("o", loop("i", iteration)+`,`+z)), "hold__1__1",
			"o:FAILED i__1:FAILED a__1__1:FAILED hold__1__1:COMPLETED after:COMPLETED z__1:COMPLETED c__1__1:COMPLETED", "o i__1 a__1__1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newResumeRig(t)
			stop, done := g.start(t, c.def, "loop-rest")
			waitFor(t, "the rest and the task after the loop to run", func() bool {
				v := viewRun(t, g.e, "loop-rest")
				tk := byRef(v.Tasks)
				return tk[c.holding].Status == engine.TaskInProgress && tk["after"].Status == engine.TaskInProgress
			})
			stop()
			<-done
			g.e = g.newEngine()
			ctx := context.Background()
			if err := g.e.Pause(ctx, "loop-rest"); err != nil {
				t.Fatal(err)
			}
			if err := g.e.ResumePaused(ctx, "loop-rest"); err != nil {
				t.Fatal(err)
			}
			resumed := g.resume(t, "loop-rest")
			close(g.hold)
			res := ended(t, resumed)
			if res == nil {
				t.Fatal("the run did not end")
			}
			v := viewRun(t, g.e, "loop-rest")
			if got := refStatuses(v); got != c.tasks {
				t.Fatalf("tasks %s, want %s", got, c.tasks)
			}
			checkFailedNaming(t, res, v, strings.Fields(c.named)...)
		})
	}
}
