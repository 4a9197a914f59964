package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// retryPolicyDef is RetryPolicySpec's Groovy-built retry_policy_wf
// (setup()): one SIMPLE task, workflow timeout 3600 s ALERT_ONLY.
const retryPolicyDef = `{"name":"retry_policy_wf","version":1,"ownerEmail":"test@example.com","timeoutSeconds":3600,"timeoutPolicy":"ALERT_ONLY",
 "tasks":[{"name":"retry_policy_task","taskReferenceName":"retry_task_ref","type":"SIMPLE"}]}`

// delayRange is when a retry may run, after the failure before it.
type delayRange struct{ min, max time.Duration }

func exactly(d time.Duration) delayRange { return delayRange{d, d} }

// RetryPolicySpec's maxRetryDelaySeconds and backoffJitterMs cases: after
// each failure the retry is recorded at once, SCHEDULED, with the
// callbackAfterSeconds the spec reads off it (the capped delay, without the
// jitter), and runs once its delay has passed. The test measures the wait
// on a manual clock (the spec's callbackAfterMs): the retry's timer is
// still pending one millisecond before the earliest delay allowed, and has
// fired at the latest. (The task definitions leave out the spec's 3600 s
// task timeouts, so that the retry's timer is the only one besides the
// workflow's.)
func TestConductorRetryPolicySpec(t *testing.T) {
	scale := 2
	for _, tc := range []struct {
		name    string
		def     engine.TaskDef
		retries int
		delay   int
		delays  []delayRange
		after   []int64 // the retries' callbackAfterSeconds
	}{
		{"exponential backoff delay is capped by maxRetryDelaySeconds", engine.TaskDef{RetryLogic: "EXPONENTIAL_BACKOFF", MaxRetryDelaySeconds: 3},
			5, 2, []delayRange{exactly(2 * time.Second), exactly(3 * time.Second), exactly(3 * time.Second)}, []int64{2, 3, 3}},
		{"linear backoff delay is capped by maxRetryDelaySeconds", engine.TaskDef{RetryLogic: "LINEAR_BACKOFF", BackoffScaleFactor: &scale, MaxRetryDelaySeconds: 5},
			5, 2, []delayRange{exactly(4 * time.Second), exactly(5 * time.Second), exactly(5 * time.Second)}, []int64{4, 5, 5}},
		{"backoffJitterMs adds a random offset in [0, maxJitterMs] to the retry delay", engine.TaskDef{RetryLogic: "FIXED", BackoffJitterMs: 5000},
			3, 60, []delayRange{{60 * time.Second, 65 * time.Second}}, []int64{60}},
		{"backoffJitterMs of zero produces no jitter", engine.TaskDef{RetryLogic: "FIXED"},
			3, 30, []delayRange{exactly(30 * time.Second)}, []int64{30}},
		{"cap is applied before jitter", engine.TaskDef{RetryLogic: "EXPONENTIAL_BACKOFF", MaxRetryDelaySeconds: 3, BackoffJitterMs: 2000},
			5, 2, []delayRange{{2 * time.Second, 4 * time.Second}, {3 * time.Second, 5 * time.Second}}, []int64{2, 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			td := tc.def
			td.Name, td.RetryCount, td.RetryDelaySeconds, td.ResponseTimeoutSeconds = "retry_policy_task", &tc.retries, &tc.delay, new(int64)
			defs := harnessTaskDefs(t)
			if err := defs.Put(&td); err != nil {
				t.Fatal(err)
			}
			clock := engine.NewManualClock(time.Now())
			calls := make(chan struct{}, 10)
			e := harnessEngine(t, nil, engine.WithTaskDefs(defs), engine.WithClock(clock),
				engine.WithWorker("retry_policy_task", func(context.Context, json.RawMessage) (json.RawMessage, error) {
					calls <- struct{}{}
					return nil, errors.New("failed")
				}))
			d, err := e.Parse([]byte(retryPolicyDef))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			ended := make(chan struct{})
			go func() {
				defer close(ended)
				_, _ = e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID("retry-policy"))
			}()
			defer func() { cancel(); <-ended }() // the run, interrupted, stays resumable
			<-calls
			for i, want := range tc.delays {
				// The workflow's timer and the retry's.
				if err := clock.WaitForWaiters(ctx, 2); err != nil {
					t.Fatal(err)
				}
				failed := "FAILED 0" // the attempt that failed: the first, or a retry with its own callback
				if i > 0 {
					failed = fmt.Sprintf("FAILED %d", tc.after[i-1])
				}
				if got := retryCallbacks(t, e, "retry-policy"); len(got) != i+2 || got[i] != failed || got[i+1] != fmt.Sprintf("SCHEDULED %d", tc.after[i]) {
					t.Fatalf("retry %d: tasks %v, want ... %s, SCHEDULED %d", i, got, failed, tc.after[i])
				}
				clock.Advance(want.min - time.Millisecond)
				if n := clock.Waiters(); n != 2 {
					t.Fatalf("retry %d fired before %v (%d timers left)", i, want.min, n)
				}
				select {
				case <-calls:
					t.Fatalf("retry %d ran before %v", i, want.min)
				default:
				}
				clock.Advance(want.max - want.min + time.Millisecond)
				select {
				case <-calls:
				case <-ctx.Done():
					t.Fatalf("retry %d did not run by %v", i, want.max)
				}
			}
		})
	}
}

