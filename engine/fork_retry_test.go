package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// forkRetryWorkers answers the RT_1..RT_4 workers of the fork retry
// definitions (names prefix+"1".."4"). While failing is set, the branch
// tasks fail as the spec's pollAndFailTask calls do: RT_2 once RT_3 runs,
// and RT_3 too when failT3, else RT_3 waits until it is cancelled. Once
// failing is cleared every worker completes.
func forkRetryWorkers(prefix string, failing *atomic.Bool, failT3 bool) []engine.Option {
	var once sync.Once
	t3running := make(chan struct{})
	ok := func(context.Context, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`{}`), nil }
	return []engine.Option{
		engine.WithWorker(prefix+"1", ok), engine.WithWorker(prefix+"4", ok),
		engine.WithWorker(prefix+"2", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if !failing.Load() {
				return json.RawMessage(`{}`), nil
			}
			select {
			case <-t3running:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return nil, errors.New("Failed....")
		}),
		engine.WithWorker(prefix+"3", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if !failing.Load() {
				return json.RawMessage(`{}`), nil
			}
			once.Do(func() { close(t3running) })
			if failT3 {
				return nil, errors.New("Failed....")
			}
			<-ctx.Done()
			return nil, ctx.Err()
		}),
	}
}

// ForkJoinSpec "Test retrying a failed fork join workflow" and "Test
// retrying a failed permissive fork join workflow": a branch task without
// retries fails (in the permissive workflow both branch tasks fail and the
// JOIN fails once they have ended); retrying the run (Conductor's
// workflowExecutor.retry, wfrun's Restart without fromStart) keeps every
// record, reopens the JOIN in place, and appends a copy of each failed or
// cancelled task (retriedTaskId, retryCount 1) in the order of the
// originals; the run then completes.
func TestConductorForkJoinRetry(t *testing.T) {
	for _, tc := range []struct {
		name, file, prefix string
		permissive         bool
		failedTasks        []string
	}{
		{"failed fork join workflow", "fork_join_with_no_task_retry_integration_test.json", "integration_task_0_RT_", false,
			[]string{"FORK:COMPLETED", "integration_task_0_RT_1:COMPLETED", "integration_task_0_RT_2:FAILED", "JOIN:CANCELED",
				"integration_task_0_RT_3:CANCELED"}},
		{"failed permissive fork join workflow", "fork_join_with_no_permissive_task_retry_integration_test.json", "integration_p_task_0_RT_", true,
			[]string{"FORK:COMPLETED", "integration_p_task_0_RT_1:COMPLETED", "integration_p_task_0_RT_2:FAILED", "JOIN:FAILED",
				"integration_p_task_0_RT_3:FAILED"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var failing atomic.Bool
			failing.Store(true)
			e := harnessEngine(t, nil, forkRetryWorkers(tc.prefix, &failing, tc.permissive)...)
			d := harnessDef(t, e, tc.file)
			res := startRun(t, e, d, `{}`, engine.WithCorrelationID("fanoutTest"))
			wf := viewRun(t, e, res.RunID)
			if wf.Status != engine.StatusFailed {
				t.Fatalf("%s %q", wf.Status, wf.Reason)
			}
			checkTasks(t, wf.Tasks, tc.failedTasks...)
			before := wf.Tasks

			failing.Store(false)
			if _, err := e.Restart(context.Background(), res.RunID, false); err != nil {
				t.Fatal(err)
			}
			wf = viewRun(t, e, res.RunID)
			if wf.Status != engine.StatusCompleted {
				t.Fatalf("after retry: %s %q", wf.Status, wf.Reason)
			}
			p := tc.prefix
			checkTasks(t, wf.Tasks, "FORK:COMPLETED", p+"1:COMPLETED", p+"2:FAILED", "JOIN:COMPLETED", p+"3:"+before[4].Status,
				p+"2:COMPLETED", p+"3:COMPLETED", p+"4:COMPLETED")
			for i := range before {
				if wf.Tasks[i].TaskID != before[i].TaskID {
					t.Fatalf("record %d is %s, was %s: a retry keeps every record", i, wf.Tasks[i].TaskID, before[i].TaskID)
				}
			}
			for i, orig := range map[int]int{5: 2, 6: 4} {
				if tk := wf.Tasks[i]; tk.RetriedTaskID != before[orig].TaskID || tk.RetryCount != 1 || tk.Ref != before[orig].Ref {
					t.Fatalf("task %d %s retriedTaskId %q retryCount %d, want a retry of %s", i, tk.Ref, tk.RetriedTaskID, tk.RetryCount, before[orig].TaskID)
				}
			}
			// The JOIN is reopened in place; a failed one that waited on
			// a failed permissive task keeps its retryCount.
			if j := wf.Tasks[3]; j.RetryCount != 0 || j.RetriedTaskID != "" {
				t.Fatalf("join retryCount %d retriedTaskId %q", j.RetryCount, j.RetriedTaskID)
			}
			seqs(1, 2, 3, 4, 5, 6, 7, 8)(t, e, wf)
		})
	}
}

