package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// pausedParentDef is a parent whose SUB_WORKFLOW task is followed by a
// task the test holds and one more task, which a PAUSED run would not
// schedule.
const pausedParentDef = `{"name":"paused_parent","version":1,"schemaVersion":2,"tasks":[
 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"gated_child","workflowDefinition":` + childWithGate + `}},
 {"name":"hold","taskReferenceName":"hold"},
 {"name":"after","taskReferenceName":"after"}],
 "outputParameters":{"call":"${sub.output.call}"}}`

func afterWorker(context.Context, json.RawMessage) (json.RawMessage, error) {
	return json.RawMessage(`{"after":true}`), nil
}

// Conductor's updateAndPushParents sets the parent RUNNING whatever its
// status, PAUSED included, and its SUB_WORKFLOW task IN_PROGRESS: a child
// restarted under a PAUSED parent that no process executes re-opens it; the
// parent runs again (no longer paused), takes the child's new outcome and
// schedules its next tasks.
func TestRestartOfAChildReopensItsPausedParent(t *testing.T) {
	g := newGate(false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var e *engine.Engine
	var holds atomic.Int32
	e = harnessEngine(t, nil,
		engine.WithWorker("gated", g.worker),
		engine.WithWorker("after", afterWorker),
		engine.WithWorker("hold", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if holds.Add(1) == 1 {
				if err := e.Pause(context.Background(), "paused-parent"); err != nil {
					t.Errorf("pause: %v", err)
				}
				cancel() // the process goes away while the parent is paused
				<-c.Done()
				return nil, c.Err()
			}
			return json.RawMessage(`{"held":true}`), nil
		}))
	d, err := e.Parse([]byte(pausedParentDef))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID("paused-parent"))
	if !errors.Is(err, engine.ErrInterrupted) {
		t.Fatalf("want the parent interrupted: %v %+v", err, res)
	}
	before := viewRun(t, e, "paused-parent")
	sub := before.Tasks[0]
	if before.Status != engine.StatusPaused || sub.Status != engine.TaskCompleted || sub.SubWorkflowID == "" {
		t.Fatalf("parent before the restart: %s %+v", before.Status, before.Tasks)
	}
	got := g.whileBlocked(t, func(c context.Context) (*engine.Result, error) {
		return e.Restart(c, sub.SubWorkflowID, true)
	}, func() {
		wf := viewRun(t, e, "paused-parent")
		if wf.Status != engine.StatusRunning || wf.Tasks[0].TaskID != sub.TaskID || wf.Tasks[0].Status != engine.TaskInProgress {
			t.Errorf("paused parent while its child runs again: %s %+v, want RUNNING with %s IN_PROGRESS", wf.Status, wf.Tasks, sub.TaskID)
		}
	})
	if got.Status != engine.StatusCompleted {
		t.Fatalf("child: %+v", got)
	}
	ctx2, cancel2 := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel2()
	if err := e.WaitStarted(ctx2); err != nil {
		t.Fatal(err)
	}
	wf := viewRun(t, e, "paused-parent")
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("parent after the child: %s %q %+v", wf.Status, wf.Reason, wf.Tasks)
	}
	checkTasks(t, wf.Tasks, "SUB_WORKFLOW:COMPLETED", "hold:COMPLETED", "after:COMPLETED")
	if s := wf.Tasks[0]; s.TaskID != sub.TaskID || s.SubWorkflowID != sub.SubWorkflowID || s.Output["call"] != float64(2) {
		t.Fatalf("parent's SUB_WORKFLOW record %+v, want %s with child %s and its new output", s, sub.TaskID, sub.SubWorkflowID)
	}
	if wf.Output["call"] != float64(2) {
		t.Fatalf("parent's output %v", wf.Output)
	}
}