// A negative backoffJitterMs is refused with the task definition.
func TestTaskDefNegativeJitter(t *testing.T) {
	err := engine.NewTaskDefs().Put(&engine.TaskDef{Name: "jittery", BackoffJitterMs: -1})
	if !errors.Is(err, engine.ErrInvalidTaskDef) || !strings.Contains(err.Error(), "backoffJitterMs must not be negative") {
		t.Fatalf("error %v", err)
	}
}

// RetryPolicySpec "totalTimeoutSeconds=0 is disabled — retries continue as
// normal" and "totalTimeoutSeconds exceeded on retry — workflow fails with
// no further retries", translated: where the spec backdates the task's
// firstScheduledTime by 60 s, the test moves a manual clock 60 s while the
// first attempt runs; that attempt then fails. The task's timeoutPolicy is
// ALERT_ONLY here (the spec's is TIME_OUT_WF, and it accepts FAILED or
// TIMED_OUT): the budget spent while the attempt runs only reports, and the
// failure's retry meets the guard. With TIME_OUT_WF or RETRY the attempt is
// timed out first (TestConductorRetryPolicyTotalTimeoutInProgress).
func TestConductorRetryPolicyTotalTimeout(t *testing.T) {
	for _, total := range []int64{0, 5} {
		t.Run(fmt.Sprint("totalTimeoutSeconds=", total), func(t *testing.T) {
			retries, delay := 10, 0
			defs := harnessTaskDefs(t)
			if err := defs.Put(&engine.TaskDef{Name: "retry_policy_task", RetryCount: &retries, RetryDelaySeconds: &delay, RetryLogic: "FIXED",
				TotalTimeoutSeconds: total, ResponseTimeoutSeconds: new(int64), TimeoutPolicy: "ALERT_ONLY"}); err != nil {
				t.Fatal(err)
			}
			clock := engine.NewManualClock(time.Now())
			calls := make(chan struct{}, 10)
			release := make(chan struct{})
			var n atomic.Int32
			e := harnessEngine(t, nil, engine.WithTaskDefs(defs), engine.WithClock(clock),
				engine.WithWorker("retry_policy_task", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
					calls <- struct{}{}
					if n.Add(1) == 1 {
						<-release
						return nil, errors.New("failed")
					}
					return json.RawMessage(`{}`), nil
				}))
			d, err := e.Parse([]byte(retryPolicyDef))
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan *engine.Result, 1)
			go func() {
				res, err := e.Start(context.Background(), d, json.RawMessage(`{}`), engine.WithRunID("total-timeout"))
				if err != nil {
					t.Error(err)
				}
				done <- res
			}()
			<-calls
			clock.Advance(60 * time.Second)
			close(release)
			res := <-done
			wf := viewRun(t, e, "total-timeout")
			if total == 0 {
				if res.Status != engine.StatusCompleted {
					t.Fatalf("%s %q", res.Status, res.Reason)
				}
				checkTasks(t, wf.Tasks, "retry_policy_task:FAILED", "retry_policy_task:COMPLETED")
				return
			}
			if res.Status != engine.StatusFailed {
				t.Fatalf("%s %q", res.Status, res.Reason)
			}
			checkTasks(t, wf.Tasks, "retry_policy_task:FAILED")
			want := "Task " + wf.Tasks[0].TaskID + "/retry_policy_task exceeded total timeout of 5 seconds (elapsed 60 seconds across all attempts). No further retries will be attempted."
			if wf.Reason != want {
				t.Fatalf("reason %q, want %q", wf.Reason, want)
			}
		})
	}
}

