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

// progressView is a run's SUB_WORKFLOW record as an update IN_PROGRESS
// leaves it.
type progressView struct {
	Status string `json:"status"`
	Tasks  []struct {
		TaskID        string         `json:"taskId"`
		Status        string         `json:"status"`
		Reason        string         `json:"reasonForIncompletion"`
		SubWorkflowID string         `json:"subWorkflowId"`
		Callback      int64          `json:"callbackAfterSeconds"`
		Output        map[string]any `json:"outputData"`
	} `json:"tasks"`
}

// awaitRun reads run id until ok accepts it (10 s at most).
func awaitRun(t *testing.T, e *engine.Engine, id string, ok func(v progressView) bool) progressView {
	t.Helper()
	var v progressView
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, err := e.Show(context.Background(), id)
		if err != nil {
			continue // not stored yet
		}
		v = progressView{}
		if json.Unmarshal(b, &v) == nil && ok(v) {
			return v
		}
	}
	t.Fatalf("run %s: %+v", id, v)
	return v
}

// startHeldSub starts subUpdatedDef as runID and returns the SUB_WORKFLOW
// task's id and its child once the child's HUMAN task waits; the parent's
// result comes on the channel.
func startHeldSub(t *testing.T, e *engine.Engine, ctx context.Context, runID string) (string, string, chan *engine.Result) {
	t.Helper()
	d, err := e.Parse([]byte(subUpdatedDef))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(runID))
		if err != nil && !errors.Is(err, engine.ErrInterrupted) {
			t.Error(err)
		}
		done <- res
	}()
	v := awaitRun(t, e, runID, func(v progressView) bool {
		return len(v.Tasks) == 1 && v.Tasks[0].Status == engine.TaskInProgress && v.Tasks[0].SubWorkflowID != ""
	})
	child := v.Tasks[0].SubWorkflowID
	if v.Tasks[0].Output["subWorkflowId"] != child {
		// Conductor's SubWorkflow.start names the child in the output too.
		t.Fatalf("the SUB_WORKFLOW task IN_PROGRESS: output %v, want its subWorkflowId %s", v.Tasks[0].Output, child)
	}
	awaitRun(t, e, child, func(c progressView) bool { return len(c.Tasks) == 1 && c.Tasks[0].Status == engine.TaskInProgress })
	return v.Tasks[0].TaskID, child, done
}

