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
	"github.com/wfrun/wfrun/store/seal"
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
	PollCount     int    `json:"pollCount"`
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

// delayedRetry is a run whose task a fails its first attempt (the worker
// w_a fails its first call) and is retried after a delay, on a manual
// clock, executed by engines that share one run store and keyring (a
// process that goes away, another that resumes the run).
type delayedRetry struct {
	t      *testing.T
	clock  *engine.ManualClock
	shared runstore.Store
	ring   *seal.Keyring
	calls  atomic.Int32
	e      *engine.Engine
	id     string
	done   chan *engine.Result
	cancel context.CancelFunc
}

// startDelayedRetry starts def under run id and returns once the failed
// attempt and its retry are stored (first, retry).
func startDelayedRetry(t *testing.T, def, id string) (d *delayedRetry, first, retry retryRecord) {
	t.Helper()
	d = &delayedRetry{t: t, clock: engine.NewManualClock(time.Unix(1_800_000_000, 0)), shared: runstore.NewMemory(), ring: keyring(t, 9), id: id}
	d.e = d.newEngine()
	parsed, err := d.e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d.cancel, d.done = cancel, make(chan *engine.Result, 1)
	go func() {
		res, err := d.e.Start(ctx, parsed, json.RawMessage(`{}`), engine.WithRunID(id))
		if err != nil && !errors.Is(err, engine.ErrInterrupted) && !errors.Is(err, context.Canceled) {
			t.Errorf("start: %v", err)
		}
		d.done <- res
	}()
	var recs []retryRecord
	waitFor(t, "the retry stored SCHEDULED", func() bool {
		_, recs = retryRecords(t, d.e, id)
		return len(recs) == 2 && recs[0].Status == engine.TaskFailed
	})
	return d, recs[0], recs[1]
}

func (d *delayedRetry) newEngine() *engine.Engine {
	return harnessEngine(d.t, d.shared, engine.WithKeyring(d.ring), engine.WithClock(d.clock),
		engine.WithWorker("w_a", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			if d.calls.Add(1) == 1 {
				return nil, errors.New("w_a failed")
			}
			return json.RawMessage(`{"ok":true}`), nil
		}))
}

// resumeAfter: the process goes away, the clock moves on by gap, and
// another engine resumes the run.
func (d *delayedRetry) resumeAfter(gap time.Duration) {
	d.cancel()
	<-d.done
	d.clock.Advance(gap)
	d.e = d.newEngine()
	d.done = make(chan *engine.Result, 1)
	go func() {
		res, err := d.e.Resume(context.Background(), d.id)
		if err != nil {
			d.t.Errorf("resume: %v", err)
		}
		d.done <- res
	}()
}

// records is the run's task records as a reader gets them.
func (d *delayedRetry) records() []retryRecord {
	_, recs := retryRecords(d.t, d.e, d.id)
	return recs
}

// completes advances the clock to at and checks that the run completes.
func (d *delayedRetry) completes(at time.Time) {
	d.t.Helper()
	d.clock.Advance(at.Sub(d.clock.Now()))
	if res := ended(d.t, d.done); res == nil || res.Status != engine.StatusCompleted {
		d.t.Fatalf("run: %+v", res)
	}
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
			d, first, retry := startDelayedRetry(t, def, fmt.Sprintf("5b0d7a4e-0000-4000-8000-0000000005%02d", i))
			if retry.Status != engine.TaskScheduled || retry.RetryCount != 1 || retry.RetriedTaskID != first.TaskID || retry.SubWorkflowID != "" ||
				retry.Callback != 30 || retry.StartDelay != 30 {
				t.Fatalf("the retry: %+v; want SCHEDULED, retryCount 1, retrying %s, no child, callbackAfterSeconds 30, startDelayInSeconds 30", retry, first.TaskID)
			}
			due := time.UnixMilli(retry.Scheduled).Add(30 * time.Second)
			waitFor(t, "the retry's delay to be waited for", func() bool { return d.clock.Pending(due) })
			switch mode {
			case "resumed during its delay":
				d.resumeAfter(10 * time.Second)
				waitFor(t, "the resumed retry to wait for the rest of its delay", func() bool { return d.clock.Pending(due) })
			case "updated during its delay":
				if _, err := d.e.CompleteTaskWith(context.Background(), d.id, engine.Completion{TaskID: retry.TaskID, Status: engine.TaskCompleted,
					Output: json.RawMessage(`{"got":"update"}`)}); err != nil {
					t.Fatal(err)
				}
				if res := ended(t, d.done); res == nil || res.Status != engine.StatusCompleted {
					t.Fatalf("parent: %+v", res)
				}
				if recs := d.records(); len(recs) != 2 || recs[1].Status != engine.TaskCompleted || recs[1].SubWorkflowID != "" || d.calls.Load() != 1 {
					t.Fatalf("after the update: %+v, w_a called %d times; want the retry COMPLETED without a child", recs, d.calls.Load())
				}
				return
			}
			if recs := d.records(); len(recs) != 2 || recs[1].Status != engine.TaskScheduled || recs[1].SubWorkflowID != "" || d.calls.Load() != 1 {
				t.Fatalf("during the delay: %+v, w_a called %d times; want the retry SCHEDULED without a child", recs, d.calls.Load())
			}
			d.completes(due)
			recs := d.records()
			if len(recs) != 2 || recs[1].TaskID != retry.TaskID || recs[1].Status != engine.TaskCompleted || recs[1].SubWorkflowID == "" ||
				recs[1].Callback != 30 || recs[1].StartDelay != 30 || recs[1].Start < due.UnixMilli() {
				t.Fatalf("the retry after its delay: %+v; want it COMPLETED with its child, started at %d, callbackAfterSeconds and startDelayInSeconds 30", recs, due.UnixMilli())
			}
		})
	}
}

