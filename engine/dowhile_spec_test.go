package engine_test

import (
	"strings"
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
			got = append(got, tk.Ref+"@"+itoa(tk.Iteration))
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("refs %v, want %v", got, want)
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	var b []byte
	for ; n > 0; n /= 10 {
		b = append([]byte{byte('0' + n%10)}, b...)
	}
	return string(b)
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
	runSpecCases(t, []specCase{
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
