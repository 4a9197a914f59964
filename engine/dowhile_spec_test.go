package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// refsAndIterations checks each task record's reference name and iteration,
// written "ref@iteration", in order.
func refsAndIterations(want ...string) func(*testing.T, *engine.Engine, runView) {
	return func(t *testing.T, _ *engine.Engine, wf runView) {
		t.Helper()
		var got []string
		for _, tk := range wf.Tasks {
			got = append(got, tk.Ref+"@"+strconv.Itoa(tk.Iteration))
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("refs %v, want %v", got, want)
		}
	}
}

func allChecks(checks ...func(*testing.T, *engine.Engine, runView)) func(*testing.T, *engine.Engine, runView) {
	return func(t *testing.T, e *engine.Engine, wf runView) {
		t.Helper()
		for _, c := range checks {
			c(t, e, wf)
		}
	}
}

// DoWhileSpec (test-harness), the end states of its feature tests, run on
// its definitions unmodified: statuses, the task list, the __N reference
// suffixes and each record's iteration (0 outside a loop).
func TestConductorDoWhileSpec(t *testing.T) {
	zero, one := 0, 1
	loopOnce := []string{"DO_WHILE:COMPLETED", "integration_task_0:FAILED", "integration_task_0:COMPLETED", "FORK:COMPLETED",
		"integration_task_1:COMPLETED", "integration_task_2:COMPLETED", "JOIN:COMPLETED"}
	runSpecCases(t, []specCase{
		{name: "retrying a failed loop", file: "do_while_integration_test.json",
			input: `{"loop":1}`, fails: map[string]int{"integration_task_0": 1},
			defs:       []*engine.TaskDef{{Name: "integration_task_0", RetryCount: &zero, ResponseTimeoutSeconds: new(int64)}},
			wantStatus: engine.StatusFailed, wantTasks: []string{"DO_WHILE:CANCELED", "integration_task_0:FAILED"},
			check: func(t *testing.T, e *engine.Engine, wf runView) {
				if _, err := e.Restart(context.Background(), wf.WorkflowID, false); err != nil {
					t.Fatal(err)
				}
				wf = viewRun(t, e, wf.WorkflowID)
				if wf.Status != engine.StatusCompleted {
					t.Fatalf("after retry %s %q", wf.Status, wf.Reason)
				}
				checkTasks(t, wf.Tasks, loopOnce...)
				refsAndIterations("loopTask@1", "integration_task_0__1@1", "integration_task_0__1@1", "fork__1@1",
					"integration_task_1__1@1", "integration_task_2__1@1", "join__1@1")(t, e, wf)
			}},
		{name: "auto retrying a failed loop", file: "do_while_integration_test.json",
			input: `{"loop":1}`, fails: map[string]int{"integration_task_0": 1},
			defs:       []*engine.TaskDef{{Name: "integration_task_0", RetryCount: &one, RetryDelaySeconds: &zero, ResponseTimeoutSeconds: new(int64)}},
			wantStatus: engine.StatusCompleted, wantTasks: loopOnce,
			check: func(t *testing.T, _ *engine.Engine, wf runView) {
				if wf.Tasks[2].RetryCount != 1 || wf.Tasks[2].RetriedTaskID != wf.Tasks[1].TaskID || wf.Tasks[2].Iteration != 1 {
					t.Fatalf("retried task: retryCount %d, retriedTaskId %q (failed %q), iteration %d",
						wf.Tasks[2].RetryCount, wf.Tasks[2].RetriedTaskID, wf.Tasks[1].TaskID, wf.Tasks[2].Iteration)
				}
			}},
		{name: "2 iterations of five tasks", file: "do_while_five_loop_over_integration_test.json",
			input: `{"loop":2}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"DO_WHILE:COMPLETED",
				"LAMBDA:COMPLETED", "JSON_JQ_TRANSFORM:COMPLETED", "integration_task_1:COMPLETED", "JSON_JQ_TRANSFORM:COMPLETED", "integration_task_2:COMPLETED",
				"LAMBDA:COMPLETED", "JSON_JQ_TRANSFORM:COMPLETED", "integration_task_1:COMPLETED", "JSON_JQ_TRANSFORM:COMPLETED", "integration_task_2:COMPLETED",
				"integration_task_3:COMPLETED"},
			check: allChecks(refsAndIterations("loopTask@2",
				"lambda_locs__1@1", "jq_add_location__1@1", "integration_task_1__1@1", "jq_create_hydrus_input__1@1", "integration_task_2__1@1",
				"lambda_locs__2@2", "jq_add_location__2@2", "integration_task_1__2@2", "jq_create_hydrus_input__2@2", "integration_task_2__2@2",
				"integration_task_3@0"),
				func(t *testing.T, _ *engine.Engine, wf runView) {
					jq, _ := wf.Tasks[2].Output["result"].(map[string]any)
					out, _ := jq["out"].(map[string]any)
					if out["locationId"] != "some location id" {
						t.Fatalf("jq_add_location__1 output %v", wf.Tasks[2].Output)
					}
				})},
		{name: "2 iterations of 3 system tasks", file: "do_while_system_tasks.json",
			input: `{"loop":2}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"DO_WHILE:COMPLETED",
				"LAMBDA:COMPLETED", "JSON_JQ_TRANSFORM:COMPLETED", "JSON_JQ_TRANSFORM:COMPLETED",
				"LAMBDA:COMPLETED", "JSON_JQ_TRANSFORM:COMPLETED", "JSON_JQ_TRANSFORM:COMPLETED",
				"integration_task_1:COMPLETED"}},
		{name: "single iteration", file: "do_while_integration_test.json",
			input: `{"loop":1}`, outputs: map[string]string{"integration_task_1": `{"done":"t1"}`}, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"DO_WHILE:COMPLETED", "integration_task_0:COMPLETED", "FORK:COMPLETED",
				"integration_task_1:COMPLETED", "integration_task_2:COMPLETED", "JOIN:COMPLETED"},
			check: allChecks(refsAndIterations("loopTask@1", "integration_task_0__1@1", "fork__1@1",
				"integration_task_1__1@1", "integration_task_2__1@1", "join__1@1"),
				joinOnIs("join__1", "integration_task_1", "integration_task_2"),
				func(t *testing.T, _ *engine.Engine, wf runView) {
					// the JOIN waits for, and outputs, this iteration's tasks
					if out, _ := wf.Tasks[5].Output["integration_task_1__1"].(map[string]any); out["done"] != "t1" {
						t.Fatalf("join__1 output %v", wf.Tasks[5].Output)
					}
				})},
		{name: "single iteration with sub workflow", file: "do_while_sub_workflow_integration_test.json",
			input: `{"loop":1}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"DO_WHILE:COMPLETED", "integration_task_0:COMPLETED", "FORK:COMPLETED",
				"integration_task_1:COMPLETED", "integration_task_2:COMPLETED", "JOIN:COMPLETED", "SUB_WORKFLOW:COMPLETED"},
			check: allChecks(refsAndIterations("loopTask@1", "integration_task_0__1@1", "fork__1@1",
				"integration_task_1__1@1", "integration_task_2__1@1", "join__1@1", "st1__1@1"),
				func(t *testing.T, e *engine.Engine, wf runView) {
					sub := viewRun(t, e, wf.Tasks[6].SubWorkflowID)
					if sub.Status != engine.StatusCompleted {
						t.Fatalf("sub workflow %s %q", sub.Status, sub.Reason)
					}
					checkTasks(t, sub.Tasks, "simple_task_in_sub_wf:COMPLETED")
				})},
		{name: "multiple loops with multiple iterations", file: "do_while_multiple_integration_test.json",
			input: `{"loop":2,"loop2":1}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"DO_WHILE:COMPLETED",
				"integration_task_0:COMPLETED", "FORK:COMPLETED", "integration_task_1:COMPLETED", "integration_task_2:COMPLETED", "JOIN:COMPLETED",
				"integration_task_0:COMPLETED", "FORK:COMPLETED", "integration_task_1:COMPLETED", "integration_task_2:COMPLETED", "JOIN:COMPLETED",
				"DO_WHILE:COMPLETED", "integration_task_3:COMPLETED"},
			check: refsAndIterations("loopTask@2",
				"integration_task_0__1@1", "fork__1@1", "integration_task_1__1@1", "integration_task_2__1@1", "join__1@1",
				"integration_task_0__2@2", "fork__2@2", "integration_task_1__2@2", "integration_task_2__2@2", "join__2@2",
				"loopTask2@1", "integration_task_3__1@1")},
		{name: "loop as a fork branch", file: "do_while_as_subtask_integration_test.json",
			input: `{"loop":1}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"FORK:COMPLETED", "DO_WHILE:COMPLETED", "integration_task_2:COMPLETED", "JOIN:COMPLETED",
				"integration_task_0:COMPLETED", "integration_task_1:COMPLETED"},
			check: allChecks(refsAndIterations("fork@0", "loopTask@1", "integration_task_2@0", "join@0",
				"integration_task_0__1@1", "integration_task_1__1@1"),
				joinOnIs("join", "loopTask", "integration_task_2"))},
		{name: "loop over a task that uses the iteration in a script", file: "do_while_iteration_fix_test.json",
			input: `{"loop":2}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"DO_WHILE:COMPLETED", "LAMBDA:COMPLETED", "LAMBDA:COMPLETED"},
			check: func(t *testing.T, _ *engine.Engine, wf runView) {
				if wf.Tasks[1].Output["result"] != 0.0 || wf.Tasks[2].Output["result"] != 1.0 {
					t.Fatalf("results %v %v", wf.Tasks[1].Output, wf.Tasks[2].Output)
				}
			}},
		{name: "loop over a set variable task", file: "do_while_set_variable_fix.json",
			input: `{"value":2}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"DO_WHILE:COMPLETED", "SET_VARIABLE:COMPLETED"},
			check: func(t *testing.T, _ *engine.Engine, wf runView) {
				if wf.Tasks[1].Input["value"] != "0" || wf.Tasks[0].Iteration != 1 {
					t.Fatalf("set_variable input %v, loop iteration %d", wf.Tasks[1].Input, wf.Tasks[0].Iteration)
				}
			}},
	})
}

// ForkJoinSpec "Test retrying a failed fork join workflow": t2 fails while
// t3 runs; the run FAILS with the JOIN and t3 CANCELED. Retry reopens the
// JOIN record (IN_PROGRESS, no copy) and schedules t2 and t3 again.
func TestConductorForkJoinRetryReopensJoin(t *testing.T) {
	started3 := make(chan struct{})
	var calls2, calls3 atomic.Int64
	e := harnessEngine(t, nil,
		engine.WithWorker("integration_task_0_RT_1", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{}`), nil
		}),
		engine.WithWorker("integration_task_0_RT_3", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if calls3.Add(1) == 1 {
				close(started3)
				<-ctx.Done() // cancelled when t2 fails the run
				return nil, ctx.Err()
			}
			return json.RawMessage(`{"t3":"done"}`), nil
		}),
		engine.WithWorker("integration_task_0_RT_2", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			if calls2.Add(1) == 1 {
				<-started3
				return nil, errors.New("induced failure")
			}
			return json.RawMessage(`{"t2":"done"}`), nil
		}),
		engine.WithWorker("integration_task_0_RT_4", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{}`), nil
		}))
	d := harnessDef(t, e, "fork_join_with_no_task_retry_integration_test.json")
	res := startRun(t, e, d, `{"param1":"p1 value","param2":"p2 value"}`)
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusFailed {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "FORK:COMPLETED", "integration_task_0_RT_1:COMPLETED", "integration_task_0_RT_2:FAILED",
		"JOIN:CANCELED", "integration_task_0_RT_3:CANCELED")
	joinID := wf.Tasks[3].TaskID
	if _, err := e.Restart(context.Background(), res.RunID, false); err != nil {
		t.Fatal(err)
	}
	wf = viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("after retry %s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "FORK:COMPLETED", "integration_task_0_RT_1:COMPLETED", "integration_task_0_RT_2:FAILED",
		"JOIN:COMPLETED", "integration_task_0_RT_3:CANCELED", "integration_task_0_RT_2:COMPLETED",
		"integration_task_0_RT_3:COMPLETED", "integration_task_0_RT_4:COMPLETED")
	if wf.Tasks[3].TaskID != joinID || wf.Tasks[3].Output["t2"] == nil || wf.Tasks[3].Output["t3"] == nil {
		t.Fatalf("join %s (was %s) output %v", wf.Tasks[3].TaskID, joinID, wf.Tasks[3].Output)
	}
}
