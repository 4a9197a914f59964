package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// countingUserTask is the harness's USER_TASK (userTask), counting its
// executions.
type countingUserTask struct{ calls atomic.Int32 }

func (u *countingUserTask) Execute(ctx context.Context, req *tasks.Request) tasks.Result {
	u.calls.Add(1)
	return userTask{}.Execute(ctx, req)
}

// TaskLimitsWorkflowSpec "Verify that the rate limiting for system tasks is
// honored": test_task_with_rateLimits (a USER_TASK system task whose
// definition allows 1 execution per 10 s). The first run's task executes
// and the run completes; the second run's task stays SCHEDULED, not
// executed, while the window lasts (the spec stops there; here the window
// then passes and the run completes).
func TestConductorRateLimitedSystemTask(t *testing.T) {
	ut := &countingUserTask{}
	reg := tasks.NewDefaultRegistry()
	reg.Register("USER_TASK", ut)
	clock := engine.NewManualClock(time.Now())
	e := harnessEngine(t, nil, engine.WithRegistry(reg), engine.WithClock(clock))
	d := harnessDef(t, e, "rate_limited_system_task_workflow_integration_test.json")
	res := <-startAsync(t, e, d, "rls-1")
	if res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("first run %+v", res)
	}
	checkTasks(t, viewRun(t, e, "rls-1").Tasks, "USER_TASK:COMPLETED")

	done := startAsync(t, e, d, "rls-2")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := clock.WaitForWaiters(ctx, 1); err != nil { // the rate window
		t.Fatal(err)
	}
	wf := waitTasks(t, e, "rls-2", "USER_TASK:SCHEDULED")
	if wf.Status != engine.StatusRunning || ut.calls.Load() != 1 {
		t.Fatalf("second run %s, executions %d", wf.Status, ut.calls.Load())
	}
	clock.Advance(10 * time.Second)
	res = <-done
	if res == nil || res.Status != engine.StatusCompleted || ut.calls.Load() != 2 {
		t.Fatalf("second run %+v, executions %d", res, ut.calls.Load())
	}
	checkTasks(t, viewRun(t, e, "rls-2").Tasks, "USER_TASK:COMPLETED")
}

// WorkflowAndTaskConfigurationSpec "Test simple workflow which has an
// optional task" and "... a permissive optional task", as the spec runs
// them: task_optional (its definition: retryCount 1, retryDelaySeconds 0,
// timeoutSeconds 5, responseTimeoutSeconds 5, timeoutPolicy RETRY) fails
// once with 'NETWORK ERROR'; its retry is polled and never answered, so it
// times out after 5 s and, optional, ends COMPLETED_WITH_ERRORS; the run
// goes on to integration_task_2 and COMPLETES.
func TestConductorOptionalTaskTimesOut(t *testing.T) {
	for _, file := range []string{"simple_workflow_with_optional_task_integration_test.json", "simple_workflow_with_permissive_optional_task_integration_test.json"} {
		t.Run(file, func(t *testing.T) {
			clock := engine.NewManualClock(time.Now())
			var attempts atomic.Int32
			polled := make(chan struct{}, 2)
			t2 := make(chan struct{})
			e := harnessEngine(t, nil, engine.WithClock(clock),
				engine.WithWorker("task_optional", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
					if attempts.Add(1) == 1 {
						return nil, errors.New("NETWORK ERROR")
					}
					polled <- struct{}{}
					<-ctx.Done() // polled, never answered
					return nil, ctx.Err()
				}),
				engine.WithWorker("integration_task_2", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
					select {
					case <-t2:
					case <-ctx.Done():
						return nil, ctx.Err()
					}
					return json.RawMessage(`{}`), nil
				}))
			d := harnessDef(t, e, file)
			done := make(chan *engine.Result, 1)
			go func() {
				res, err := e.Start(context.Background(), d, json.RawMessage(`{"param1":"p1 value","param2":"p2 value"}`), engine.WithRunID("optional"))
				if err != nil {
					t.Error(err)
				}
				done <- res
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			select {
			case <-polled:
			case <-ctx.Done():
				t.Fatal("the retry was never polled")
			}
			wf := waitTasks(t, e, "optional", "task_optional:FAILED", "task_optional:IN_PROGRESS")
			if wf.Status != engine.StatusRunning || wf.Tasks[0].Reason != "NETWORK ERROR" {
				t.Fatalf("%s, first attempt's reason %q", wf.Status, wf.Tasks[0].Reason)
			}
			// timeoutSeconds and responseTimeoutSeconds of the retry.
			if err := clock.WaitForWaiters(ctx, 2); err != nil {
				t.Fatal(err)
			}
			clock.Advance(5 * time.Second)
			wf = waitTasks(t, e, "optional", "task_optional:FAILED", "task_optional:COMPLETED_WITH_ERRORS", "integration_task_2:IN_PROGRESS")
			if wf.Status != engine.StatusRunning {
				t.Fatalf("status %s", wf.Status)
			}
			close(t2)
			if res := <-done; res == nil || res.Status != engine.StatusCompleted {
				t.Fatalf("run %+v", res)
			}
			checkTasks(t, viewRun(t, e, "optional").Tasks, "task_optional:FAILED", "task_optional:COMPLETED_WITH_ERRORS", "integration_task_2:COMPLETED")
		})
	}
}