// TestSubWorkflowRetryResumedKeepsItsJitter: Conductor's
// DeciderService.retry adds 0 to backoffJitterMs ms to the retry's delay
// (callbackAfterMs) and its queue holds the retry that long, a restart
// or not. A SUB_WORKFLOW retry (retryDelaySeconds 30, backoffJitterMs
// 5000) resumed by another process during its delay started its child
// at scheduledTime + 30 s, its jitter dropped; it now waits for the same
// instant the first process waited for, past the 30 s (the run id gives
// this retry a jitter above 0).
func TestSubWorkflowRetryResumedKeepsItsJitter(t *testing.T) {
	def := `{"name":"sub_retry_jitter","version":1,"schemaVersion":2,"tasks":[` +
		subA(`"retryCount":1,"taskDefinition":{"retryLogic":"FIXED","retryDelaySeconds":30,"backoffJitterMs":5000}`) + `]}`
	d, _, retry := startDelayedRetry(t, def, "5b0d7a4e-0000-4000-8000-000000000530")
	if retry.Callback != 30 || retry.StartDelay != 30 {
		t.Fatalf("the retry: %+v; want callbackAfterSeconds and startDelayInSeconds 30 (whole seconds, no jitter)", retry)
	}
	due := time.UnixMilli(retry.Scheduled).Add(30 * time.Second)
	waitFor(t, "the retry's delay to be waited for", func() bool { return d.clock.Waiters() == 1 })
	d.resumeAfter(10 * time.Second)
	waitFor(t, "the resumed retry to wait", func() bool { return d.clock.Waiters() == 1 })
	d.clock.Advance(due.Sub(d.clock.Now()))
	if n := d.clock.Waiters(); n != 1 {
		t.Fatalf("at scheduledTime + 30 s the resumed retry's wait is over (%d timers pending): its jitter was dropped", n)
	}
	d.completes(due.Add(5 * time.Second))
	if recs := d.records(); len(recs) != 2 || recs[1].Status != engine.TaskCompleted || recs[1].Start <= due.UnixMilli() {
		t.Fatalf("the retry: %+v; want it COMPLETED, its child started after %d", recs, due.UnixMilli())
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
	d, _, retry := startDelayedRetry(t, def, "5b0d7a4e-0000-4000-8000-000000000510")
	if retry.Status != engine.TaskScheduled || retry.Callback != 30 {
		t.Fatalf("the retry: %+v; want SCHEDULED, callbackAfterSeconds 30", retry)
	}
	due := time.UnixMilli(retry.Scheduled).Add(30 * time.Second)
	waitFor(t, "the retry's delay to be waited for", func() bool { return d.clock.Pending(due) })
	d.resumeAfter(10 * time.Second)
	waitFor(t, "the resumed retry to wait for the rest of its delay", func() bool { return d.clock.Pending(due) })
	if recs := d.records(); len(recs) != 2 || recs[1].Status != engine.TaskScheduled || d.calls.Load() != 1 {
		t.Fatalf("during the delay: %+v, w_a called %d times; want the retry SCHEDULED, not run", recs, d.calls.Load())
	}
	d.completes(due)
	if recs := d.records(); len(recs) != 2 || recs[1].TaskID != retry.TaskID || recs[1].Status != engine.TaskCompleted || recs[1].Start < due.UnixMilli() {
		t.Fatalf("the retry after its delay: %+v; want it COMPLETED, started at %d", recs, due.UnixMilli())
	}
}

// TestSubWorkflowStartDelay: Conductor's SubWorkflowTaskMapper sets a
// SUB_WORKFLOW task's callbackAfterSeconds (not its startDelayInSeconds)
// to its startDelay, and its queue holds the task that long before the
// system task worker starts the child. On the engine's clock (startDelay
// 20): the task is stored SCHEDULED with callbackAfterSeconds 20 and no
// child, and starts its child once 20 s have passed; it started it at
// once. While it waits it shows pollCount 0 and startTime 0; the
// AsyncSystemTaskExecutor that takes it from its queue counts a poll and
// sets its startTime, so it shows pollCount 1 once started (it showed 0).
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
	if _, recs = retryRecords(t, e, id); recs[0].Status != engine.TaskScheduled || recs[0].SubWorkflowID != "" || recs[0].Callback != 20 || recs[0].StartDelay != 0 ||
		recs[0].PollCount != 0 || recs[0].Start != 0 {
		t.Fatalf("during its startDelay: %+v; want SCHEDULED without a child, callbackAfterSeconds 20, startDelayInSeconds 0, not polled nor started", recs[0])
	}
	clock.Advance(20 * time.Second)
	if res := ended(t, done); res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("run: %+v", res)
	}
	if _, recs = retryRecords(t, e, id); recs[0].Status != engine.TaskCompleted || recs[0].SubWorkflowID == "" || recs[0].Start < due.UnixMilli() || recs[0].PollCount != 1 {
		t.Fatalf("after its startDelay: %+v; want it COMPLETED with its child, started at %d, polled once", recs[0], due.UnixMilli())
	}
}