// TestSubWorkflowTaskUpdatedInProgress: an update IN_PROGRESS of a
// SUB_WORKFLOW task, as Conductor's updateTask takes it: the task stays
// IN_PROGRESS with the update's outputData, reasonForIncompletion and
// callbackAfterSeconds, and the update's subWorkflowId. Naming its child,
// the task ends with that child. Naming none (as a client that sends only
// a status and an output does), the task has no child any more: the child
// runs on and its end leaves the task IN_PROGRESS; a final update ends
// it, and the run moves on.
func TestSubWorkflowTaskUpdatedInProgress(t *testing.T) {
	t.Run("naming its child", func(t *testing.T) {
		e := harnessEngine(t, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		runID := "5b0d7a4e-0000-4000-8000-000000000101"
		sub, child, done := startHeldSub(t, e, ctx, runID)
		if _, err := e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: engine.TaskInProgress,
			Output: json.RawMessage(`{"progress":1}`), Reason: "half way", SubWorkflowID: child, CallbackAfterSeconds: 30}); err != nil {
			t.Fatal(err)
		}
		v := awaitRun(t, e, runID, func(v progressView) bool { return v.Tasks[0].Output["progress"] == 1.0 })
		if tk := v.Tasks[0]; tk.Status != engine.TaskInProgress || tk.SubWorkflowID != child || tk.Reason != "half way" || tk.Callback != 30 {
			t.Fatalf("the updated task: %+v", tk)
		}
		if _, err := e.CompleteTask(ctx, child, "hold", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
		if res := <-done; res == nil || res.Status != engine.StatusCompleted {
			t.Fatalf("parent: %+v", res)
		}
		v = awaitRun(t, e, runID, func(progressView) bool { return true })
		if tk := v.Tasks[0]; tk.Status != engine.TaskCompleted || tk.SubWorkflowID != child || tk.Output["subWorkflowId"] != child {
			t.Fatalf("the task after its child ended: %+v", tk)
		}
	})
	t.Run("naming none", func(t *testing.T) {
		e := harnessEngine(t, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		runID := "5b0d7a4e-0000-4000-8000-000000000102"
		sub, child, done := startHeldSub(t, e, ctx, runID)
		if _, err := e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: engine.TaskInProgress,
			Output: json.RawMessage(`{"progress":1,"subWorkflowId":"` + child + `"}`), CallbackAfterSeconds: 5}); err != nil {
			t.Fatal(err)
		}
		v := awaitRun(t, e, runID, func(v progressView) bool { return v.Tasks[0].Output["progress"] == 1.0 })
		if tk := v.Tasks[0]; tk.Status != engine.TaskInProgress || tk.SubWorkflowID != "" || tk.Output["subWorkflowId"] != nil || tk.Callback != 5 {
			t.Fatalf("the updated task: %+v", tk)
		}
		// Its former child runs on, and ends, without it.
		if _, err := e.CompleteTask(ctx, child, "hold", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
		awaitRun(t, e, child, func(c progressView) bool { return c.Status == engine.StatusCompleted })
		if err := e.WaitStarted(ctx); err != nil {
			t.Fatal(err)
		}
		if v := awaitRun(t, e, runID, func(progressView) bool { return true }); v.Status != engine.StatusRunning || v.Tasks[0].Status != engine.TaskInProgress {
			t.Fatalf("the parent after the child ended: %+v", v)
		}
		if _, err := e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: engine.TaskCompleted,
			Output: json.RawMessage(`{"got":"final"}`)}); err != nil {
			t.Fatal(err)
		}
		if res := <-done; res == nil || res.Status != engine.StatusCompleted {
			t.Fatalf("parent: %+v", res)
		}
		if v := viewRun(t, e, runID); v.Output["got"] != "final" || len(v.Tasks) != 2 {
			t.Fatalf("parent output %v with %d tasks", v.Output, len(v.Tasks))
		}
	})
}

// TestSubWorkflowTaskInProgressResumed: a SUB_WORKFLOW task an update
// IN_PROGRESS left without a child still waits for its final update after
// its process stops and another resumes the run; its former child is
// RUNNING on its own and is resumed on its own.
func TestSubWorkflowTaskInProgressResumed(t *testing.T) {
	rs := runstore.NewMemory()
	k := keyring(t, 9)
	e1 := harnessEngine(t, rs, engine.WithKeyring(k))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runID := "5b0d7a4e-0000-4000-8000-000000000103"
	pctx, stop := context.WithCancel(ctx)
	sub, child, done := startHeldSub(t, e1, pctx, runID)
	if _, err := e1.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: engine.TaskInProgress,
		Output: json.RawMessage(`{"progress":1}`)}); err != nil {
		t.Fatal(err)
	}
	awaitRun(t, e1, runID, func(v progressView) bool { return v.Tasks[0].Output["progress"] == 1.0 })
	stop()
	<-done
	interrupted, halt := context.WithCancel(ctx)
	halt()
	_ = e1.WaitStarted(interrupted)

	e2 := harnessEngine(t, rs, engine.WithKeyring(k))
	resumed := make(chan *engine.Result, 1)
	go func() {
		res, err := e2.Resume(ctx, runID)
		if err != nil {
			t.Error(err)
		}
		resumed <- res
	}()
	if _, err := e2.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: engine.TaskCompleted,
		Output: json.RawMessage(`{"got":"after resume"}`)}); err != nil {
		t.Fatal(err)
	}
	if res := <-resumed; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("resumed parent: %+v", res)
	}
	if v := viewRun(t, e2, runID); v.Output["got"] != "after resume" || v.Tasks[0].SubWorkflowID != "" {
		t.Fatalf("parent output %v, its SUB_WORKFLOW task's child %q", v.Output, v.Tasks[0].SubWorkflowID)
	}
	if c := viewRun(t, e2, child); c.Status != engine.StatusRunning {
		t.Fatalf("the former child is %s, want RUNNING (resumable on its own)", c.Status)
	}
}

