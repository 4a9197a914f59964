package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// retryPolicyDef is RetryPolicySpec's Groovy-built retry_policy_wf
// (setup()): one SIMPLE task, workflow timeout 3600 s ALERT_ONLY.
const retryPolicyDef = `{"name":"retry_policy_wf","version":1,"ownerEmail":"test@example.com","timeoutSeconds":3600,"timeoutPolicy":"ALERT_ONLY",
 "tasks":[{"name":"retry_policy_task","taskReferenceName":"retry_task_ref","type":"SIMPLE"}]}`

// RetryPolicySpec "Exponential backoff delay is capped by
// maxRetryDelaySeconds" and "Linear backoff delay is capped by
// maxRetryDelaySeconds", translated: Conductor schedules the retry at once
// with callbackAfterSeconds (the spec reads it off the SCHEDULED copy);
// wfrun waits that long on the engine clock before it schedules the copy.
// The test measures the wait on a manual clock: after each failure the
// retry's timer is pending one millisecond before the expected delay and
// fires at it. (The task definition leaves out the spec's 3600 s task
// timeouts, so that the retry's timer is the only one besides the
// workflow's.)
func TestConductorRetryDelayCap(t *testing.T) {
	scale := 2
	for _, tc := range []struct {
		name   string
		def    engine.TaskDef
		delays []time.Duration
	}{
		{"exponential backoff capped", engine.TaskDef{RetryLogic: "EXPONENTIAL_BACKOFF", MaxRetryDelaySeconds: 3},
			[]time.Duration{2 * time.Second, 3 * time.Second, 3 * time.Second}},
		{"linear backoff capped", engine.TaskDef{RetryLogic: "LINEAR_BACKOFF", BackoffScaleFactor: &scale, MaxRetryDelaySeconds: 5},
			[]time.Duration{4 * time.Second, 5 * time.Second, 5 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			retries, delay := 5, 2
			td := tc.def
			td.Name, td.RetryCount, td.RetryDelaySeconds, td.ResponseTimeoutSeconds = "retry_policy_task", &retries, &delay, new(int64)
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
				_, _ = e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID("retry-cap"))
			}()
			defer func() { cancel(); <-ended }() // the run, interrupted, stays resumable
			<-calls
			for i, want := range tc.delays {
				// The workflow's timer and the retry's.
				if err := clock.WaitForWaiters(ctx, 2); err != nil {
					t.Fatal(err)
				}
				clock.Advance(want - time.Millisecond)
				if n := clock.Waiters(); n != 2 {
					t.Fatalf("retry %d fired before %v (%d timers left)", i, want, n)
				}
				select {
				case <-calls:
					t.Fatalf("retry %d ran before %v", i, want)
				default:
				}
				clock.Advance(time.Millisecond)
				select {
				case <-calls:
				case <-ctx.Done():
					t.Fatalf("retry %d did not run after %v", i, want)
				}
			}
		})
	}
}
