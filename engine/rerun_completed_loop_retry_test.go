package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// loopRetryEngine runs the tasks of completedLoopDef on store: w_b fails
// while failB is set, w_after while failAfter is; ran (when not nil) hears
// each call, the worker's name followed by its input.
func loopRetryEngine(t *testing.T, store runstore.Store, failB, failAfter *atomic.Bool, ran func(string)) *engine.Engine {
	t.Helper()
	zero := 0
	defs := engine.NewTaskDefs()
	if err := defs.Put(&engine.TaskDef{Name: "w_a", RetryCount: &zero}, &engine.TaskDef{Name: "w_b", RetryCount: &zero},
		&engine.TaskDef{Name: "w_after", RetryCount: &zero}); err != nil {
		t.Fatal(err)
	}
	worker := func(name string, fail *atomic.Bool) func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			if ran != nil {
				ran(name + string(in))
			}
			if fail != nil && fail.Load() {
				return nil, errors.New("boom")
			}
			return json.RawMessage(`{"by":"` + name + `"}`), nil
		}
	}
	e, err := engine.New(engine.WithRunStore(store), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
		engine.WithKeyring(keyring(t, 7)),
		engine.WithWorker("w_a", worker("a", nil)), engine.WithWorker("w_b", worker("b", failB)), engine.WithWorker("w_after", worker("after", failAfter)))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// rerunFailedInCompletedLoop runs completedLoopDef to its failure on the
// task after the loop, then reruns it from a__2 with w_b failing: the
// rerun fails on b__2, the loop staying COMPLETED. It returns the run's
// id, the loop's record and b__2's failed record; failB and failAfter are
// left unset.
func rerunFailedInCompletedLoop(t *testing.T, e *engine.Engine, failB, failAfter *atomic.Bool) (string, map[string]any, map[string]any) {
	t.Helper()
	id, loop, from := failedCompletedLoop(t, e, failAfter)
	failB.Store(true)
	defer failB.Store(false)
	rr, err := e.RerunWith(context.Background(), id, engine.RerunOptions{FromTaskID: from["taskId"].(string)})
	if err != nil || rr.Status != engine.StatusFailed || rr.FailedTaskRef != "b__2" {
		t.Fatalf("rerun: %v %+v", err, rr)
	}
	_, now := rawTasks(t, e, id)
	sameCompletedLoop(t, "after the rerun", lastRecord(now, "loop"), loop)
	failed := lastRecord(now, "b__2")
	if failed == nil || failed["status"] != engine.TaskFailed || lastRecord(now, "after") != nil {
		t.Fatalf("after the rerun: %v", now)
	}
	return id, loop, failed
}

// checkLoopRetry checks run id after the retry of b__2 (failed, the
// record rerunFailedInCompletedLoop returned): b__2 retried by a new
// attempt, the loop as it was, no third iteration, the task after the
// loop completed.
func checkLoopRetry(t *testing.T, e *engine.Engine, id string, loop, failed map[string]any) {
	t.Helper()
	status, after := rawTasks(t, e, id)
	sameCompletedLoop(t, "after the retry", lastRecord(after, "loop"), loop)
	var refs []string
	for _, tk := range after {
		refs = append(refs, fmt.Sprintf("%s:%s", tk["referenceTaskName"], tk["status"]))
	}
	want := "[loop:COMPLETED a__1:COMPLETED b__1:COMPLETED a__2:COMPLETED b__2:FAILED b__2:COMPLETED after:COMPLETED]"
	if status != engine.StatusCompleted || fmt.Sprint(refs) != want {
		t.Errorf("after the retry: %s %v\nwant COMPLETED %s", status, refs, want)
	}
	if rec := lastRecord(after, "b__2"); rec == nil || rec["retriedTaskId"] != failed["taskId"] || rec["taskId"] == failed["taskId"] {
		t.Errorf("b__2's retry: %v, want a new attempt retrying %v", rec, failed["taskId"])
	}
}

// TestRetryAfterARerunFailedInsideACompletedLoop: a rerun from a__2 of a
// DO_WHILE that completed fails on b__2 (the loop stays COMPLETED, the run
// FAILED). Conductor's retry schedules a copy of the failed b__2 whatever
// state its loop is in (taskToBeRescheduled), and its decider then
// schedules the rest of iteration 2 and, finding the loop recorded, no
// further iteration: the retry runs b__2 again (retriedTaskId), the loop
// stays as it was, and the run goes on past it (as after the rerun's
// replay) and completes.
func TestRetryAfterARerunFailedInsideACompletedLoop(t *testing.T) {
	var failB, failAfter atomic.Bool
	var mu sync.Mutex
	var ran []string
	e := loopRetryEngine(t, runstore.NewMemory(), &failB, &failAfter, func(s string) {
		mu.Lock()
		ran = append(ran, s)
		mu.Unlock()
	})
	id, loop, failed := rerunFailedInCompletedLoop(t, e, &failB, &failAfter)
	mu.Lock()
	ran = nil
	mu.Unlock()
	r, err := e.Retry(context.Background(), id, false)
	if err != nil || r.Status != engine.StatusCompleted {
		t.Fatalf("retry: %v %+v", err, r)
	}
	checkLoopRetry(t, e, id, loop, failed)
	mu.Lock()
	defer mu.Unlock()
	// b__2's retry runs with the failed attempt's input (the loop's
	// output, iteration 3, as the rerun resolved it).
	if want := `[b{"i":3} after{}]`; fmt.Sprint(ran) != want {
		t.Errorf("tasks run by the retry: %v, want %s", ran, want)
	}
}

// TestRetryAfterARerunFailedInsideACompletedLoopInAnotherProcess: the
// retry of TestRetryAfterARerunFailedInsideACompletedLoop made by another
// engine on the run's store (the process that reran it is gone): the
// retry finds the failed task inside the COMPLETED loop from the stored
// run alone.
func TestRetryAfterARerunFailedInsideACompletedLoopInAnotherProcess(t *testing.T) {
	var failB, failAfter atomic.Bool
	store := runstore.NewMemory()
	id, loop, failed := rerunFailedInCompletedLoop(t, loopRetryEngine(t, store, &failB, &failAfter, nil), &failB, &failAfter)
	e := loopRetryEngine(t, store, &failB, &failAfter, nil)
	if r, err := e.Retry(context.Background(), id, false); err != nil || r.Status != engine.StatusCompleted {
		t.Fatalf("retry: %v %+v", err, r)
	}
	checkLoopRetry(t, e, id, loop, failed)
}
