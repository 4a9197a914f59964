package engine_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// startAsync starts a run in the background and returns where its result
// arrives.
func startAsync(t *testing.T, e *engine.Engine, d *engine.Definition, id string) <-chan *engine.Result {
	t.Helper()
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(context.Background(), d, json.RawMessage(`{}`), engine.WithRunID(id))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	return done
}

// waitTasks polls a run until its stored task list reads want (or fails).
func waitTasks(t *testing.T, e *engine.Engine, id string, want ...string) runView {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		b, err := e.Show(context.Background(), id)
		if err == nil {
			var v runView
			_ = json.Unmarshal(b, &v)
			var g []string
			for _, tk := range v.Tasks {
				g = append(g, tk.TaskType+":"+tk.Status)
			}
			if len(g) == len(want) {
				same := true
				for i := range g {
					same = same && g[i] == want[i]
				}
				if same {
					return v
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s tasks %v, want %v", id, g, want)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("run %s: %v", id, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TaskLimitsWorkflowSpec "Verify that the rate limiting for simple tasks is
// honored": test_simple_task_with_rateLimits allows 1 start per 10 s. The
// first run completes; the second run's task stays SCHEDULED (no worker
// gets it) until the 10 s have passed, then completes.
func TestConductorRateLimitedSimpleTask(t *testing.T) {
	clock := engine.NewManualClock(time.Now())
	var calls atomic.Int32
	e := harnessEngine(t, nil, engine.WithClock(clock),
		engine.WithWorker("test_simple_task_with_rateLimits", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			calls.Add(1)
			return json.RawMessage(`{}`), nil
		}))
	d := harnessDef(t, e, "rate_limited_simple_task_workflow_integration_test.json")
	res := <-startAsync(t, e, d, "rl-1")
	if res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("first run %+v", res)
	}
	checkTasks(t, viewRun(t, e, "rl-1").Tasks, "test_simple_task_with_rateLimits:COMPLETED")

	done := startAsync(t, e, d, "rl-2")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := clock.WaitForWaiters(ctx, 1); err != nil { // the rate window
		t.Fatal(err)
	}
	wf := waitTasks(t, e, "rl-2", "test_simple_task_with_rateLimits:SCHEDULED")
	if wf.Status != engine.StatusRunning || calls.Load() != 1 {
		t.Fatalf("second run %s, worker calls %d", wf.Status, calls.Load())
	}
	clock.Advance(10 * time.Second)
	res = <-done
	if res == nil || res.Status != engine.StatusCompleted || calls.Load() != 2 {
		t.Fatalf("second run %+v, worker calls %d", res, calls.Load())
	}
	checkTasks(t, viewRun(t, e, "rl-2").Tasks, "test_simple_task_with_rateLimits:COMPLETED")
}

// TaskLimitsWorkflowSpec "Verify that concurrency limited tasks are honored
// during workflow execution": test_task_with_concurrency_limit allows one
// execution at a time. While the first run's task is IN_PROGRESS, the
// second run's stays SCHEDULED (not polled); once the first completes, the
// second's is handed to a worker.
func TestConductorConcurrencyLimitedTask(t *testing.T) {
	type call struct {
		in   json.RawMessage
		done chan struct{}
	}
	calls := make(chan call, 2)
	e := harnessEngine(t, nil, engine.WithWorker("test_task_with_concurrency_limit", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		c := call{in, make(chan struct{})}
		calls <- c
		select {
		case <-c.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return json.RawMessage(`{}`), nil
	}))
	d := harnessDef(t, e, "concurrency_limited_task_workflow_integration_test.json")
	done1 := startAsync(t, e, d, "cl-1")
	first := <-calls // the first run's task runs (IN_PROGRESS)
	done2 := startAsync(t, e, d, "cl-2")
	waitTasks(t, e, "cl-2", "test_task_with_concurrency_limit:SCHEDULED")
	select {
	case <-calls:
		t.Fatal("the second run's task was handed out while the first one ran")
	case <-time.After(50 * time.Millisecond):
	}
	close(first.done)
	if res := <-done1; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("first run %+v", res)
	}
	second := <-calls
	close(second.done)
	if res := <-done2; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("second run %+v", res)
	}
}