// RetryPolicySpec "totalTimeoutSeconds exceeded in checkTotalTimeout —
// IN_PROGRESS task is timed out", translated: the spec backdates the
// running task's firstScheduledTime by 60 s and sweeps; the test moves a
// manual clock 60 s while the attempt runs (its responseTimeoutSeconds is
// left out, so the total budget alone times it out). The attempt ends
// TIMED_OUT; with timeoutPolicy RETRY its retry finds the budget spent, and
// the run ends TIMED_OUT.
func TestConductorRetryPolicyTotalTimeoutInProgress(t *testing.T) {
	retries, delay := 10, 0
	defs := harnessTaskDefs(t)
	if err := defs.Put(&engine.TaskDef{Name: "retry_policy_task", RetryCount: &retries, RetryDelaySeconds: &delay, RetryLogic: "FIXED",
		TotalTimeoutSeconds: 5, ResponseTimeoutSeconds: new(int64), TimeoutPolicy: "RETRY"}); err != nil {
		t.Fatal(err)
	}
	clock := engine.NewManualClock(time.Now())
	calls := make(chan struct{}, 10)
	e := harnessEngine(t, nil, engine.WithTaskDefs(defs), engine.WithClock(clock),
		engine.WithWorker("retry_policy_task", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			calls <- struct{}{}
			<-ctx.Done()
			return nil, ctx.Err()
		}))
	d, err := e.Parse([]byte(retryPolicyDef))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(context.Background(), d, json.RawMessage(`{}`), engine.WithRunID("total-in-progress"))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	<-calls
	// The workflow's timer and the task's total budget.
	if err := clock.WaitForWaiters(ctx, 2); err != nil {
		t.Fatal(err)
	}
	clock.Advance(60 * time.Second)
	res := <-done
	if res == nil || res.Status != engine.StatusTimedOut {
		t.Fatalf("run %+v", res)
	}
	wf := viewRun(t, e, "total-in-progress")
	checkTasks(t, wf.Tasks, "retry_policy_task:TIMED_OUT")
	if want := "Task retry_policy_task/" + wf.Tasks[0].TaskID + " exceeded total timeout of 5 seconds"; !strings.HasPrefix(wf.Tasks[0].Reason, want) {
		t.Fatalf("task reason %q, want %q...", wf.Tasks[0].Reason, want)
	}
}

// retryCallbacks is "STATUS callbackAfterSeconds" of each task of run id.
func retryCallbacks(t *testing.T, e *engine.Engine, id string) []string {
	t.Helper()
	b, err := e.Show(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Tasks []struct {
			Status   string `json:"status"`
			Callback int64  `json:"callbackAfterSeconds"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tk := range v.Tasks {
		out = append(out, fmt.Sprintf("%s %d", tk.Status, tk.Callback))
	}
	return out
}
