package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// TestSubWorkflowTaskByRefKeepsReason: an update by reference of a
// SUB_WORKFLOW task keeps the pending task's reasonForIncompletion, as
// Conductor's updateTask by reference (TaskServiceImpl) builds its
// TaskResult from the pending task (TaskResult(Task) copies the reason)
// and updateTask sets the result's reason on the task whatever the
// status: IN_PROGRESS, and COMPLETED too.
func TestSubWorkflowTaskByRefKeepsReason(t *testing.T) {
	e := harnessEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runID := "5b0d7a4e-0000-4000-8000-000000000231"
	sub, child, done := startHeldSub(t, e, ctx, runID)
	const why = "waiting for the ledger"
	if _, err := e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: engine.TaskInProgress,
		Output: json.RawMessage(`{"step":1}`), Reason: why, SubWorkflowID: child}); err != nil {
		t.Fatal(err)
	}
	awaitRun(t, e, runID, func(v progressView) bool { return v.Tasks[0].Output["step"] == 1.0 })
	if _, err := e.CompleteTask(ctx, runID, "sub", engine.TaskInProgress, json.RawMessage(`{"step":2}`)); err != nil {
		t.Fatal(err)
	}
	v := awaitRun(t, e, runID, func(v progressView) bool { return v.Tasks[0].Output["step"] == 2.0 })
	if tk := v.Tasks[0]; tk.Status != engine.TaskInProgress || tk.Reason != why || tk.SubWorkflowID != child {
		t.Fatalf("updated IN_PROGRESS by reference: %+v, want IN_PROGRESS with reason %q naming %s", tk, why, child)
	}
	if _, err := e.CompleteTask(ctx, runID, "sub", engine.TaskCompleted, json.RawMessage(`{"step":3}`)); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("parent: %+v", res)
	}
	if tk := viewRun(t, e, runID).Tasks[0]; tk.Status != engine.TaskCompleted || tk.Reason != why {
		t.Fatalf("COMPLETED by reference: %+v, want COMPLETED with reason %q", tk, why)
	}
	// The child, left running by the update, is ended here.
	if _, err := e.CompleteTask(ctx, child, "hold", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
}
