package engine_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// A fork whose branches schedule, in one decision, tasks that wait (a WAIT,
// a HUMAN, a worker's task) beside a synchronous task that fails the run.
// Conductor's WorkflowExecutor.decide stores the decision's tasks
// (scheduleTask), executes the synchronous system tasks it scheduled in
// the same call (executeSystemTask), and loops: DeciderService.decide sees
// the failed task, retry() throws, and terminate() cancels every task not
// terminal — all under the run's lock, before the decision's workflow is
// saved. So the tasks that wait end CANCELED having never started: the
// worker's task was never polled (SCHEDULED, then CANCELED), the WAIT and
// the HUMAN never waited. wfrun's branches run in goroutines; a task that
// waits starts only once the synchronous tasks of its pass have run
// (forkpasses.go, awaitPassRan): it must not be handed to a worker, nor
// begin its wait, before the failing task ended the run.
func TestForkWaitingTasksNeverStartBesideAFailingSyncTask(t *testing.T) {
	inline := func(ref, expr string) string {
		return `{"name":"i","taskReferenceName":"` + ref + `","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"` + expr + `"}}`
	}
	wait := `{"name":"wait","taskReferenceName":"w","type":"WAIT","inputParameters":{"duration":"1 hour"}}`
	human := `{"name":"human","taskReferenceName":"h","type":"HUMAN"}`
	remote := `{"name":"remote","taskReferenceName":"r","type":"SIMPLE"}`
	cases := []struct {
		name, branches, joinOn string
		want                   []string // ref:type:status, in order
	}{
		// The first decision: FORK, each branch's first task, JOIN.
		{"first tasks", `[` + wait + `],[` + human + `],[` + remote + `],[` + inline("x", "nope.nope") + `]`, `"w","h","r","x"`,
			[]string{"f:FORK:COMPLETED", "w:WAIT:CANCELED", "h:HUMAN:CANCELED", "r:remote:CANCELED", "x:INLINE:FAILED_WITH_TERMINAL_ERROR", "j:JOIN:CANCELED"}},
		// The failing task last in the decision.
		{"failing first", `[` + inline("x", "nope.nope") + `],[` + wait + `],[` + remote + `]`, `"x","w","r"`,
			[]string{"f:FORK:COMPLETED", "x:INLINE:FAILED_WITH_TERMINAL_ERROR", "w:WAIT:CANCELED", "r:remote:CANCELED", "j:JOIN:CANCELED"}},
		// A later pass: the waiting tasks and the failing INLINE follow a
		// first synchronous task in their branches.
		{"second pass", `[` + inline("a", "1") + `,` + wait + `],[` + inline("b", "2") + `,` + remote + `],[` + inline("c", "3") + `,` + inline("x", "nope.nope") + `]`, `"w","r","x"`,
			[]string{"f:FORK:COMPLETED", "a:INLINE:COMPLETED", "b:INLINE:COMPLETED", "c:INLINE:COMPLETED", "j:JOIN:CANCELED",
				"w:WAIT:CANCELED", "r:remote:CANCELED", "x:INLINE:FAILED_WITH_TERMINAL_ERROR"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var polled atomic.Int64
			worker := func(ctx context.Context, _ engine.RemoteTask) tasks.Result {
				polled.Add(1)
				<-ctx.Done()
				return tasks.Result{Status: tasks.Failed, Reason: "cancelled"}
			}
			def := `{"name":"w","tasks":[{"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[` + c.branches + `]},
			  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":[` + c.joinOn + `]}]}`
			// Repeated: goroutine timing must not show.
			for i := range 30 {
				h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithRemoteWorker(worker))
				res := h.run(def, `{}`)
				wf := viewRun(t, h.e, res.RunID)
				var got []string
				var x taskView
				for _, tk := range wf.Tasks {
					got = append(got, tk.Ref+":"+tk.TaskType+":"+tk.Status)
					if tk.Ref == "x" {
						x = tk
					}
				}
				if g := strings.Join(got, " "); g != strings.Join(c.want, " ") {
					t.Fatalf("run %d: tasks\n %s\nwant\n %s", i, g, strings.Join(c.want, " "))
				}
				if want := "Task " + x.TaskID + " failed with status: FAILED and reason: '" + x.Reason + "'"; res.Status != engine.StatusFailed || wf.Reason != want {
					t.Fatalf("run %d: %s %q, want FAILED %q", i, res.Status, wf.Reason, want)
				}
				if n := polled.Load(); n != 0 {
					t.Fatalf("run %d: a worker was given the remote task (%d polls)", i, n)
				}
				h.mu.Lock()
				for _, ev := range h.events {
					if (ev.TaskRef == "w" || ev.TaskRef == "h" || ev.TaskRef == "r") && (ev.Status == engine.TaskInProgress || ev.Kind == engine.EventWaiting) {
						h.mu.Unlock()
						t.Fatalf("run %d: %s started: %+v", i, ev.TaskRef, ev)
					}
				}
				h.mu.Unlock()
			}
		})
	}
}
