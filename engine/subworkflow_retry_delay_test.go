package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// retryRecord is a task record as a reader of the run gets it, with the
// members a retry's delay sets.
type retryRecord struct {
	TaskID        string `json:"taskId"`
	Status        string `json:"status"`
	RetryCount    int    `json:"retryCount"`
	RetriedTaskID string `json:"retriedTaskId"`
	SubWorkflowID string `json:"subWorkflowId"`
	Scheduled     int64  `json:"scheduledTime"`
	Start         int64  `json:"startTime"`
	Callback      int64  `json:"callbackAfterSeconds"`
	StartDelay    int64  `json:"startDelayInSeconds"`
}

func retryRecords(t *testing.T, e *engine.Engine, id string) (string, []retryRecord) {
	t.Helper()
	b, err := e.Show(context.Background(), id)
	if err != nil {
		return "", nil // not stored yet
	}
	var v struct {
		Status string        `json:"status"`
		Tasks  []retryRecord `json:"tasks"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v.Status, v.Tasks
}

// TestSubWorkflowRetryRecordedAtOnce: Conductor's DeciderService.retry
// stores a failed SUB_WORKFLOW task's retry at once, SCHEDULED, with the
// retry's delay as callbackAfterSeconds and startDelayInSeconds, and its
// queue hands the retry to the system task worker, which starts the child
// (SubWorkflow.start), once the delay has passed; callbackAfterSeconds
// stays on the record after the start. On the engine's clock (FIXED,
// retryDelaySeconds 30): the retry is stored at once, no child is started
// before its delay has passed — nor when the process executing the run
// went away during the delay and another resumes it: the resumed run
// waits for the rest of the delay, from the retry's scheduledTime — and
// an update of the retry during its delay is taken at once (no child is
// started), as Conductor's updateTask takes one of a SCHEDULED task.
func TestSubWorkflowRetryRecordedAtOnce(t *testing.T) {
	def := `{"name":"sub_retry_delay","version":1,"schemaVersion":2,"tasks":[` +
		subA(`"retryCount":1,"taskDefinition":{"retryLogic":"FIXED","retryDelaySeconds":30}`) + `]}`
	for i, mode := range []string{"one process", "resumed during its delay", "updated during its delay"} {
		t.Run(mode, func(t *testing.T) {
			clock := engine.NewManualClock(time.Unix(1_800_000_000, 0))
			shared, ring := runstore.NewMemory(), keyring(t, 9)
			var calls atomic.Int32
			newEngine := func() *engine.Engine {
				return harnessEngine(t, shared, engine.WithKeyring(ring), engine.WithClock(clock),
					engine.WithWorker("w_a", func(context.Context, json.RawMessage) (json.RawMessage, error) {
						if calls.Add(1) == 1 {
							return nil, errors.New("w_a failed")
						}
						return json.RawMessage(`{"ok":true}`), nil
					}))
			}
			e := newEngine()
			d, err := e.Parse([]byte(def))
			if err != nil {
				t.Fatal(err)
			}
			id := fmt.Sprintf("5b0d7a4e-0000-4000-8000-0000000005%02d", i)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan *engine.Result, 1)
			go func() {
				res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(id))
				if err != nil && !errors.Is(err, engine.ErrInterrupted) && !errors.Is(err, context.Canceled) {
					t.Errorf("start: %v", err)
				}
				done <- res
			}()
			var recs []retryRecord
			waitFor(t, "the retry stored SCHEDULED", func() bool {
				_, recs = retryRecords(t, e, id)
				return len(recs) == 2 && recs[0].Status == engine.TaskFailed
			})
			first, retry := recs[0], recs[1]
			if retry.Status != engine.TaskScheduled || retry.RetryCount != 1 || retry.RetriedTaskID != first.TaskID || retry.SubWorkflowID != "" ||
				retry.Callback != 30 || retry.StartDelay != 30 {
				t.Fatalf("the retry: %+v; want SCHEDULED, retryCount 1, retrying %s, no child, callbackAfterSeconds 30, startDelayInSeconds 30", retry, first.TaskID)
			}
			due := time.UnixMilli(retry.Scheduled).Add(30 * time.Second)
			waitFor(t, "the retry's delay to be waited for", func() bool { return clock.Pending(due) })
			switch mode {
			case "resumed during its delay":
				cancel() // the process goes away
				<-done
				clock.Advance(10 * time.Second)
				e = newEngine()
				done = make(chan *engine.Result, 1)
				go func() {
					res, err := e.Resume(context.Background(), id)
					if err != nil {
						t.Errorf("resume: %v", err)
					}
					done <- res
				}()
				waitFor(t, "the resumed retry to wait for the rest of its delay", func() bool { return clock.Pending(due) })
			case "updated during its delay":
				if _, err := e.CompleteTaskWith(context.Background(), id, engine.Completion{TaskID: retry.TaskID, Status: engine.TaskCompleted,
					Output: json.RawMessage(`{"got":"update"}`)}); err != nil {
					t.Fatal(err)
				}
				if res := ended(t, done); res == nil || res.Status != engine.StatusCompleted {
					t.Fatalf("parent: %+v", res)
				}
				if _, recs = retryRecords(t, e, id); len(recs) != 2 || recs[1].Status != engine.TaskCompleted || recs[1].SubWorkflowID != "" || calls.Load() != 1 {
					t.Fatalf("after the update: %+v, w_a called %d times; want the retry COMPLETED without a child", recs, calls.Load())
				}
				return
			}
			if _, recs = retryRecords(t, e, id); len(recs) != 2 || recs[1].Status != engine.TaskScheduled || recs[1].SubWorkflowID != "" || calls.Load() != 1 {
				t.Fatalf("during the delay: %+v, w_a called %d times; want the retry SCHEDULED without a child", recs, calls.Load())
			}
			clock.Advance(due.Sub(clock.Now()))
			if res := ended(t, done); res == nil || res.Status != engine.StatusCompleted {
				t.Fatalf("parent: %+v", res)
			}
			_, recs = retryRecords(t, e, id)
			if len(recs) != 2 || recs[1].TaskID != retry.TaskID || recs[1].Status != engine.TaskCompleted || recs[1].SubWorkflowID == "" ||
				recs[1].Callback != 30 || recs[1].StartDelay != 30 || recs[1].Start < due.UnixMilli() {
				t.Fatalf("the retry after its delay: %+v; want it COMPLETED with its child, started at %d, callbackAfterSeconds and startDelayInSeconds 30", recs, due.UnixMilli())
			}
		})
	}
}

// TestWorkerRetryResumedDuringItsDelay: a worker task's retry, stored
// SCHEDULED with its delay (callbackAfterSeconds 30) when the attempt
// failed, resumed by another process during that delay, runs once the
// rest of the delay has passed, from its scheduledTime, as Conductor's
// queue keeps the retry's time across a restart; it ran at once.
func TestWorkerRetryResumedDuringItsDelay(t *testing.T) {
	def := `{"name":"worker_retry_delay","version":1,"schemaVersion":2,"tasks":[` +
		simpleA(`"retryCount":1,"taskDefinition":{"retryLogic":"FIXED","retryDelaySeconds":30}`) + `]}`
	clock := engine.NewManualClock(time.Unix(1_800_000_000, 0))
	shared, ring := runstore.NewMemory(), keyring(t, 9)
	var calls atomic.Int32
	newEngine := func() *engine.Engine {
		return harnessEngine(t, shared, engine.WithKeyring(ring), engine.WithClock(clock),
			engine.WithWorker("w_a", func(context.Context, json.RawMessage) (json.RawMessage, error) {
				if calls.Add(1) == 1 {
					return nil, errors.New("w_a failed")
				}
				return json.RawMessage(`{"ok":true}`), nil
			}))
	}
	e := newEngine()
	d, err := e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	id := "5b0d7a4e-0000-4000-8000-000000000510"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(id))
		if err != nil && !errors.Is(err, engine.ErrInterrupted) && !errors.Is(err, context.Canceled) {
			t.Errorf("start: %v", err)
		}
		done <- res
	}()
	var recs []retryRecord
	waitFor(t, "the retry stored SCHEDULED", func() bool {
		_, recs = retryRecords(t, e, id)
		return len(recs) == 2 && recs[0].Status == engine.TaskFailed
	})
	retry := recs[1]
	if retry.Status != engine.TaskScheduled || retry.Callback != 30 {
		t.Fatalf("the retry: %+v; want SCHEDULED, callbackAfterSeconds 30", retry)
	}
	due := time.UnixMilli(retry.Scheduled).Add(30 * time.Second)
	waitFor(t, "the retry's delay to be waited for", func() bool { return clock.Pending(due) })
	cancel() // the process goes away
	<-done
	clock.Advance(10 * time.Second)
	e = newEngine()
	done = make(chan *engine.Result, 1)
	go func() {
		res, err := e.Resume(context.Background(), id)
		if err != nil {
			t.Errorf("resume: %v", err)
		}
		done <- res
	}()
	waitFor(t, "the resumed retry to wait for the rest of its delay", func() bool { return clock.Pending(due) })
	if _, recs = retryRecords(t, e, id); len(recs) != 2 || recs[1].Status != engine.TaskScheduled || calls.Load() != 1 {
		t.Fatalf("during the delay: %+v, w_a called %d times; want the retry SCHEDULED, not run", recs, calls.Load())
	}
	clock.Advance(due.Sub(clock.Now()))
	if res := ended(t, done); res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("parent: %+v", res)
	}
	if _, recs = retryRecords(t, e, id); len(recs) != 2 || recs[1].TaskID != retry.TaskID || recs[1].Status != engine.TaskCompleted || recs[1].Start < due.UnixMilli() {
		t.Fatalf("the retry after its delay: %+v; want it COMPLETED, started at %d", recs, due.UnixMilli())
	}
}

// TestSubWorkflowStartDelay: Conductor's SubWorkflowTaskMapper sets a
// SUB_WORKFLOW task's callbackAfterSeconds (not its startDelayInSeconds)
// to its startDelay, and its queue holds the task that long before the
// system task worker starts the child. On the engine's clock (startDelay
// 20): the task is stored SCHEDULED with callbackAfterSeconds 20 and no
// child, and starts its child once 20 s have passed; it started it at
// once.
func TestSubWorkflowStartDelay(t *testing.T) {
	clock := engine.NewManualClock(time.Unix(1_800_000_000, 0))
	e := harnessEngine(t, nil, engine.WithClock(clock),
		engine.WithWorker("w_a", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{"ok":true}`), nil
		}))
	d, err := e.Parse([]byte(`{"name":"sub_start_delay","version":1,"schemaVersion":2,"tasks":[` + subA(`"startDelay":20`) + `]}`))
	if err != nil {
		t.Fatal(err)
	}
	id := "5b0d7a4e-0000-4000-8000-000000000520"
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(context.Background(), d, json.RawMessage(`{}`), engine.WithRunID(id))
		if err != nil {
			t.Errorf("start: %v", err)
		}
		done <- res
	}()
	var recs []retryRecord
	waitFor(t, "the task stored", func() bool {
		_, recs = retryRecords(t, e, id)
		return len(recs) == 1
	})
	due := time.UnixMilli(recs[0].Scheduled).Add(20 * time.Second)
	waitFor(t, "its startDelay to be waited for", func() bool { return clock.Pending(due) })
	if _, recs = retryRecords(t, e, id); recs[0].Status != engine.TaskScheduled || recs[0].SubWorkflowID != "" || recs[0].Callback != 20 || recs[0].StartDelay != 0 {
		t.Fatalf("during its startDelay: %+v; want SCHEDULED without a child, callbackAfterSeconds 20, startDelayInSeconds 0", recs[0])
	}
	clock.Advance(20 * time.Second)
	if res := ended(t, done); res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("run: %+v", res)
	}
	if _, recs = retryRecords(t, e, id); recs[0].Status != engine.TaskCompleted || recs[0].SubWorkflowID == "" || recs[0].Start < due.UnixMilli() {
		t.Fatalf("after its startDelay: %+v; want it COMPLETED with its child, started at %d", recs[0], due.UnixMilli())
	}
}
