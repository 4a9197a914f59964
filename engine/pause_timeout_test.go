package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// Conductor's resumeWorkflow sets the workflow's lastRetriedTime, from which
// checkWorkflowTimeout counts its timeoutSeconds, and a PAUSED workflow is
// out of the decider queue: nothing times it out. A run of timeoutSeconds
// 10 (TIME_OUT_WF) paused at 5 s and left PAUSED past 10 s stays PAUSED;
// resumed at 15 s it shows lastRetriedTime then and times out 10 s later,
// not at once. wfrun timed it out at 10 s while it was PAUSED.
func TestResumeCountsTheTimeoutAgain(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	clock := engine.NewManualClock(start)
	e := harnessEngine(t, nil, engine.WithClock(clock))
	d, err := e.Parse([]byte(`{"name":"prt","timeoutSeconds":10,"timeoutPolicy":"TIME_OUT_WF","tasks":[
	  {"name":"w","taskReferenceName":"w","type":"WAIT"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID("prt-1"))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	// The workflow's deadline (an untimed WAIT has no timer).
	if err := clock.WaitForWaiters(ctx, 1); err != nil {
		t.Fatal(err)
	}
	waitTask(t, e, "prt-1")
	clock.Advance(5 * time.Second)
	if err := e.Pause(ctx, "prt-1"); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Second) // past the first deadline, PAUSED
	settle(t, done)
	if wf, last := viewRetried(t, e, "prt-1"); wf.Status != engine.StatusPaused || last != 0 {
		t.Fatalf("paused past its deadline: %s %q, lastRetriedTime %d", wf.Status, wf.Reason, last)
	}
	if err := e.ResumePaused(ctx, "prt-1"); err != nil {
		t.Fatal(err)
	}
	resumed := clock.Now().UnixMilli()
	if wf, last := viewRetried(t, e, "prt-1"); wf.Status != engine.StatusRunning || last != resumed {
		t.Fatalf("resumed: %s %q, lastRetriedTime %d, want %d", wf.Status, wf.Reason, last, resumed)
	}
	clock.Advance(9 * time.Second)
	settle(t, done)
	if wf := viewRun(t, e, "prt-1"); wf.Status != engine.StatusRunning {
		t.Fatalf("9 s after the resume: %s %q", wf.Status, wf.Reason)
	}
	clock.Advance(2 * time.Second)
	select {
	case res := <-done:
		if res == nil || res.Status != engine.StatusTimedOut {
			t.Fatalf("run %+v", res)
		}
	case <-ctx.Done():
		t.Fatalf("not timed out 11 s after the resume: %s", viewRun(t, e, "prt-1").Status)
	}
}

// waitTask waits until run id's WAIT is IN_PROGRESS.
func waitTask(t *testing.T, e *engine.Engine, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if wf := viewRun(t, e, id); len(wf.Tasks) == 1 && wf.Tasks[0].Status == engine.TaskInProgress {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the WAIT did not start: %+v", viewRun(t, e, id).Tasks)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// settle gives the run's goroutines a moment to act on the clock's move
// (a timeout that should not come cannot be waited for), and fails if the
// run ended meanwhile.
func settle(t *testing.T, done chan *engine.Result) {
	t.Helper()
	select {
	case res := <-done:
		t.Fatalf("the run ended: %+v", res)
	case <-time.After(200 * time.Millisecond):
	}
}
