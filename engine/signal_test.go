package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// SignalTaskSpec "Signal completes a blocked WAIT task and advances the
// workflow": the signal returns the WAIT task's id, the task completes with
// the signal's output and the run goes on to integration_task_1. A second
// signal finds nothing blocked ("… returns null").
func TestConductorSignalWaitTask(t *testing.T) {
	e := harnessEngine(t, nil, harnessWorkers(nil, nil)...)
	d := harnessDef(t, e, "wait_workflow_integration_test.json")
	done := startAsync(t, e, d, "signal-1")
	wf := waitTasks(t, e, "signal-1", "WAIT:IN_PROGRESS")
	waitID := wf.Tasks[0].TaskID

	got, err := e.Signal(context.Background(), "signal-1", engine.TaskCompleted, json.RawMessage(`{"result":"done"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.TaskID != waitID || got.RunID != "signal-1" || got.Ref != "wait0" {
		t.Fatalf("signalled %+v, want the WAIT task %s", got, waitID)
	}
	if res := <-done; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%+v", res)
	}
	wf = viewRun(t, e, "signal-1")
	checkTasks(t, wf.Tasks, "WAIT:COMPLETED", "integration_task_1:COMPLETED")
	if wf.Tasks[0].Output["result"] != "done" {
		t.Fatalf("WAIT output %v", wf.Tasks[0].Output)
	}

	// "Signal on a workflow with no blocking task returns null".
	if _, err := e.Signal(context.Background(), "signal-1", engine.TaskCompleted, nil); !errors.Is(err, engine.ErrNoBlockedTask) {
		t.Fatalf("second signal: %v, want ErrNoBlockedTask", err)
	}
	// "Signal on a non-existent workflow throws NotFoundException".
	if _, err := e.Signal(context.Background(), "non-existent-wf-id", engine.TaskCompleted, nil); !errors.Is(err, runstore.ErrNotFound) {
		t.Fatalf("unknown run: %v, want runstore.ErrNotFound", err)
	}
	// A status Conductor's TaskResult has but a signal cannot deliver here.
	done = startAsync(t, e, d, "signal-2")
	waitTasks(t, e, "signal-2", "WAIT:IN_PROGRESS")
	if _, err := e.Signal(context.Background(), "signal-2", "SKIPPED", nil); err == nil {
		t.Fatal("SKIPPED signal accepted")
	}
	if _, err := e.Signal(context.Background(), "signal-2", engine.TaskFailed, json.RawMessage(`{"why":"rejected"}`)); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusFailed {
		t.Fatalf("%+v", res)
	}
	checkTasks(t, viewRun(t, e, "signal-2").Tasks, "WAIT:FAILED")
}

// SignalTaskSpec "Signal descends into a sub-workflow to complete its
// blocked WAIT task": signalling the parent completes the child's WAIT
// task; the child and then the parent complete.
func TestConductorSignalDescendsIntoSubWorkflow(t *testing.T) {
	e := harnessEngine(t, nil)
	d := harnessDef(t, e, "signal_sub_wf_parent_integration_test.json")
	done := startAsync(t, e, d, "signal-parent")
	// The SUB_WORKFLOW record may be stored (a task that keeps running is
	// written early) before its child's id is in it.
	var childID string
	for deadline := time.Now().Add(20 * time.Second); childID == "" && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if parent := waitTasks(t, e, "signal-parent", "SUB_WORKFLOW:IN_PROGRESS"); len(parent.Tasks) == 1 {
			childID = parent.Tasks[0].SubWorkflowID
		}
	}
	if childID == "" {
		t.Fatal("no child run")
	}
	child := waitTasks(t, e, childID, "WAIT:IN_PROGRESS")

	blocked, err := e.BlockedTask(context.Background(), "signal-parent", false)
	if err != nil || blocked.TaskID != child.Tasks[0].TaskID || blocked.RunID != childID {
		t.Fatalf("blocked %+v, %v; want %s of %s", blocked, err, child.Tasks[0].TaskID, childID)
	}
	got, err := e.Signal(context.Background(), "signal-parent", engine.TaskCompleted, json.RawMessage(`{"result":"sub-done"}`))
	if err != nil {
		t.Fatal(err)
	}
	if got.TaskID != child.Tasks[0].TaskID || got.RunID != childID || got.Ref != "wait_in_sub_ref" {
		t.Fatalf("signalled %+v, want the child's WAIT task", got)
	}
	if res := <-done; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%+v", res)
	}
	child = viewRun(t, e, childID)
	if child.Status != engine.StatusCompleted || child.Tasks[0].Output["result"] != "sub-done" {
		t.Fatalf("child %s, WAIT output %v", child.Status, child.Tasks[0].Output)
	}
	checkTasks(t, viewRun(t, e, "signal-parent").Tasks, "SUB_WORKFLOW:COMPLETED")
}
