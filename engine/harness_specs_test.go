package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// specCase runs one test-harness definition (testdata/conductor, unmodified)
// to its end with workers standing in for the spec's pollAndCompleteTask
// calls, and checks the end state the spec asserts: the run's status, its
// task list (taskType:status, in order) and whatever check looks at.
type specCase struct {
	name, file, input string
	// outputs: what the worker of a task name returns (default {}).
	outputs map[string]string
	// fails: how many times the worker of a task name fails first.
	fails map[string]int
	// defs replace harness task definitions (the spec's updateTaskDef).
	defs       []*engine.TaskDef
	wantStatus string
	wantTasks  []string
	check      func(t *testing.T, e *engine.Engine, wf runView)
}

// harnessWorkers answers every worker task the harness defines.
func harnessWorkers(outputs map[string]string, fails map[string]int) []engine.Option {
	var mu sync.Mutex
	failed := map[string]int{}
	names := []string{"task_rt", "task_optional", "task_permissive", "simple_task_in_sub_wf", "waitTimeout", "user_task"}
	for i := 0; i <= 20; i++ {
		names = append(names, fmt.Sprintf("integration_task_%d", i))
	}
	for i := 0; i <= 4; i++ {
		names = append(names, fmt.Sprintf("integration_task_0_RT_%d", i))
	}
	var opts []engine.Option
	for _, n := range names {
		n := n
		opts = append(opts, engine.WithWorker(n, func(context.Context, json.RawMessage) (json.RawMessage, error) {
			mu.Lock()
			f := failed[n] < fails[n]
			if f {
				failed[n]++
			}
			mu.Unlock()
			if f {
				return nil, fmt.Errorf("NETWORK ERROR")
			}
			if out, ok := outputs[n]; ok {
				return json.RawMessage(out), nil
			}
			return json.RawMessage(`{}`), nil
		}))
	}
	return opts
}

func runSpecCases(t *testing.T, cases []specCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			defs := harnessTaskDefs(t)
			if err := defs.Put(tc.defs...); err != nil {
				t.Fatal(err)
			}
			e := harnessEngine(t, nil, append(harnessWorkers(tc.outputs, tc.fails), engine.WithTaskDefs(defs))...)
			d := harnessDef(t, e, tc.file)
			in := tc.input
			if in == "" {
				in = "{}"
			}
			res := startRun(t, e, d, in)
			wf := viewRun(t, e, res.RunID)
			if wf.Status != tc.wantStatus {
				t.Fatalf("status %s (%q), want %s", wf.Status, wf.Reason, tc.wantStatus)
			}
			checkTasks(t, wf.Tasks, tc.wantTasks...)
			if tc.check != nil {
				tc.check(t, e, wf)
			}
		})
	}
}

