package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// untilCancelled is a worker whose first call runs until it is cancelled
// (its run is terminated); its later calls complete.
type untilCancelled struct {
	mu      sync.Mutex
	calls   int
	entered chan struct{}
}

func (u *untilCancelled) worker(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
	u.mu.Lock()
	u.calls++
	n := u.calls
	u.mu.Unlock()
	if n > 1 {
		return json.RawMessage(`{"call":2}`), nil
	}
	u.entered <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

const terminatedChild = `{"name":"ct","version":1,"schemaVersion":2,"tasks":[{"name":"until_cancel","taskReferenceName":"w","retryCount":0}],
 "outputParameters":{"call":"${w.output.call}"}}`

// A child terminated while its parent is PAUSED cancels the parent's
// SUB_WORKFLOW task (Conductor's SubWorkflow task maps a TERMINATED child
// to CANCELED) and leaves the parent PAUSED: Conductor's decider does
// nothing for a paused workflow (DeciderService.decide). Resumed, the
// parent is TERMINATED with that task, as DeciderService.retry ends a
// workflow whose task was cancelled. Retrying the child instead re-opens
// the task (updateAndPushParents): its cancelled task is scheduled again
// and the parent completes with its new output. And retrying the failed
// child of a sibling branch re-opens the cancelled task with it, its
// terminated child retried in place (updateAndPushParents retries every
// unsuccessful SUB_WORKFLOW task of the parent).
func TestChildTerminatedUnderAPausedParent(t *testing.T) {
	for _, then := range []string{"resume", "retry the child", "retry its sibling"} {
		t.Run(then, func(t *testing.T) {
			u := &untilCancelled{entered: make(chan struct{}, 1)}
			f := newFailOnce()
			e := harnessEngine(t, nil, engine.WithWorker("until_cancel", u.worker), engine.WithWorker("w_a", f.worker("w_a")))
			sub := `{"name":"b","taskReferenceName":"b","type":"SUB_WORKFLOW","retryCount":0,"subWorkflowParam":{"name":"ct","workflowDefinition":` + terminatedChild + `}}`
			def := `{"name":"paused_terminated","version":1,"schemaVersion":2,"tasks":[` + sub + `],"outputParameters":{"b":"${b.output.call}"}}`
			sibling := then == "retry its sibling"
			if sibling {
				def = `{"name":"paused_terminated","version":1,"schemaVersion":2,"tasks":[
				 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[[
				  {"name":"a","taskReferenceName":"a","type":"SUB_WORKFLOW","retryCount":0,"subWorkflowParam":{"name":"ca","workflowDefinition":
				   {"name":"ca","version":1,"schemaVersion":2,"tasks":[{"name":"w_a","taskReferenceName":"w","retryCount":0}],"outputParameters":{"call":"${w.output.call}"}}}}],
				  [` + sub + `]]},
				 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","b"]}],
				 "outputParameters":{"a":"${a.output.call}","b":"${b.output.call}"}}`
			}
			const id = "paused-terminated"
			done := startHeld(t, e, def, id)
			<-u.entered
			if sibling {
				<-f.entered
			}
			ctx := context.Background()
			if err := e.Pause(ctx, id); err != nil {
				t.Fatal(err)
			}
			var before map[string]taskView
			if sibling {
				close(f.release)
				waitFor(t, "child a to fail", func() bool {
					before = byRef(viewRun(t, e, id).Tasks)
					return before["a"].Status == engine.TaskFailed
				})
			}
			child := byRef(viewRun(t, e, id).Tasks)["b"].SubWorkflowID
			if err := e.Terminate(ctx, child, "stopped by hand"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the SUB_WORKFLOW task to be cancelled", func() bool {
				return byRef(viewRun(t, e, id).Tasks)["b"].Status == engine.TaskCanceled
			})
			time.Sleep(100 * time.Millisecond)
			wf := viewRun(t, e, id)
			if wf.Status != engine.StatusPaused {
				t.Fatalf("paused parent after its child was terminated: %s %q %+v, want PAUSED", wf.Status, wf.Reason, wf.Tasks)
			}
			before = byRef(wf.Tasks)
			switch then {
			case "resume":
				if err := e.ResumePaused(ctx, id); err != nil {
					t.Fatal(err)
				}
				res := ended(t, done)
				b := before["b"]
				if res.Status != engine.StatusTerminated || res.FailedTaskRef != "b" ||
					!strings.HasPrefix(res.Reason, "Task "+b.TaskID+" failed with status: TERMINATED and reason: 'Sub workflow ct.1/"+child) {
					t.Fatalf("resumed parent: %+v", res)
				}
				checkTasks(t, viewRun(t, e, id).Tasks, "SUB_WORKFLOW:CANCELED")
				return
			case "retry the child":
				got, err := e.Retry(ctx, child, false)
				if err != nil || got.Status != engine.StatusCompleted {
					t.Fatalf("child: %+v %v", got, err)
				}
			case "retry its sibling":
				got, err := e.Retry(ctx, before["a"].SubWorkflowID, false)
				if err != nil || got.Status != engine.StatusCompleted {
					t.Fatalf("child a: %+v %v", got, err)
				}
			}
			if res := ended(t, done); res == nil || res.Status != engine.StatusCompleted {
				t.Fatalf("parent: %+v", res)
			}
			wf = viewRun(t, e, id)
			if wf.Output["b"] != float64(2) || (sibling && wf.Output["a"] != float64(2)) {
				t.Fatalf("parent's output %v", wf.Output)
			}
			for ref, was := range before {
				if now := byRef(wf.Tasks)[ref]; now.TaskID != was.TaskID || now.SubWorkflowID != was.SubWorkflowID || now.Status != engine.TaskCompleted {
					t.Fatalf("record %s at the end: %+v, was %+v", ref, now, was)
				}
			}
			c := viewRun(t, e, child)
			checkTasks(t, c.Tasks, "until_cancel:CANCELED", "until_cancel:COMPLETED")
			if c.Status != engine.StatusCompleted || c.Tasks[1].RetriedTaskID != c.Tasks[0].TaskID {
				t.Fatalf("child b at the end: %s %+v", c.Status, c.Tasks)
			}
		})
	}
}
