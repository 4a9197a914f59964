package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// TestRerunFromSubWorkflowKeepsStartTimeZero: a rerun from a SUB_WORKFLOW
// task resets it in place and starts its new child directly: Conductor's
// rerunWF sets its startTime to 0 and SubWorkflow.start sets none (only a
// start from the system-task queue does), so the task shows startTime 0
// while IN_PROGRESS and once it has ended; its scheduledTime and endTime
// are the rerun's.
func TestRerunFromSubWorkflowKeepsStartTimeZero(t *testing.T) {
	var fail atomic.Bool
	release := make(chan struct{})
	zero := 0
	defs := engine.NewTaskDefs()
	if err := defs.Put(&engine.TaskDef{Name: "w_inner", RetryCount: &zero}); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	clock := engine.NewManualClock(t0)
	e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
		engine.WithKeyring(keyring(t, 5)), engine.WithClock(clock),
		engine.WithWorker("w_inner", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if fail.Load() {
				return nil, errors.New("boom")
			}
			select {
			case <-release:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return json.RawMessage(`{}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(`{"name":"rerun_sub_start","version":1,"schemaVersion":2,"tasks":[
	 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","retryCount":0,
	  "subWorkflowParam":{"name":"rerun_sub_start_child","version":1,"workflowDefinition":{"name":"rerun_sub_start_child","version":1,"schemaVersion":2,
	   "tasks":[{"name":"w_inner","taskReferenceName":"inner"}]}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	id, before := failedRun(t, e, d, `{}`, &fail)
	sub := lastRecord(before, "sub")
	if sub == nil || sub["startTime"] == 0.0 {
		t.Fatalf("first run: %v", before)
	}
	fail.Store(false)
	clock.Advance(time.Hour)
	t1 := float64(t0.Add(time.Hour).UnixMilli())
	done := make(chan error, 1)
	var rr *engine.Result
	go func() {
		var err error
		rr, err = e.RerunWith(context.Background(), id, engine.RerunOptions{FromTaskID: sub["taskId"].(string)})
		done <- err
	}()
	// IN_PROGRESS with its new child, which waits for release.
	for {
		_, now := rawTasks(t, e, id)
		if rec := lastRecord(now, "sub"); rec != nil && rec["status"] == engine.TaskInProgress && rec["subWorkflowId"] != nil && rec["subWorkflowId"] != "" {
			if rec["startTime"] != 0.0 || rec["scheduledTime"] != t1 {
				t.Errorf("the task IN_PROGRESS after the rerun: startTime %v scheduledTime %v, want 0 and %v", rec["startTime"], rec["scheduledTime"], t1)
			}
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the rerun ended before its task was seen IN_PROGRESS: %v %+v", err, rr)
		case <-time.After(time.Millisecond):
		}
	}
	close(release)
	if err := <-done; err != nil || rr.Status != engine.StatusCompleted {
		t.Fatalf("rerun: %v %+v", err, rr)
	}
	_, after := rawTasks(t, e, id)
	rec := lastRecord(after, "sub")
	if rec["taskId"] != sub["taskId"] || rec["status"] != engine.TaskCompleted || rec["startTime"] != 0.0 || rec["endTime"] != t1 {
		t.Errorf("the task after the rerun: same id %v, %v, startTime %v endTime %v; want COMPLETED, startTime 0, endTime %v",
			rec["taskId"] == sub["taskId"], rec["status"], rec["startTime"], rec["endTime"], t1)
	}
}
