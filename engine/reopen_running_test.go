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

// Conductor's updateAndPushParents re-opens the parent's SUB_WORKFLOW task
// whatever the parent's status: a child restarted while its parent still
// runs (here the parent went on to its next task, and no process executes
// it) puts that task back to IN_PROGRESS, same record and same child; the
// parent goes on with it and takes the child's new outcome.
func TestRestartOfAChildReopensItsRunningParent(t *testing.T) {
	g := newGate(false)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var holds atomic.Int32
	e := harnessEngine(t, nil,
		engine.WithWorker("gated", g.worker),
		engine.WithWorker("hold", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if holds.Add(1) == 1 {
				cancel() // the process goes away while the parent runs
				<-c.Done()
				return nil, c.Err()
			}
			return json.RawMessage(`{"held":true}`), nil
		}))
	d, err := e.Parse([]byte(`{"name":"running_parent","version":1,"schemaVersion":2,"tasks":[
	 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"gated_child","workflowDefinition":` + childWithGate + `}},
	 {"name":"hold","taskReferenceName":"hold"}],
	 "outputParameters":{"call":"${sub.output.call}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(ctx, d, json.RawMessage(`{}`))
	if !errors.Is(err, engine.ErrInterrupted) || res.Status != engine.StatusRunning {
		t.Fatalf("want the parent interrupted while running: %v %+v", err, res)
	}
	parentID := res.RunID
	before := viewRun(t, e, parentID)
	sub := before.Tasks[0]
	if sub.Status != engine.TaskCompleted || sub.SubWorkflowID == "" {
		t.Fatalf("parent's tasks %+v", before.Tasks)
	}
	got := g.whileBlocked(t, func(c context.Context) (*engine.Result, error) {
		return e.Restart(c, sub.SubWorkflowID, true)
	}, func() {
		wf := viewRun(t, e, parentID)
		if wf.Status != engine.StatusRunning || wf.Tasks[0].TaskID != sub.TaskID || wf.Tasks[0].Status != engine.TaskInProgress {
			t.Errorf("parent while its child runs again: %s %+v, want RUNNING with %s IN_PROGRESS", wf.Status, wf.Tasks, sub.TaskID)
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
	wf := viewRun(t, e, parentID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("parent after the child: %s %q %+v", wf.Status, wf.Reason, wf.Tasks)
	}
	checkTasks(t, wf.Tasks, "SUB_WORKFLOW:COMPLETED", "hold:COMPLETED")
	if s := wf.Tasks[0]; s.TaskID != sub.TaskID || s.SubWorkflowID != sub.SubWorkflowID || s.Output["call"] != float64(2) {
		t.Fatalf("parent's SUB_WORKFLOW record %+v, want %s with child %s and its new output", s, sub.TaskID, sub.SubWorkflowID)
	}
	if wf.Output["call"] != float64(2) {
		t.Fatalf("parent's output %v", wf.Output)
	}
	if n := holds.Load(); n != 2 {
		t.Fatalf("hold ran %d times, want 2 (once interrupted)", n)
	}
}

// The case of a parent whose permissive SUB_WORKFLOW task failed in a FORK
// branch while its other branch still runs (the JOIN has not failed it
// yet): retrying the child re-opens that task (same record, same child),
// and once the child completes and the other branch ends, the JOIN
// completes and so does the parent.
func TestRetryOfAChildReopensItsRunningParentInAFork(t *testing.T) {
	g := newGate(true)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var holds atomic.Int32
	var e *engine.Engine
	subFailed := func() bool {
		b, err := e.Show(context.Background(), "fork-parent")
		if err != nil {
			return false
		}
		var v runView
		_ = json.Unmarshal(b, &v)
		for _, tk := range v.Tasks {
			if tk.Ref == "sub" && tk.Status == engine.TaskFailed {
				return true
			}
		}
		return false
	}
	e = harnessEngine(t, nil,
		engine.WithWorker("gated", g.worker),
		engine.WithWorker("hold", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if holds.Add(1) == 1 {
				for !subFailed() {
					select {
					case <-c.Done():
						return nil, c.Err()
					case <-time.After(5 * time.Millisecond):
					}
				}
				cancel() // the process goes away while branch hold runs
				<-c.Done()
				return nil, c.Err()
			}
			return json.RawMessage(`{"held":true}`), nil
		}))
	d, err := e.Parse([]byte(`{"name":"running_fork_parent","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	  [{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","permissive":true,"subWorkflowParam":{"name":"gated_child","workflowDefinition":` + childWithGate + `}}],
	  [{"name":"hold","taskReferenceName":"hold"}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["sub","hold"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID("fork-parent"))
	if !errors.Is(err, engine.ErrInterrupted) || res.Status != engine.StatusRunning {
		t.Fatalf("want the parent interrupted while running: %v %+v", err, res)
	}
	recs := byRef(viewRun(t, e, "fork-parent").Tasks)
	sub := recs["sub"]
	if sub.Status != engine.TaskFailed || viewRun(t, e, sub.SubWorkflowID).Status != engine.StatusFailed {
		t.Fatalf("parent's sub-workflow task %+v", sub)
	}
	got := g.whileBlocked(t, func(c context.Context) (*engine.Result, error) {
		return e.Retry(c, sub.SubWorkflowID, false)
	}, func() {
		for _, tk := range viewRun(t, e, "fork-parent").Tasks {
			if tk.Ref == "sub" && (tk.TaskID != sub.TaskID || tk.Status != engine.TaskInProgress) {
				t.Errorf("parent's sub-workflow task while its child runs again: %+v, want %s IN_PROGRESS", tk, sub.TaskID)
			}
		}
	})
	if got.Status != engine.StatusCompleted {
		t.Fatalf("child: %+v", got)
	}
	wf := viewRun(t, e, "fork-parent")
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("parent after the child: %s %q %+v", wf.Status, wf.Reason, wf.Tasks)
	}
	checkTasks(t, wf.Tasks, "FORK:COMPLETED", "SUB_WORKFLOW:COMPLETED", "hold:COMPLETED", "JOIN:COMPLETED")
	if s := wf.Tasks[1]; s.TaskID != sub.TaskID || s.SubWorkflowID != sub.SubWorkflowID || s.Output["call"] != float64(2) {
		t.Fatalf("parent's SUB_WORKFLOW record %+v, want %s with child %s and its new output", s, sub.TaskID, sub.SubWorkflowID)
	}
}