// TestSubWorkflowUpdateRefused: an update's subWorkflowId names the
// task's own child or nothing. (An update IN_PROGRESS by id is taken from
// a HUMAN task too, which goes on waiting, as Conductor's updateTask
// stores it on any system task.)
func TestSubWorkflowUpdateRefused(t *testing.T) {
	e := harnessEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runID := "5b0d7a4e-0000-4000-8000-000000000104"
	sub, child, done := startHeldSub(t, e, ctx, runID)
	c := viewRun(t, e, child)
	if _, err := e.CompleteTaskWith(ctx, child, engine.Completion{TaskID: c.Tasks[0].TaskID, Status: engine.TaskInProgress}); err != nil {
		t.Errorf("IN_PROGRESS for a HUMAN task: %v, want it taken", err)
	}
	if _, err := e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: engine.TaskCompleted, SubWorkflowID: runID}); !errors.Is(err, engine.ErrBadCompletion) {
		t.Errorf("a subWorkflowId not the task's child: %v, want ErrBadCompletion", err)
	}
	if _, err := e.CompleteTask(ctx, child, "hold", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("parent: %+v", res)
	}
}

// TestSubWorkflowTaskInProgressParentTerminated: a run terminated while
// its SUB_WORKFLOW task, updated IN_PROGRESS without a child, waits for
// its final update ends TERMINATED, and so does the task's former child
// (Conductor's SubWorkflow.cancel terminates the child under the derived
// id of a task that names none).
func TestSubWorkflowTaskInProgressParentTerminated(t *testing.T) {
	e := harnessEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runID := "5b0d7a4e-0000-4000-8000-000000000105"
	sub, child, done := startHeldSub(t, e, ctx, runID)
	if _, err := e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: engine.TaskInProgress,
		Output: json.RawMessage(`{"progress":1}`)}); err != nil {
		t.Fatal(err)
	}
	awaitRun(t, e, runID, func(v progressView) bool { return v.Tasks[0].Output["progress"] == 1.0 })
	if err := e.Terminate(ctx, runID, "stop it"); err != nil && !errors.Is(err, engine.ErrNotRunning) {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusTerminated {
		t.Fatalf("parent: %+v", res)
	}
	awaitRun(t, e, child, func(c progressView) bool { return c.Status == engine.StatusTerminated })
	if err := e.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestSubWorkflowTaskCompletedByRef: a SUB_WORKFLOW task completed by
// reference (CompleteTask: POST /api/tasks/{workflowId}/{ref}/{status})
// keeps its child, in the record and in its output, as Conductor's
// updateTask by reference does (its TaskResult is built from the pending
// task: the child's id, the output that names it, the body put over it).
func TestSubWorkflowTaskCompletedByRef(t *testing.T) {
	e := harnessEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runID := "5b0d7a4e-0000-4000-8000-000000000106"
	_, child, done := startHeldSub(t, e, ctx, runID)
	if _, err := e.CompleteTask(ctx, runID, "sub", engine.TaskCompleted, json.RawMessage(`{"got":"by ref"}`)); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("parent: %+v", res)
	}
	v := viewRun(t, e, runID)
	if tk := v.Tasks[0]; tk.Status != engine.TaskCompleted || tk.SubWorkflowID != child || tk.Output["subWorkflowId"] != child || tk.Output["got"] != "by ref" {
		t.Fatalf("the task completed by reference: %+v, want COMPLETED naming %s", tk, child)
	}
	if _, err := e.CompleteTask(ctx, child, "hold", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
}