// evaluationResults checks the evaluationResult of the run's SWITCH /
// DECISION records, in order.
func evaluationResults(key string, want ...string) func(*testing.T, *engine.Engine, runView) {
	return func(t *testing.T, _ *engine.Engine, wf runView) {
		t.Helper()
		var got []string
		for _, tk := range wf.Tasks {
			if tk.TaskType == "SWITCH" || tk.TaskType == "DECISION" {
				b, _ := json.Marshal(tk.Output[key])
				got = append(got, string(b))
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("%s %v, want %v", key, got, want)
		}
	}
}

func joinOnIs(ref string, want ...string) func(*testing.T, *engine.Engine, runView) {
	return func(t *testing.T, _ *engine.Engine, wf runView) {
		t.Helper()
		for _, tk := range wf.Tasks {
			if tk.Ref == ref {
				var got []string
				for _, x := range tk.Input["joinOn"].([]any) {
					got = append(got, x.(string))
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s joinOn %v, want %v", ref, got, want)
				}
				return
			}
		}
		t.Fatalf("no task %s", ref)
	}
}

// SwitchTaskSpec, every feature test.
func TestConductorSwitchTaskSpec(t *testing.T) {
	runSpecCases(t, []specCase{
		{name: "simple switch workflow", file: "simple_switch_task_integration_test.json",
			input: `{"param1":"p1","param2":"p2","case":"c"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"SWITCH:COMPLETED", "integration_task_1:COMPLETED", "integration_task_2:COMPLETED", "integration_task_20:COMPLETED"}},
		{name: "switch task that leads to a fork join", file: "switch_and_fork_join_integration_test.json",
			input: `{"param1":"p1","param2":"p2","case":"c"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"FORK:COMPLETED", "SWITCH:COMPLETED", "integration_task_1:COMPLETED", "integration_task_10:COMPLETED",
				"JOIN:COMPLETED", "integration_task_2:COMPLETED", "integration_task_20:COMPLETED"},
			check: joinOnIs("joinTask", "t20", "t10")},
		{name: "default case", file: "conditional_switch_task_workflow_integration_test.json",
			input: `{"param1":"xxx","param2":"two"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"SWITCH:COMPLETED", "integration_task_10:COMPLETED", "SWITCH:COMPLETED"},
			check:     evaluationResults("evaluationResult", `["xxx"]`, `["null"]`)},
		{name: "nested and two", file: "conditional_switch_task_workflow_integration_test.json",
			input: `{"param1":"nested","param2":"two"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"SWITCH:COMPLETED", "SWITCH:COMPLETED", "integration_task_2:COMPLETED", "SWITCH:COMPLETED"},
			check:     evaluationResults("evaluationResult", `["nested"]`, `["two"]`, `["null"]`)},
		{name: "nested and one", file: "conditional_switch_task_workflow_integration_test.json",
			input: `{"param1":"nested","param2":"one"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"SWITCH:COMPLETED", "SWITCH:COMPLETED", "integration_task_1:COMPLETED", "SWITCH:COMPLETED"},
			check:     evaluationResults("evaluationResult", `["nested"]`, `["one"]`, `["null"]`)},
		{name: "three", file: "conditional_switch_task_workflow_integration_test.json",
			input: `{"param1":"three","param2":"two","finalCase":"notify"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"SWITCH:COMPLETED", "integration_task_3:COMPLETED", "SWITCH:COMPLETED", "integration_task_4:COMPLETED"},
			check:     evaluationResults("evaluationResult", `["three"]`, `["notify"]`)},
		{name: "no default case", file: "switch_with_no_default_case_integration_test.json",
			input: `{"param1":"p1","param2":"p2"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"SWITCH:COMPLETED", "integration_task_2:COMPLETED"}},
	})
}

// DecisionTaskSpec, every feature test (DECISION's output is caseOutput).
func TestConductorDecisionTaskSpec(t *testing.T) {
	runSpecCases(t, []specCase{
		{name: "simple decision workflow", file: "simple_decision_task_integration_test.json",
			input: `{"param1":"p1","param2":"p2","case":"c"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"DECISION:COMPLETED", "integration_task_1:COMPLETED", "integration_task_2:COMPLETED", "integration_task_20:COMPLETED"}},
		{name: "decision task that leads to a fork join", file: "decision_and_fork_join_integration_test.json",
			input: `{"param1":"p1","param2":"p2","case":"c"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"FORK:COMPLETED", "DECISION:COMPLETED", "integration_task_1:COMPLETED", "integration_task_10:COMPLETED",
				"JOIN:COMPLETED", "integration_task_2:COMPLETED", "integration_task_20:COMPLETED"},
			check: joinOnIs("joinTask", "t20", "t10")},
		{name: "default case", file: "conditional_task_workflow_integration_test.json",
			input: `{"param1":"xxx","param2":"two"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"DECISION:COMPLETED", "integration_task_10:COMPLETED", "DECISION:COMPLETED"},
			check:     evaluationResults("caseOutput", `["xxx"]`, `["null"]`)},
		{name: "nested and two", file: "conditional_task_workflow_integration_test.json",
			input: `{"param1":"nested","param2":"two"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"DECISION:COMPLETED", "DECISION:COMPLETED", "integration_task_2:COMPLETED", "DECISION:COMPLETED"},
			check:     evaluationResults("caseOutput", `["nested"]`, `["two"]`, `["null"]`)},
		{name: "nested and one", file: "conditional_task_workflow_integration_test.json",
			input: `{"param1":"nested","param2":"one"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"DECISION:COMPLETED", "DECISION:COMPLETED", "integration_task_1:COMPLETED", "DECISION:COMPLETED"},
			check:     evaluationResults("caseOutput", `["nested"]`, `["one"]`, `["null"]`)},
		{name: "three", file: "conditional_task_workflow_integration_test.json",
			input: `{"param1":"three","param2":"two","finalCase":"notify"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"DECISION:COMPLETED", "integration_task_3:COMPLETED", "DECISION:COMPLETED", "integration_task_4:COMPLETED"},
			check:     evaluationResults("caseOutput", `["three"]`, `["notify"]`)},
	})
}

func seqs(want ...int) func(*testing.T, *engine.Engine, runView) {
	return func(t *testing.T, _ *engine.Engine, wf runView) {
		t.Helper()
		for i, tk := range wf.Tasks {
			if i < len(want) && tk.Seq != want[i] {
				t.Fatalf("task %d (%s) seq %d, want %d", i, tk.Ref, tk.Seq, want[i])
			}
		}
	}
}

// LambdaAndTerminateTaskSpec (the failed-TERMINATE test is
// TestConductorFailureWorkflowAfterTerminate; the sub-workflow one is
// TestConductorTerminateWithSubWorkflow).
func TestConductorLambdaAndTerminateTaskSpec(t *testing.T) {
	runSpecCases(t, []specCase{
		{name: "terminate task when the status is completed", file: "terminate_task_completed_workflow_integration_test.json",
			input: `{"a":1}`, wantStatus: engine.StatusCompleted, wantTasks: []string{"LAMBDA:COMPLETED", "TERMINATE:COMPLETED"},
			check: func(t *testing.T, e *engine.Engine, wf runView) {
				seqs(1, 2)(t, e, wf)
				if !strings.Contains(wf.Reason, "Workflow is COMPLETED by TERMINATE task") {
					t.Fatalf("reason %q", wf.Reason)
				}
				if b, _ := json.Marshal(wf.Output); string(b) != `{"result":{"testvalue":true}}` {
					t.Fatalf("output %s", b)
				}
			}},
		{name: "terminate task within a decision branch", file: "decision_and_terminate_integration_test.json",
			input: `{"param1":"p1","param2":"p2","case":"two"}`, outputs: map[string]string{"integration_task_1": `{"op":"task1 completed"}`},
			wantStatus: engine.StatusFailed, wantTasks: []string{"integration_task_1:COMPLETED", "DECISION:COMPLETED", "TERMINATE:COMPLETED"},
			check: func(t *testing.T, e *engine.Engine, wf runView) {
				seqs(1, 2, 3)(t, e, wf)
				if !strings.Contains(wf.Reason, "Workflow is FAILED by TERMINATE task") || wf.Tasks[0].Output["op"] != "task1 completed" {
					t.Fatalf("reason %q, task output %v", wf.Reason, wf.Tasks[0].Output)
				}
				if b, _ := json.Marshal(wf.Output); string(b) != `{"output":"task1 completed"}` {
					t.Fatalf("output %s", b)
				}
			}},
		{name: "lambda task", file: "simple_lambda_workflow_integration_test.json",
			input: `{"a":1}`, wantStatus: engine.StatusCompleted, wantTasks: []string{"LAMBDA:COMPLETED"},
			check: func(t *testing.T, e *engine.Engine, wf runView) {
				seqs(1)(t, e, wf)
				if b, _ := json.Marshal(wf.Tasks[0].Output); string(b) != `{"result":{"testvalue":true}}` {
					t.Fatalf("lambda output %s", b)
				}
			}},
	})
}

// LambdaAndTerminateTaskSpec "Test workflow with a terminate task when the
// workflow has a subworkflow": the fork's second branch completes its WAIT
// and reaches TERMINATE (COMPLETED) while the first branch's sub-workflow
// still runs: the parent COMPLETES, its JOIN and SUB_WORKFLOW are CANCELED,
// the child is TERMINATED with the parent's reason and its task CANCELED.
func TestConductorTerminateWithSubWorkflow(t *testing.T) {
	polled := make(chan struct{}, 1)
	e := harnessEngine(t, nil, engine.WithWorker("integration_task_3", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		polled <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	d := harnessDef(t, e, "terminate_task_parent_workflow.json")
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(context.Background(), d, json.RawMessage(`{"a":1}`), engine.WithRunID("term-parent"))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	<-polled
	wf := waitTasks(t, e, "term-parent", "FORK:COMPLETED", "LAMBDA:COMPLETED", "LAMBDA:COMPLETED", "JOIN:IN_PROGRESS", "SUB_WORKFLOW:IN_PROGRESS", "WAIT:IN_PROGRESS")
	if wf.Tasks[1].Ref != "lambdaTask1" || wf.Tasks[2].Ref != "lambdaTask2" {
		t.Fatalf("tasks %+v", wf.Tasks)
	}
	subID := wf.Tasks[4].SubWorkflowID
	if _, err := e.CompleteTask(context.Background(), "term-parent", "basicJavaA", engine.TaskCompleted, nil); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("parent %+v", res)
	}
	wf = viewRun(t, e, "term-parent")
	checkTasks(t, wf.Tasks, "FORK:COMPLETED", "LAMBDA:COMPLETED", "LAMBDA:COMPLETED", "JOIN:CANCELED", "SUB_WORKFLOW:CANCELED", "WAIT:COMPLETED", "TERMINATE:COMPLETED")
	seqs(1, 2, 3, 4, 5, 6, 7)(t, e, wf)
	if !strings.Contains(wf.Reason, "Workflow is COMPLETED by TERMINATE task") {
		t.Fatalf("reason %q", wf.Reason)
	}
	sub := viewRun(t, e, subID)
	if sub.Status != engine.StatusTerminated || !strings.Contains(sub.Reason, "Parent workflow has been terminated with reason: Workflow is COMPLETED by TERMINATE task") {
		t.Fatalf("sub-workflow %s %q", sub.Status, sub.Reason)
	}
	checkTasks(t, sub.Tasks, "integration_task_3:CANCELED")
}

// ForkJoinSpec "Test a simple workflow with fork join success flow" and
// "... failure flow" (FanInOutTest). integration_task_2 (second branch)
// answers only once integration_task_3 (first branch, after
// integration_task_1) runs: the branches run at the same time. On success
// the records read FORK, t1, t2, JOIN, t3, t4; when integration_task_2 (no
// retries) fails, the run FAILS with the JOIN and the running
// integration_task_3 CANCELED.
func TestConductorForkJoinSpec(t *testing.T) {
	for _, failing := range []bool{false, true} {
		t.Run(map[bool]string{false: "success flow", true: "failure flow"}[failing], func(t *testing.T) {
			defs := harnessTaskDefs(t)
			zero := 0
			if err := defs.Put(&engine.TaskDef{Name: "integration_task_2", RetryCount: &zero, ResponseTimeoutSeconds: new(int64)}); err != nil {
				t.Fatal(err)
			}
			t3running := make(chan struct{})
			var once sync.Once
			ok := func(context.Context, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`{}`), nil }
			e := harnessEngine(t, nil, engine.WithTaskDefs(defs),
				engine.WithWorker("integration_task_1", ok), engine.WithWorker("integration_task_4", ok),
				engine.WithWorker("integration_task_3", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
					once.Do(func() { close(t3running) })
					if failing {
						<-ctx.Done()
						return nil, ctx.Err()
					}
					return json.RawMessage(`{}`), nil
				}),
				engine.WithWorker("integration_task_2", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
					select {
					case <-t3running:
					case <-ctx.Done():
						return nil, ctx.Err()
					}
					if failing {
						return nil, fmt.Errorf("Failed....")
					}
					return json.RawMessage(`{}`), nil
				}))
			d := harnessDef(t, e, "fork_join_integration_test.json")
			res := startRun(t, e, d, `{}`, engine.WithCorrelationID("fanoutTest"))
			wf := viewRun(t, e, res.RunID)
			if failing {
				if wf.Status != engine.StatusFailed {
					t.Fatalf("%s %q", wf.Status, wf.Reason)
				}
				checkTasks(t, wf.Tasks, "FORK:COMPLETED", "integration_task_1:COMPLETED", "integration_task_2:FAILED", "JOIN:CANCELED", "integration_task_3:CANCELED")
				return
			}
			if wf.Status != engine.StatusCompleted {
				t.Fatalf("%s %q", wf.Status, wf.Reason)
			}
			checkTasks(t, wf.Tasks, "FORK:COMPLETED", "integration_task_1:COMPLETED", "integration_task_2:COMPLETED", "JOIN:COMPLETED",
				"integration_task_3:COMPLETED", "integration_task_4:COMPLETED")
		})
	}
}

// JsonJQTransformSpec (the sequential test is TestConductorSequentialJQ;
// the rerun with a replacement taskInput is the server's) and
// SetVariableTaskSpec "Test workflow with set variable task".
func TestConductorJQAndSetVariableSpecs(t *testing.T) {
	runSpecCases(t, []specCase{
		{name: "json jq transform task succeeds", file: "simple_json_jq_transform_integration_test.json",
			input: `{"in1":{"array":["a","b"]},"in2":{"array":["c","d"]}}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"JSON_JQ_TRANSFORM:COMPLETED"},
			check: func(t *testing.T, _ *engine.Engine, wf runView) {
				if _, ok := wf.Tasks[0].Output["result"]; !ok {
					t.Fatalf("output %v", wf.Tasks[0].Output)
				}
				if _, ok := wf.Tasks[0].Output["resultList"]; !ok {
					t.Fatalf("output %v", wf.Tasks[0].Output)
				}
			}},
		{name: "json jq transform task fails", file: "simple_json_jq_transform_integration_test.json",
			input: `{"in1":"a","in2":"b"}`, wantStatus: engine.StatusFailed, wantTasks: []string{"JSON_JQ_TRANSFORM:FAILED"},
			check: func(t *testing.T, _ *engine.Engine, wf runView) {
				// As Conductor's (jackson-jq) reason reads.
				if r := wf.Tasks[0].Reason; r != `Cannot index string with string "array"` || wf.Tasks[0].Output["error"] != r {
					t.Fatalf("reason %q, output %v", r, wf.Tasks[0].Output)
				}
			}},
		{name: "jq with different json object results", file: "json_jq_transform_result_integration_test.json",
			input: `{"requestedAction":"redeliver"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"JSON_JQ_TRANSFORM:COMPLETED", "DECISION:COMPLETED", "JSON_JQ_TRANSFORM:COMPLETED", "DECISION:COMPLETED"},
			check: func(t *testing.T, _ *engine.Engine, wf runView) {
				if wf.Tasks[0].Output["result"] != "CREATE" || wf.Tasks[1].Input["case"] != "CREATE" || wf.Tasks[3].Input["case"] != "true" {
					t.Fatalf("tasks %+v", wf.Tasks)
				}
				list, _ := wf.Tasks[2].Output["result"].([]any)
				found := false
				for _, x := range list {
					found = found || x == "redeliver"
				}
				if len(list) != 3 || !found {
					t.Fatalf("result %v", wf.Tasks[2].Output["result"])
				}
			}},
		{name: "set variable task", file: "simple_set_variable_workflow_integration_test.json",
			input: `{"var":"var_test_value"}`, wantStatus: engine.StatusCompleted, wantTasks: []string{"SET_VARIABLE:COMPLETED"},
			check: func(t *testing.T, e *engine.Engine, wf runView) {
				b, _ := e.Show(context.Background(), wf.WorkflowID)
				var v struct {
					Variables map[string]any `json:"variables"`
				}
				_ = json.Unmarshal(b, &v)
				if got, _ := json.Marshal(v.Variables); string(got) != `{"var":"var_test_value"}` {
					t.Fatalf("variables %s", got)
				}
				if got, _ := json.Marshal(wf.Output); string(got) != `{"variables":{"var":"var_test_value"}}` {
					t.Fatalf("output %s", got)
				}
			}},
	})
}

// WorkflowAndTaskConfigurationSpec "... an optional task", "... a permissive
// task", "... a permissive optional task", and ForkJoinSpec "... fork join
// permissive failure flow". A permissive task's failure lets the run go on
// and fails it at its end (or at the JOIN on it) with Conductor's reason.
func TestConductorOptionalAndPermissiveTasks(t *testing.T) {
	zero := 0
	runSpecCases(t, []specCase{
		{name: "optional task", file: "simple_workflow_with_optional_task_integration_test.json",
			input: `{"param1":"p1 value","param2":"p2 value"}`, fails: map[string]int{"task_optional": 2}, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"task_optional:FAILED", "task_optional:COMPLETED_WITH_ERRORS", "integration_task_2:COMPLETED"},
			check: func(t *testing.T, _ *engine.Engine, wf runView) {
				if fmt.Sprint(wf.FailedRefs, wf.FailedNames) != "[t1] [task_optional]" {
					t.Fatalf("failedReferenceTaskNames %v, failedTaskNames %v", wf.FailedRefs, wf.FailedNames)
				}
			}},
		{name: "permissive task", file: "simple_workflow_with_permissive_task_integration_test.json",
			input: `{"param1":"p1 value","param2":"p2 value"}`, fails: map[string]int{"task_permissive": 2}, wantStatus: engine.StatusFailed,
			wantTasks: []string{"task_permissive:FAILED", "task_permissive:FAILED", "integration_task_2:COMPLETED"},
			check: func(t *testing.T, _ *engine.Engine, wf runView) {
				if want := "Task " + wf.Tasks[1].TaskID + " failed with status: FAILED and reason: 'NETWORK ERROR'"; wf.Reason != want {
					t.Fatalf("reason %q, want %q", wf.Reason, want)
				}
				if fmt.Sprint(wf.FailedRefs, wf.FailedNames) != "[t1] [task_permissive]" {
					t.Fatalf("failedReferenceTaskNames %v, failedTaskNames %v", wf.FailedRefs, wf.FailedNames)
				}
			}},
		{name: "permissive optional task", file: "simple_workflow_with_permissive_optional_task_integration_test.json",
			input: `{"param1":"p1 value","param2":"p2 value"}`, fails: map[string]int{"task_optional": 2}, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"task_optional:FAILED", "task_optional:COMPLETED_WITH_ERRORS", "integration_task_2:COMPLETED"}},
		{name: "fork join permissive failure flow", file: "fork_join_permissive_integration_test.json",
			defs:  []*engine.TaskDef{{Name: "integration_task_1", RetryCount: &zero, ResponseTimeoutSeconds: new(int64)}},
			fails: map[string]int{"integration_task_1": 1}, wantStatus: engine.StatusFailed,
			wantTasks: []string{"FORK:COMPLETED", "integration_task_1:FAILED", "integration_task_2:COMPLETED", "JOIN:FAILED"}},
	})
}

// WaitTaskSpec "Verify that a wait based simple workflow is executed": the
// WAIT without duration waits IN_PROGRESS for an external completion, then
// integration_task_1 runs and the run COMPLETES.
func TestConductorWaitTaskSpec(t *testing.T) {
	e := harnessEngine(t, nil, harnessWorkers(nil, nil)...)
	d := harnessDef(t, e, "wait_workflow_integration_test.json")
	done := startAsync(t, e, d, "wait-1")
	waitTasks(t, e, "wait-1", "WAIT:IN_PROGRESS")
	if _, err := e.CompleteTask(context.Background(), "wait-1", "wait0", engine.TaskCompleted, nil); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%+v", res)
	}
	checkTasks(t, viewRun(t, e, "wait-1").Tasks, "WAIT:COMPLETED", "integration_task_1:COMPLETED")
}

// ForkJoinSpec "Test fork join with sub workflow task using task
// definition": the sub-workflow fails once (simple_task_in_sub_wf has no
// retries); sub_workflow_task's definition (retryCount 1, no delay) retries
// the SUB_WORKFLOW task with a new child, which completes; the JOIN and the
// run complete.
func TestConductorForkJoinSubWorkflowRetry(t *testing.T) {
	runSpecCases(t, []specCase{
		{name: "sub workflow task using task definition", file: "fork_join_sub_workflow.json",
			input: `{"param1":"p1 value","param2":"p2 value"}`, fails: map[string]int{"simple_task_in_sub_wf": 1}, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"FORK:COMPLETED", "SUB_WORKFLOW:FAILED", "integration_task_2:COMPLETED", "JOIN:COMPLETED", "SUB_WORKFLOW:COMPLETED"},
			check: func(t *testing.T, e *engine.Engine, wf runView) {
				first, retried := wf.Tasks[1], wf.Tasks[4]
				if retried.RetryCount != 1 || retried.RetriedTaskID != first.TaskID || first.SubWorkflowID == retried.SubWorkflowID {
					t.Fatalf("retry %+v of %+v", retried, first)
				}
				if sub := viewRun(t, e, first.SubWorkflowID); sub.Status != engine.StatusFailed {
					t.Fatalf("first child %s", sub.Status)
				}
				if sub := viewRun(t, e, retried.SubWorkflowID); sub.Status != engine.StatusCompleted {
					t.Fatalf("second child %s", sub.Status)
				}
				if !strings.HasPrefix(first.Reason, "Sub workflow sub_workflow.1/"+first.SubWorkflowID+" failure reason: ") {
					t.Fatalf("reason %q", first.Reason)
				}
			}},
	})
}

// SimpleWorkflowSpec "Test simple workflow completion" and "Test simple
// workflow with null inputs" (integration_test_wf).
func TestConductorSimpleWorkflowSpec(t *testing.T) {
	runSpecCases(t, []specCase{
		{name: "simple workflow completion", file: "simple_workflow_1_integration_test.json",
			input: `{"param1":"p1 value","param2":"p2 value"}`, outputs: map[string]string{"integration_task_1": `{"op":"task1.done"}`},
			wantStatus: engine.StatusCompleted, wantTasks: []string{"integration_task_1:COMPLETED", "integration_task_2:COMPLETED"},
			check: func(t *testing.T, _ *engine.Engine, wf runView) {
				if _, ok := wf.Output["o3"]; !ok {
					t.Fatalf("output %v", wf.Output)
				}
			}},
		{name: "simple workflow with null inputs", file: "simple_workflow_1_integration_test.json",
			input: `{"param1":"p1 value","param2":null}`, outputs: map[string]string{"integration_task_1": `{"someOtherKey":{"a":1,"A":null},"someKey":null}`},
			wantStatus: engine.StatusCompleted, wantTasks: []string{"integration_task_1:COMPLETED", "integration_task_2:COMPLETED"},
			check: func(t *testing.T, _ *engine.Engine, wf runView) {
				if v, ok := wf.Input["param2"]; !ok || v != nil {
					t.Fatalf("input %v", wf.Input)
				}
				if v := wf.Tasks[0].Input["someNullKey"]; v != nil {
					t.Fatalf("someNullKey %v", v)
				}
				out := wf.Tasks[0].Output
				other, _ := out["someOtherKey"].(map[string]any)
				if v, ok := out["someKey"]; !ok || v != nil {
					t.Fatalf("output %v", out)
				}
				if v, ok := other["A"]; !ok || v != nil {
					t.Fatalf("output %v", out)
				}
			}},
	})
}

// DynamicForkJoinSpec "Test dynamic fork join empty output" (the JOIN's
// output has no member for a forked task whose output is empty) and "...
// fail when task input is invalid" (a forked task's input that is not a map
// fails the run before anything of the fork is recorded, as Conductor's
// mapper throws: the task list is integration_task_1 alone).
func TestConductorDynamicForkJoinSpecInputs(t *testing.T) {
	runSpecCases(t, []specCase{
		{name: "empty output", file: "dynamic_fork_join_integration_test.json",
			outputs: map[string]string{"integration_task_1": dynamicTasksOutput}, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"integration_task_1:COMPLETED", "FORK:COMPLETED", "integration_task_2:COMPLETED", "integration_task_3:COMPLETED",
				"JOIN:COMPLETED", "integration_task_4:COMPLETED"},
			check: func(t *testing.T, e *engine.Engine, wf runView) {
				joinOnIs("dynamicfanouttask_join", "xdt1", "xdt2")(t, e, wf)
				if len(wf.Tasks[4].Output) != 0 {
					t.Fatalf("join output %v", wf.Tasks[4].Output)
				}
			}},
		{name: "task input is invalid", file: "dynamic_fork_join_integration_test.json",
			outputs: map[string]string{"integration_task_1": `{"dynamicTasks":[{"name":"integration_task_2","taskReferenceName":"xdt1"},{"name":"integration_task_3","taskReferenceName":"xdt2"}],
			  "dynamicTasksInput":{"xdt1":"v1","xdt2":"v2"}}`},
			wantStatus: engine.StatusFailed, wantTasks: []string{"integration_task_1:COMPLETED"},
			check: func(t *testing.T, _ *engine.Engine, wf runView) {
				if !strings.HasPrefix(wf.Reason, "Tasks could not be dynamically forked due to invalid input: ") {
					t.Fatalf("reason %q", wf.Reason)
				}
			}},
	})
}

// SetVariableTaskSpec "Test workflow with set variable task passing
// variables payload size threshold" (the harness sets the limit to 2KB).
func TestConductorSetVariablePayloadLimit(t *testing.T) {
	e := harnessEngine(t, nil, engine.WithMaxVariablesPayloadKB(2))
	d := harnessDef(t, e, "simple_set_variable_workflow_integration_test.json")
	in, _ := json.Marshal(map[string]string{"var": strings.Repeat("01234567", 1+2*1024/8)})
	res := startRun(t, e, d, string(in))
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusFailed {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "SET_VARIABLE:FAILED_WITH_TERMINAL_ERROR")
	want := "The variables payload size: 2066 of workflow: " + res.RunID + " is greater than the permissible limit: 2 kilobytes"
	if wf.Tasks[0].Reason != want {
		t.Fatalf("reason %q, want %q", wf.Tasks[0].Reason, want)
	}
	b, _ := e.Show(context.Background(), res.RunID)
	var v struct {
		Variables map[string]any `json:"variables"`
	}
	_ = json.Unmarshal(b, &v)
	if got, _ := json.Marshal(v.Variables); string(got) != `{}` {
		t.Fatalf("variables %s", got)
	}
	if got, _ := json.Marshal(wf.Output); string(got) != `{"variables":{}}` {
		t.Fatalf("output %s", got)
	}

	// Within the limit (the default, 256 KB) the same value is set.
	e = harnessEngine(t, nil)
	wf = viewRun(t, e, startRun(t, e, d, string(in)).RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("default limit: %s %q", wf.Status, wf.Reason)
	}
}

// DynamicForkJoinSpec "Test dynamic fork join return failed workflow when
// start with invalid input": the spec's definition (a FORK_JOIN_DYNAMIC
// alone, no JOIN after it), started with input whose dynamicTasksInput
// members are not maps, FAILS with an empty task list (Conductor's mapper
// checks the input before the JOIN).
func TestConductorDynamicForkJoinInvalidStartInput(t *testing.T) {
	e := harnessEngine(t, nil, harnessWorkers(nil, nil)...)
	d := harnessDef(t, e, "transcribed/dynamic_fork_join_start_test.json")
	res := startRun(t, e, d, `{"dynamicTasks":[{"name":"integration_task_2","taskReferenceName":"xdt1"},{"name":"integration_task_3","taskReferenceName":"xdt2"}],
	  "dynamicTasksInput":{"xdt1":"v1","xdt2":"v2"}}`)
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusFailed || !strings.HasPrefix(wf.Reason, "Tasks could not be dynamically forked due to invalid input: ") {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	if len(wf.Tasks) != 0 {
		t.Fatalf("tasks %+v", wf.Tasks)
	}
}

// A fork not followed by a JOIN is a valid definition, as in Conductor,
// whose mappers fail the run when they reach it, recording no fork task:
// the tasks before it stand, the run FAILS with the mapper's reason.
func TestForkNotFollowedByAJoinFailsTheRun(t *testing.T) {
	cases := []struct {
		name, def, input, reason string
		before                   int
	}{
		{"FORK_JOIN", `{"name":"unjoined_fork","version":1,"schemaVersion":2,"tasks":[
		  {"name":"integration_task_1","taskReferenceName":"t1","type":"SIMPLE"},
		  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
		    [{"name":"integration_task_2","taskReferenceName":"t2","type":"SIMPLE"}],
		    [{"name":"integration_task_3","taskReferenceName":"t3","type":"SIMPLE"}]]},
		  {"name":"integration_task_4","taskReferenceName":"t4","type":"SIMPLE"}]}`, `{}`,
			"Fork task definition is not followed by a join task.  Check the blueprint", 1},
		{"FORK_JOIN_DYNAMIC with valid input", "", `{"dynamicTasks":[{"name":"integration_task_2","taskReferenceName":"xdt1"},{"name":"integration_task_3","taskReferenceName":"xdt2"}],
		  "dynamicTasksInput":{"xdt1":{"k":"v1"},"xdt2":{"k":"v2"}}}`,
			"Dynamic join definition is not followed by a join task.  Check the workflow definition.", 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := harnessEngine(t, nil, harnessWorkers(nil, nil)...)
			var d *engine.Definition
			if c.def == "" {
				d = harnessDef(t, e, "transcribed/dynamic_fork_join_start_test.json")
			} else {
				var err error
				if d, err = e.Parse([]byte(c.def)); err != nil {
					t.Fatalf("a fork without a JOIN is refused at load: %v", err)
				}
			}
			if n := len(d.UnjoinedForks()); n != 1 {
				t.Fatalf("UnjoinedForks lists %d forks, want 1", n)
			}
			res := startRun(t, e, d, c.input)
			wf := viewRun(t, e, res.RunID)
			if wf.Status != engine.StatusFailed || wf.Reason != c.reason {
				t.Fatalf("%s %q, want FAILED %q", wf.Status, wf.Reason, c.reason)
			}
			if len(wf.Tasks) != c.before {
				t.Fatalf("%d tasks, want %d: %+v", len(wf.Tasks), c.before, wf.Tasks)
			}
			for _, tk := range wf.Tasks {
				if tk.Status != engine.TaskCompleted {
					t.Fatalf("task %s %s, want COMPLETED", tk.Ref, tk.Status)
				}
			}
		})
	}
}
