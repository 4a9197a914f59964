package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// TestWaitRetryDelayInterrupted: a WAIT retried after a timeout waits its
// retryDelaySeconds SCHEDULED, on the engine clock, polling the run's
// signals; a pause, a terminate, a skip or a completion made during that wait
// takes effect without the clock moving, and the wait's timer is released.
func TestWaitRetryDelayInterrupted(t *testing.T) {
	tests := []struct {
		name   string
		act    func(ctx context.Context, e *engine.Engine, id string) error
		status string
		tasks  []string
	}{
		{
			name:   "terminate",
			act:    func(ctx context.Context, e *engine.Engine, id string) error { return e.Terminate(ctx, id, "stop") },
			status: engine.StatusTerminated,
			tasks:  []string{"WAIT:TIMED_OUT", "WAIT:CANCELED"},
		},
		{
			name: "pause, complete, resume",
			act: func(ctx context.Context, e *engine.Engine, id string) error {
				if err := e.Pause(ctx, id); err != nil {
					return err
				}
				if _, err := e.CompleteTask(ctx, id, "wait0", engine.TaskCompleted, nil); err != nil {
					return err
				}
				return e.ResumePaused(ctx, id)
			},
			status: engine.StatusCompleted,
			tasks:  []string{"WAIT:TIMED_OUT", "WAIT:COMPLETED", "integration_task_1:COMPLETED"},
		},
		{
			name: "skip the next task, complete",
			act: func(ctx context.Context, e *engine.Engine, id string) error {
				if err := e.SkipTask(ctx, id, "t1", engine.SkipRequest{}); err != nil {
					return err
				}
				_, err := e.CompleteTask(ctx, id, "wait0", engine.TaskCompleted, nil)
				return err
			},
			status: engine.StatusCompleted,
			tasks:  []string{"integration_task_1:SKIPPED", "WAIT:TIMED_OUT", "WAIT:COMPLETED"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := engine.NewManualClock(time.Now())
			e := harnessEngine(t, nil, append(harnessWorkers(nil, nil), engine.WithClock(clock))...)
			d := harnessDef(t, e, "simple_wait_task_workflow_integration_test.json")
			id := "wait-retry-" + tt.name
			done := startAsync(t, e, d, id)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			waitTasks(t, e, id, "WAIT:IN_PROGRESS")
			if err := clock.WaitForWaiters(ctx, 1); err != nil {
				t.Fatal(err)
			}
			clock.Advance(3 * time.Second) // the WAIT's timeoutSeconds
			if err := clock.WaitForWaiters(ctx, 1); err != nil {
				t.Fatal(err) // the retry's delay
			}
			waitTasks(t, e, id, "WAIT:TIMED_OUT", "WAIT:SCHEDULED")
			if err := tt.act(ctx, e, id); err != nil {
				t.Fatal(err)
			}
			select {
			case res := <-done:
				if res == nil || res.Status != tt.status {
					t.Fatalf("run %+v, want %s", res, tt.status)
				}
			case <-ctx.Done():
				t.Fatal("the run did not end while its retry waited")
			}
			checkTasks(t, viewRun(t, e, id).Tasks, tt.tasks...)
			// The run's result can come before the goroutine that waited
			// has unwound and stopped its timer: released within 10 s.
			for deadline := time.Now().Add(10 * time.Second); clock.Waiters() != 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d timers left pending", clock.Waiters())
				}
			}
		})
	}
}
