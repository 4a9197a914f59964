package engine_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// TestReopenedParentTerminatesDetachedChild: a SUB_WORKFLOW task updated
// IN_PROGRESS naming no child (detached from the child it started) when
// its run fails: retrying that child re-opens the parent, as Conductor's
// updateAndPushParents finds the task by the child's parentWorkflowTaskId
// whatever child it names; the parent fails again at once with its kept
// failed task, and cancelling the SUB_WORKFLOW task terminates the child
// under the id derived from the task (SubWorkflow.cancel, for a task that
// names none): the child that was retried.
func TestReopenedParentTerminatesDetachedChild(t *testing.T) {
	var mu sync.Mutex
	calls := 0
	entered := make(chan struct{}, 1)
	e := harnessEngine(t, nil, engine.WithWorker("slow", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			entered <- struct{}{}
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return json.RawMessage(`{"slow":2}`), nil
	}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := e.Parse([]byte(`{"name":"detached_reopen","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	  [{"name":"a","taskReferenceName":"a","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"ca","workflowDefinition":{"name":"ca","version":1,"schemaVersion":2,"tasks":[{"name":"slow","taskReferenceName":"s","startDelay":1}]}}}],
	  [{"name":"gate","taskReferenceName":"gate","type":"HUMAN"}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","gate"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	runID := "5b0d7a4e-0000-4000-8000-000000000241"
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(runID))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	select {
	case <-entered:
	case <-ctx.Done():
		t.Fatal("the child's task never ran")
	}
	var sub, child string
	awaitRun(t, e, runID, func(v progressView) bool {
		for _, tk := range v.Tasks {
			if tk.SubWorkflowID != "" {
				sub, child = tk.TaskID, tk.SubWorkflowID
			}
		}
		return child != "" && len(v.Tasks) == 4
	})
	if _, err := e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: engine.TaskInProgress,
		Output: json.RawMessage(`{"progress":1}`)}); err != nil {
		t.Fatal(err)
	}
	awaitRun(t, e, runID, func(v progressView) bool {
		for _, tk := range v.Tasks {
			if tk.TaskID == sub {
				return tk.Output["progress"] == 1.0 && tk.SubWorkflowID == ""
			}
		}
		return false
	})
	if _, err := e.CompleteTask(ctx, runID, "gate", engine.TaskFailed, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusFailed {
		t.Fatalf("parent: %+v, want FAILED", res)
	}
	if c := awaitRun(t, e, child, func(c progressView) bool { return c.Status != engine.StatusRunning }); c.Status != engine.StatusTerminated {
		t.Fatalf("the detached child when its parent failed: %s, want TERMINATED", c.Status)
	}
	before := viewRun(t, e, runID)
	got, err := e.Retry(ctx, child, false)
	if err != nil {
		t.Fatal(err)
	}
	wf := viewRun(t, e, runID)
	if wf.Status != engine.StatusFailed || wf.Reason != before.Reason {
		t.Fatalf("parent after the child's retry: %s %q, want FAILED %q", wf.Status, wf.Reason, before.Reason)
	}
	c := viewRun(t, e, child)
	want := "Parent workflow has been terminated with reason: " + before.Reason
	if got.Status != engine.StatusTerminated || c.Status != engine.StatusTerminated || c.Reason != want {
		t.Fatalf("the retried child: %s / %s %q, want TERMINATED %q", got.Status, c.Status, c.Reason, want)
	}
	// The child's retry scheduled the attempt that retries s, then it was
	// cancelled: a copy of s's (WorkflowExecutor's taskToBeRescheduled),
	// its startDelayInSeconds (the worker task's startDelay, 1) with it,
	// callbackAfterSeconds 0.
	b, err := e.Show(ctx, child)
	if err != nil {
		t.Fatal(err)
	}
	var raw struct {
		Tasks []struct {
			TaskID        string `json:"taskId"`
			Status        string `json:"status"`
			RetriedTaskID string `json:"retriedTaskId"`
			Callback      int64  `json:"callbackAfterSeconds"`
			StartDelay    int64  `json:"startDelayInSeconds"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	if n := len(raw.Tasks); n != 2 || raw.Tasks[1].RetriedTaskID != raw.Tasks[0].TaskID || raw.Tasks[1].Status != engine.TaskCanceled ||
		raw.Tasks[1].StartDelay != 1 || raw.Tasks[1].Callback != 0 {
		t.Fatalf("the retried child's records %+v; want s's retry CANCELED, startDelayInSeconds 1, callbackAfterSeconds 0", raw.Tasks)
	}
	if err := e.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
}
