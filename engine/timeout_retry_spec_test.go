package engine_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// WorkflowAndTaskConfigurationSpec "Test retrying a timed out workflow due
// to workflow timeout" (integration_task_1 never answers) and "... without
// unsuccessful tasks" (integration_task_1 completes, integration_task_2
// never answers): integration_test_wf3 with TIME_OUT_WF and timeoutSeconds 5
// (as the spec sets them) times out with the waiting task CANCELED and no
// lastRetriedTime; a retry sets lastRetriedTime, schedules a copy of the
// cancelled task, and the workflow timeout counts from the retry, so the
// retried run completes (the spec stops at the SCHEDULED copy; the test's
// workers answer it).
func TestConductorRetryTimedOutWorkflow(t *testing.T) {
	for _, tc := range []struct {
		name, blocked string
		timedOut      []string
		done          []string
	}{
		{"task never answers", "integration_task_1", []string{"integration_task_1:CANCELED"},
			[]string{"integration_task_1:CANCELED", "integration_task_1:COMPLETED", "integration_task_2:COMPLETED", "integration_task_3:COMPLETED"}},
		{"without unsuccessful tasks", "integration_task_2", []string{"integration_task_1:COMPLETED", "integration_task_2:CANCELED"},
			[]string{"integration_task_1:COMPLETED", "integration_task_2:CANCELED", "integration_task_2:COMPLETED", "integration_task_3:COMPLETED"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clock := engine.NewManualClock(time.Now())
			polled := make(chan struct{}, 2)
			proceed := make(chan struct{})
			var once sync.Once
			opts := append(harnessWorkers(nil, nil), engine.WithClock(clock),
				engine.WithWorker(tc.blocked, func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
					first := false
					once.Do(func() { first = true })
					polled <- struct{}{}
					if first {
						<-ctx.Done()
						return nil, ctx.Err()
					}
					// The retried attempt answers once the test let the
					// clock move 4 s past the retry.
					select {
					case <-proceed:
						return json.RawMessage(`{}`), nil
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}))
			e := harnessEngine(t, nil, opts...)
			d := patchedHarnessDef(t, e, "simple_workflow_3_integration_test.json", func(m map[string]any) {
				m["timeoutPolicy"], m["timeoutSeconds"] = "TIME_OUT_WF", 5
			})
			done := make(chan *engine.Result, 1)
			go func() {
				res, err := e.Start(context.Background(), d, json.RawMessage(`{"param1":"p1 value","param2":"p2 value"}`),
					engine.WithRunID("retry-timeout"), engine.WithCorrelationID("retry_timeout_wf"))
				if err != nil {
					t.Error(err)
				}
				done <- res
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			<-polled
			// The workflow's deadline and the task's two timeouts (120 s).
			if err := clock.WaitForWaiters(ctx, 3); err != nil {
				t.Fatal(err)
			}
			clock.Advance(6 * time.Second)
			if res := <-done; res == nil || res.Status != engine.StatusTimedOut {
				t.Fatalf("run %+v", res)
			}
			wf, last := viewRetried(t, e, "retry-timeout")
			checkTasks(t, wf.Tasks, tc.timedOut...)
			if last != 0 {
				t.Fatalf("lastRetriedTime %d before a retry", last)
			}
			cancelled := wf.Tasks[len(wf.Tasks)-1]

			clock.Advance(time.Minute) // the retry comes well after the deadline
			retried := make(chan error, 1)
			go func() {
				_, err := e.Restart(context.Background(), "retry-timeout", false)
				retried <- err
			}()
			select {
			case <-polled:
			case err := <-retried:
				t.Fatalf("the retried run ended before its task was polled: %v", err)
			}
			clock.Advance(4 * time.Second)
			close(proceed)
			if err := <-retried; err != nil {
				t.Fatal(err)
			}
			wf, last = viewRetried(t, e, "retry-timeout")
			if wf.Status != engine.StatusCompleted {
				t.Fatalf("after retry: %s %q", wf.Status, wf.Reason)
			}
			checkTasks(t, wf.Tasks, tc.done...)
			if want := clock.Now().Add(-4 * time.Second).UnixMilli(); last != want {
				t.Fatalf("lastRetriedTime %d, want %d", last, want)
			}
			if retried := wf.Tasks[len(tc.timedOut)]; retried.RetriedTaskID != cancelled.TaskID || retried.Ref != cancelled.Ref {
				t.Fatalf("retried %+v of %+v", retried, cancelled)
			}
		})
	}
}

func viewRetried(t *testing.T, e *engine.Engine, id string) (runView, int64) {
	t.Helper()
	b, err := e.Show(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		LastRetriedTime int64 `json:"lastRetriedTime"`
	}
	_ = json.Unmarshal(b, &v)
	return viewRun(t, e, id), v.LastRetriedTime
}

// WorkflowAndTaskConfigurationSpec "Test wait time out task based simple
// workflow": the WAIT task waitTimeout (its definition: timeoutSeconds 2,
// timeoutPolicy RETRY, retryCount 1, retryDelaySeconds 10) times out and is
// retried: at once, SCHEDULED with callbackAfterSeconds 10, as the spec
// asserts; the retried WAIT is completed from outside while it is
// SCHEDULED (its 10 s not passed: the manual clock is not moved), the
// completion is taken at once, and integration_task_1 completes the run.
func TestConductorWaitTimeoutRetried(t *testing.T) {
	clock := engine.NewManualClock(time.Now())
	e := harnessEngine(t, nil, append(harnessWorkers(nil, nil), engine.WithClock(clock))...)
	d := harnessDef(t, e, "simple_wait_task_workflow_integration_test.json")
	done := startAsync(t, e, d, "wait-timeout")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	waitTasks(t, e, "wait-timeout", "WAIT:IN_PROGRESS")
	// The WAIT's timeoutSeconds.
	if err := clock.WaitForWaiters(ctx, 1); err != nil {
		t.Fatal(err)
	}
	clock.Advance(3 * time.Second)
	// The retry's delay.
	if err := clock.WaitForWaiters(ctx, 1); err != nil {
		t.Fatal(err)
	}
	wf := waitTasks(t, e, "wait-timeout", "WAIT:TIMED_OUT", "WAIT:SCHEDULED")
	if got := retryCallbacks(t, e, "wait-timeout"); wf.Status != engine.StatusRunning || got[1] != "SCHEDULED 10" {
		t.Fatalf("%s, tasks %v: want the retry SCHEDULED with callbackAfterSeconds 10", wf.Status, got)
	}
	if wf.Tasks[1].RetriedTaskID != wf.Tasks[0].TaskID {
		t.Fatalf("retried %+v", wf.Tasks[1])
	}
	if _, err := e.CompleteTask(context.Background(), "wait-timeout", "wait0", engine.TaskCompleted, nil); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("run %+v", res)
	}
	checkTasks(t, viewRun(t, e, "wait-timeout").Tasks, "WAIT:TIMED_OUT", "WAIT:COMPLETED", "integration_task_1:COMPLETED")
}