// DynamicForkJoinSpec "Retry a failed dynamic fork join workflow":
// integration_task_2 (no retries) fails, integration_task_3 and the JOIN are
// cancelled; the retry keeps the records, reopens the JOIN (joinOn still
// the forked refs) and appends copies of the two forked tasks; the JOIN's
// output then maps each forked ref to its output, and integration_task_4
// completes the run.
func TestConductorDynamicForkJoinRetry(t *testing.T) {
	defs := harnessTaskDefs(t)
	zero := 0
	rt := int64(120)
	if err := defs.Put(&engine.TaskDef{Name: "integration_task_2", Description: "integration_task_2", OwnerEmail: "test@harness.com",
		RetryCount: &zero, TimeoutSeconds: 120, ResponseTimeoutSeconds: &rt}); err != nil {
		t.Fatal(err)
	}
	var failing atomic.Bool
	failing.Store(true)
	started := make(chan struct{})
	var once sync.Once
	e := harnessEngine(t, nil, engine.WithTaskDefs(defs),
		engine.WithWorker("integration_task_1", echoWorker(dynamicTasksOutput)),
		engine.WithWorker("integration_task_4", echoWorker(`{}`)),
		engine.WithWorker("integration_task_2", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if !failing.Load() {
				return json.RawMessage(`{"ok1":"ov1"}`), nil
			}
			<-started
			return nil, errors.New("it is a failure..")
		}),
		engine.WithWorker("integration_task_3", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if !failing.Load() {
				return json.RawMessage(`{"ok1":"ov1"}`), nil
			}
			once.Do(func() { close(started) })
			<-ctx.Done()
			return nil, ctx.Err()
		}))
	d := harnessDef(t, e, "dynamic_fork_join_integration_test.json")
	res := startRun(t, e, d, `{}`, engine.WithCorrelationID("dynamic_fork_join_workflow"))
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusFailed {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "FORK:COMPLETED", "integration_task_2:FAILED",
		"integration_task_3:CANCELED", "JOIN:CANCELED")
	before := wf.Tasks

	failing.Store(false)
	if _, err := e.Restart(context.Background(), res.RunID, false); err != nil {
		t.Fatal(err)
	}
	wf = viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("after retry: %s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "FORK:COMPLETED", "integration_task_2:FAILED",
		"integration_task_3:CANCELED", "JOIN:COMPLETED", "integration_task_2:COMPLETED", "integration_task_3:COMPLETED",
		"integration_task_4:COMPLETED")
	join := wf.Tasks[4]
	if join.TaskID != before[4].TaskID || join.Ref != "dynamicfanouttask_join" {
		t.Fatalf("join %+v", join)
	}
	joinOnIs("dynamicfanouttask_join", "xdt1", "xdt2")(t, e, wf)
	for _, ref := range []string{"xdt1", "xdt2"} {
		if o, _ := join.Output[ref].(map[string]any); o["ok1"] != "ov1" {
			t.Fatalf("join output %v", join.Output)
		}
	}
	for i, orig := range map[int]int{5: 2, 6: 3} {
		if tk := wf.Tasks[i]; tk.RetriedTaskID != before[orig].TaskID || tk.RetryCount != 1 || tk.Ref != before[orig].Ref {
			t.Fatalf("task %d %s retriedTaskId %q retryCount %d, want a retry of %s", i, tk.Ref, tk.RetriedTaskID, tk.RetryCount, before[orig].TaskID)
		}
	}
}
