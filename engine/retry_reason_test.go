package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// TestRetryShowsTheFailedAttemptsReason: Conductor's DeciderService.retry
// copies the failed attempt's reasonForIncompletion onto the retry it
// schedules; nothing clears it while the retry waits for a worker, and the
// worker's update sets it (WorkflowExecutor.updateTask takes the update's
// reason, none here). A retry of the run (taskToBeRescheduled) clears it.
// SimpleWorkflowSpec's integration_test_wf with integration_task_1 retried
// once, step by step.
func TestRetryShowsTheFailedAttemptsReason(t *testing.T) {
	zero, one := 0, 1
	rt := int64(120)
	defs := []*engine.TaskDef{{Name: "integration_task_1", Description: "integration_task_1", OwnerEmail: "test@harness.com",
		RetryCount: &one, RetryDelaySeconds: &zero, TimeoutSeconds: 120, ResponseTimeoutSeconds: &rt}}
	reasons := func(want ...string) func(*testing.T, *engine.Engine, runView) {
		return func(t *testing.T, _ *engine.Engine, wf runView) {
			t.Helper()
			for i, w := range want {
				if i >= len(wf.Tasks) || wf.Tasks[i].Reason != w {
					t.Fatalf("task %d's reasonForIncompletion: want %q; tasks %+v", i, w, wf.Tasks)
				}
			}
		}
	}
	const in = `{"param1":"p1 value","param2":"p2 value"}`
	runStepCases(t, []stepCase{
		{name: "retry reason completed", file: simpleWF, input: in, defs: defs, steps: []specStep{
			expect("RUNNING", 1, "0 integration_task_1:SCHEDULED"),
			failTask("integration_task_1", "failure...0"),
			expect("RUNNING", 2, "0 integration_task_1:FAILED", "1 integration_task_1:SCHEDULED").
				then(reasons("failure...0", "failure...0")),
			complete("integration_task_1", `{"op":"task1.done"}`),
			expect("RUNNING", 3, "1 integration_task_1:COMPLETED", "2 integration_task_2:SCHEDULED").
				then(reasons("failure...0", "", "")),
			complete("integration_task_2", ""),
			expect("COMPLETED", 3, "2 integration_task_2:COMPLETED"),
		}},
		{name: "retry reason failed and retried by the run", file: simpleWF, input: in, defs: defs, steps: []specStep{
			failTask("integration_task_1", "failure...0"),
			expect("RUNNING", 2, "1 integration_task_1:SCHEDULED").then(reasons("failure...0", "failure...0")),
			failTask("integration_task_1", "failure...1"),
			expect("FAILED", 2, "1 integration_task_1:FAILED").then(reasons("failure...0", "failure...1")),
			retryRun(false),
			expect("RUNNING", 3, "2 integration_task_1:SCHEDULED").then(reasons("failure...0", "failure...1", "")),
			complete("integration_task_1", ""),
			expect("RUNNING", 4, "2 integration_task_1:COMPLETED"),
			complete("integration_task_2", ""),
			expect("COMPLETED", 4),
		}},
	})
}

// TestRetriedSystemTaskKeepsTheReason: a system task's execution sets no
// reasonForIncompletion when it completes (Conductor's HttpTask leaves the
// record's as it is), so an HTTP task whose retry succeeds keeps the
// reason DeciderService.retry copied from the failed attempt.
func TestRetriedSystemTaskKeepsTheReason(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			http.Error(w, "down for now", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
	res := h.run(`{"name":"http_retry_reason","tasks":[{"name":"get","taskReferenceName":"get","type":"HTTP",
	  "inputParameters":{"http_request":{"uri":"`+srv.URL+`","method":"GET"}},
	  "taskDefinition":{"retryCount":1,"retryDelaySeconds":0}}]}`, `{}`)
	wf := viewRun(t, h.e, res.RunID)
	if res.Status != engine.StatusCompleted || len(wf.Tasks) != 2 {
		t.Fatalf("run %s, tasks %+v", res.Status, wf.Tasks)
	}
	first, retry := wf.Tasks[0], wf.Tasks[1]
	if first.Status != engine.TaskFailed || first.Reason == "" {
		t.Fatalf("first attempt %+v, want FAILED with a reason", first)
	}
	if retry.Status != engine.TaskCompleted || retry.Reason != first.Reason || retry.RetriedTaskID != first.TaskID {
		t.Fatalf("retry %+v, want COMPLETED with the reason %q", retry, first.Reason)
	}
}

// TestRetryKeepsTheReasonAcrossAResume: a retry stored SCHEDULED and
// resumed by another engine keeps the failed attempt's reason while it
// runs, until its worker answers, as in the engine that scheduled it.
func TestRetryKeepsTheReasonAcrossAResume(t *testing.T) {
	store := runstore.NewMemory()
	one, zero := 1, 0
	defs := engine.NewTaskDefs()
	if err := defs.Put(&engine.TaskDef{Name: "w_flaky", RetryCount: &one, RetryDelaySeconds: &zero}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	running := make(chan struct{}, 2)
	// The first engine hands the task to remote workers, so the retry's
	// record is stored SCHEDULED before a worker takes it.
	a := harnessEngine(t, store, engine.WithKeyring(keyring(t, 7)), engine.WithTaskDefs(defs), engine.WithRemoteWorker(func(ctx context.Context, _ engine.RemoteTask) tasks.Result {
		if calls.Add(1) == 1 {
			return tasks.Result{Status: tasks.Failed, Reason: "boom"}
		}
		running <- struct{}{}
		<-ctx.Done()
		return tasks.Result{}
	}))
	d, err := a.Parse([]byte(`{"name":"retry_reason_resume","version":1,"schemaVersion":2,"tasks":[{"name":"w_flaky","taskReferenceName":"only"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	go func() {
		defer close(ended)
		_, _ = a.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID("retry-reason-resume"))
	}()
	<-running
	cancel()
	<-ended

	finish := make(chan struct{})
	b := harnessEngine(t, store, engine.WithKeyring(keyring(t, 7)), engine.WithTaskDefs(defs), engine.WithWorker("w_flaky", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		running <- struct{}{}
		select {
		case <-finish:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return json.RawMessage(`{"r":"done"}`), nil
	}))
	done := make(chan error, 1)
	go func() {
		res, err := b.Resume(context.Background(), "retry-reason-resume")
		if err == nil && res.Status != engine.StatusCompleted {
			err = fmt.Errorf("resumed run %s", res.Status)
		}
		done <- err
	}()
	select {
	case <-running:
	case err := <-done:
		t.Fatalf("the resumed run ended before its retry ran: %v", err)
	}
	wf := viewRun(t, b, "retry-reason-resume")
	close(finish)
	if len(wf.Tasks) != 2 || wf.Tasks[1].Status != engine.TaskInProgress || wf.Tasks[1].Reason != "boom" {
		t.Errorf("the resumed retry while it runs: %+v, want it IN_PROGRESS with the reason boom", wf.Tasks)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	wf = viewRun(t, b, "retry-reason-resume")
	if len(wf.Tasks) != 2 || wf.Tasks[1].Status != engine.TaskCompleted || wf.Tasks[1].Reason != "" {
		t.Errorf("after the resume: %+v, want the retry COMPLETED without a reason", wf.Tasks)
	}
}