// The same while this process executes the PAUSED parent (a paused run
// stays with its executor; its task in progress goes on): the restart
// hands the re-open to the executor, which sets the parent RUNNING, runs
// the child beside the held task and, no longer paused, schedules the
// task after it.
func TestRestartOfAChildReopensItsExecutingPausedParent(t *testing.T) {
	g := newGate(false)
	hold := make(chan struct{})
	held := make(chan struct{}, 1)
	e := harnessEngine(t, nil,
		engine.WithWorker("gated", g.worker),
		engine.WithWorker("after", afterWorker),
		engine.WithWorker("hold", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
			held <- struct{}{}
			select {
			case <-hold:
				return json.RawMessage(`{"held":true}`), nil
			case <-c.Done():
				return nil, c.Err()
			}
		}))
	done := startHeld(t, e, pausedParentDef, "executing-paused")
	<-held
	if err := e.Pause(context.Background(), "executing-paused"); err != nil {
		t.Fatal(err)
	}
	before := viewRun(t, e, "executing-paused")
	sub := before.Tasks[0]
	if before.Status != engine.StatusPaused || sub.Status != engine.TaskCompleted || sub.SubWorkflowID == "" {
		t.Fatalf("parent before the restart: %s %+v", before.Status, before.Tasks)
	}
	restarted := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Restart(context.Background(), sub.SubWorkflowID, true)
		if err != nil {
			t.Errorf("restart: %v", err)
		}
		restarted <- res
	}()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the child's task never ran again")
	}
	wf := viewRun(t, e, "executing-paused")
	if wf.Status != engine.StatusRunning || wf.Tasks[0].TaskID != sub.TaskID || wf.Tasks[0].Status != engine.TaskInProgress {
		t.Fatalf("paused parent while its child runs again: %s %+v, want RUNNING with %s IN_PROGRESS", wf.Status, wf.Tasks, sub.TaskID)
	}
	close(g.release)
	close(hold)
	res := ended(t, done)
	if res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("parent: %+v", res)
	}
	if got := <-restarted; got == nil || got.Status != engine.StatusCompleted {
		t.Fatalf("child: %+v", got)
	}
	wf = viewRun(t, e, "executing-paused")
	checkTasks(t, wf.Tasks, "SUB_WORKFLOW:COMPLETED", "hold:COMPLETED", "after:COMPLETED")
	if s := wf.Tasks[0]; s.TaskID != sub.TaskID || s.SubWorkflowID != sub.SubWorkflowID || s.Output["call"] != float64(2) {
		t.Fatalf("parent's SUB_WORKFLOW record %+v, want %s with child %s and its new output", s, sub.TaskID, sub.SubWorkflowID)
	}
}

// A child that fails under a PAUSED parent leaves the parent PAUSED with
// its SUB_WORKFLOW task FAILED (Conductor's decider does nothing for a
// paused run). Retrying the child then re-opens that task and sets the
// parent RUNNING (updateAndPushParents): the parent completes with the
// child's new output. Resuming the parent instead fails it with that task.
func TestChildFailingUnderAPausedParent(t *testing.T) {
	for _, retry := range []bool{true, false} {
		name := "resume"
		if retry {
			name = "retry the child"
		}
		t.Run(name, func(t *testing.T) {
			var calls atomic.Int32
			entered, release := make(chan struct{}, 1), make(chan struct{})
			e := harnessEngine(t, nil,
				engine.WithWorker("flaky", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
					if calls.Add(1) > 1 {
						return json.RawMessage(`{"call":2}`), nil
					}
					entered <- struct{}{}
					select {
					case <-release:
						return nil, errors.New("boom")
					case <-c.Done():
						return nil, c.Err()
					}
				}))
			done := startHeld(t, e, `{"name":"paused_failing","version":1,"schemaVersion":2,"tasks":[
			 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"c","workflowDefinition":
			  {"name":"c","version":1,"schemaVersion":2,"tasks":[{"name":"flaky","taskReferenceName":"f","retryCount":0}],
			   "outputParameters":{"call":"${f.output.call}"}}}}],
			 "outputParameters":{"call":"${sub.output.call}"}}`, "paused-failing")
			<-entered
			if err := e.Pause(context.Background(), "paused-failing"); err != nil {
				t.Fatal(err)
			}
			close(release)
			var sub taskView
			waitFor(t, "the SUB_WORKFLOW task to fail", func() bool {
				sub = viewRun(t, e, "paused-failing").Tasks[0]
				return sub.Status == engine.TaskFailed
			})
			time.Sleep(100 * time.Millisecond)
			if wf := viewRun(t, e, "paused-failing"); wf.Status != engine.StatusPaused || len(wf.Tasks) != 1 {
				t.Fatalf("paused parent after its child failed: %s %q %+v, want PAUSED with its SUB_WORKFLOW task FAILED", wf.Status, wf.Reason, wf.Tasks)
			}
			if !retry {
				if err := e.ResumePaused(context.Background(), "paused-failing"); err != nil {
					t.Fatal(err)
				}
				res := ended(t, done)
				if res.Status != engine.StatusFailed || res.FailedTaskRef != "sub" {
					t.Fatalf("resumed parent: %+v", res)
				}
				checkTasks(t, viewRun(t, e, "paused-failing").Tasks, "SUB_WORKFLOW:FAILED")
				return
			}
			got, err := e.Retry(context.Background(), sub.SubWorkflowID, false)
			if err != nil || got.Status != engine.StatusCompleted {
				t.Fatalf("child: %+v %v", got, err)
			}
			res := ended(t, done)
			if res.Status != engine.StatusCompleted {
				t.Fatalf("parent: %+v", res)
			}
			wf := viewRun(t, e, "paused-failing")
			checkTasks(t, wf.Tasks, "SUB_WORKFLOW:COMPLETED")
			if s := wf.Tasks[0]; s.TaskID != sub.TaskID || s.SubWorkflowID != sub.SubWorkflowID || s.Output["call"] != float64(2) {
				t.Fatalf("parent's SUB_WORKFLOW record %+v, want %s with child %s and its new output", s, sub.TaskID, sub.SubWorkflowID)
			}
			if wf.Output["call"] != float64(2) {
				t.Fatalf("parent's output %v", wf.Output)
			}
		})
	}
}
