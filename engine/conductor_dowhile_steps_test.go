package engine_test

import (
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// iterations checks the iteration of the records at the given indexes
// (index, iteration pairs).
func iterations(pairs ...int) func(*testing.T, *engine.Engine, runView) {
	return func(t *testing.T, _ *engine.Engine, wf runView) {
		t.Helper()
		for i := 0; i+1 < len(pairs); i += 2 {
			if got := wf.Tasks[pairs[i]].Iteration; got != pairs[i+1] {
				t.Fatalf("task %d (%s) iteration %d, want %d", pairs[i], wf.Tasks[pairs[i]].Ref, got, pairs[i+1])
			}
		}
	}
}

// DoWhileSpec's feature tests that wait on workers, step by step: each
// snapshot the spec checks after a worker task is polled and answered.
func TestConductorDoWhileSpecSteps(t *testing.T) {
	zero, one := 0, 1
	loopOnce := []string{"0 DO_WHILE:IN_PROGRESS", "1 integration_task_0:COMPLETED", "2 FORK:COMPLETED"}
	retried := []string{"0 DO_WHILE:IN_PROGRESS", "1 integration_task_0:FAILED", "2 integration_task_0:COMPLETED", "3 FORK:COMPLETED"}
	fiveTasks := []string{"1 LAMBDA:COMPLETED", "2 JSON_JQ_TRANSFORM:COMPLETED", "3 integration_task_1:COMPLETED", "4 JSON_JQ_TRANSFORM:COMPLETED"}
	twoIterations := []string{"1 integration_task_0:COMPLETED", "2 FORK:COMPLETED", "3 integration_task_1:COMPLETED", "4 integration_task_2:COMPLETED",
		"5 JOIN:COMPLETED", "6 integration_task_0:COMPLETED", "7 FORK:COMPLETED"}
	runStepCases(t, []stepCase{
		{name: "2 iterations of five tasks", file: "do_while_five_loop_over_integration_test.json", input: `{"loop":2}`, steps: []specStep{
			expect("RUNNING", 4, "0 DO_WHILE:IN_PROGRESS", "1 LAMBDA:COMPLETED", "2 JSON_JQ_TRANSFORM:COMPLETED", "3 integration_task_1:SCHEDULED").
				then(iterations(1, 1, 2, 1, 3, 1)),
			complete("integration_task_1", ""),
			expect("RUNNING", 6, append([]string{"0 DO_WHILE:IN_PROGRESS"}, append(fiveTasks, "5 integration_task_2:SCHEDULED")...)...),
			complete("integration_task_2", ""),
			expect("RUNNING", 9, append([]string{"0 DO_WHILE:IN_PROGRESS"}, append(fiveTasks, "5 integration_task_2:COMPLETED",
				"6 LAMBDA:COMPLETED", "7 JSON_JQ_TRANSFORM:COMPLETED", "8 integration_task_1:SCHEDULED")...)...).then(iterations(6, 2, 7, 2, 8, 2)),
			complete("integration_task_1", ""),
			complete("integration_task_2", ""),
			expect("RUNNING", 12, append([]string{"0 DO_WHILE:COMPLETED"}, append(fiveTasks, "5 integration_task_2:COMPLETED",
				"6 LAMBDA:COMPLETED", "7 JSON_JQ_TRANSFORM:COMPLETED", "8 integration_task_1:COMPLETED", "9 JSON_JQ_TRANSFORM:COMPLETED",
				"10 integration_task_2:COMPLETED", "11 integration_task_3:SCHEDULED")...)...).then(iterations(6, 2, 7, 2, 8, 2, 9, 2, 10, 2, 11, 0)),
			complete("integration_task_3", ""),
			expect("COMPLETED", 12, "11 integration_task_3:COMPLETED").then(iterations(11, 0)),
		}},
		{name: "2 iterations of 3 system tasks", file: "do_while_system_tasks.json", input: `{"loop":2}`, steps: []specStep{
			expect("RUNNING", 8, "0 DO_WHILE:COMPLETED", "1 LAMBDA:COMPLETED", "2 JSON_JQ_TRANSFORM:COMPLETED", "3 JSON_JQ_TRANSFORM:COMPLETED",
				"4 LAMBDA:COMPLETED", "5 JSON_JQ_TRANSFORM:COMPLETED", "6 JSON_JQ_TRANSFORM:COMPLETED", "7 integration_task_1:SCHEDULED").
				then(iterations(1, 1, 2, 1, 3, 1, 4, 2, 5, 2, 6, 2, 7, 0)),
			complete("integration_task_1", ""),
			expect("COMPLETED", 8, "7 integration_task_1:COMPLETED").then(iterations(7, 0)),
		}},
		{name: "single iteration", file: "do_while_integration_test.json", input: `{"loop":1}`, steps: []specStep{
			expect("RUNNING", 2, "0 DO_WHILE:IN_PROGRESS", "1 integration_task_0:SCHEDULED"),
			complete("integration_task_0", ""),
			expect("RUNNING", 6, append(loopOnce, "3 integration_task_1:SCHEDULED", "4 integration_task_2:SCHEDULED", "5 JOIN:IN_PROGRESS")...),
			complete("integration_task_1", ""),
			expect("RUNNING", 6, append(loopOnce, "3 integration_task_1:COMPLETED", "4 integration_task_2:SCHEDULED", "5 JOIN:IN_PROGRESS")...),
			complete("integration_task_2", ""),
			expect("COMPLETED", 6, "0 DO_WHILE:COMPLETED", "1 integration_task_0:COMPLETED", "2 FORK:COMPLETED", "3 integration_task_1:COMPLETED",
				"4 integration_task_2:COMPLETED", "5 JOIN:COMPLETED"),
		}},
		{name: "single iteration with sub workflow", file: "do_while_sub_workflow_integration_test.json", input: `{"loop":1}`, steps: []specStep{
			expect("RUNNING", 2, "0 DO_WHILE:IN_PROGRESS", "1 integration_task_0:SCHEDULED"),
			complete("integration_task_0", ""),
			expect("RUNNING", 6, append(loopOnce, "3 integration_task_1:SCHEDULED", "4 integration_task_2:SCHEDULED", "5 JOIN:IN_PROGRESS")...),
			complete("integration_task_1", ""),
			expect("RUNNING", 6, append(loopOnce, "3 integration_task_1:COMPLETED", "4 integration_task_2:SCHEDULED", "5 JOIN:IN_PROGRESS")...),
			complete("integration_task_2", ""),
			expect("RUNNING", 7, append(loopOnce, "3 integration_task_1:COMPLETED", "4 integration_task_2:COMPLETED", "5 JOIN:COMPLETED",
				"6 SUB_WORKFLOW:IN_PROGRESS")...),
			expectChild("st1__1", "RUNNING", 1, "0 simple_task_in_sub_wf:SCHEDULED"),
			complete("simple_task_in_sub_wf", ""),
			expectChild("st1__1", "COMPLETED", 1, "0 simple_task_in_sub_wf:COMPLETED"),
			expect("COMPLETED", 7, "0 DO_WHILE:COMPLETED", "1 integration_task_0:COMPLETED", "2 FORK:COMPLETED", "3 integration_task_1:COMPLETED",
				"4 integration_task_2:COMPLETED", "5 JOIN:COMPLETED", "6 SUB_WORKFLOW:COMPLETED"),
		}},
		{name: "multiple loops with multiple iterations", file: "do_while_multiple_integration_test.json", input: `{"loop":2,"loop2":1}`, steps: []specStep{
			expect("RUNNING", 2, "0 DO_WHILE:IN_PROGRESS", "1 integration_task_0:SCHEDULED"),
			complete("integration_task_0", ""),
			expect("RUNNING", 6, append(loopOnce, "3 integration_task_1:SCHEDULED", "4 integration_task_2:SCHEDULED", "5 JOIN:IN_PROGRESS")...),
			complete("integration_task_1", ""),
			expect("RUNNING", 6, append(loopOnce, "3 integration_task_1:COMPLETED", "4 integration_task_2:SCHEDULED", "5 JOIN:IN_PROGRESS")...),
			complete("integration_task_2", ""),
			expect("RUNNING", 7, append(loopOnce, "3 integration_task_1:COMPLETED", "4 integration_task_2:COMPLETED", "5 JOIN:COMPLETED",
				"6 integration_task_0:SCHEDULED")...),
			complete("integration_task_0", ""),
			expect("RUNNING", 11, append([]string{"0 DO_WHILE:IN_PROGRESS"}, append(twoIterations[:6],
				"7 FORK:COMPLETED", "8 integration_task_1:SCHEDULED", "9 integration_task_2:SCHEDULED", "10 JOIN:IN_PROGRESS")...)...),
			complete("integration_task_1", ""),
			expect("RUNNING", 11, append([]string{"0 DO_WHILE:IN_PROGRESS"}, append(twoIterations,
				"8 integration_task_1:COMPLETED", "9 integration_task_2:SCHEDULED", "10 JOIN:IN_PROGRESS")...)...),
			complete("integration_task_2", ""),
			expect("RUNNING", 13, append([]string{"0 DO_WHILE:COMPLETED"}, append(twoIterations,
				"8 integration_task_1:COMPLETED", "9 integration_task_2:COMPLETED", "10 JOIN:COMPLETED", "11 DO_WHILE:IN_PROGRESS",
				"12 integration_task_3:SCHEDULED")...)...),
			complete("integration_task_3", ""),
			expect("COMPLETED", 13, append([]string{"0 DO_WHILE:COMPLETED"}, append(twoIterations,
				"8 integration_task_1:COMPLETED", "9 integration_task_2:COMPLETED", "10 JOIN:COMPLETED", "11 DO_WHILE:COMPLETED",
				"12 integration_task_3:COMPLETED")...)...),
		}},
		{name: "retrying a failed loop", file: "do_while_integration_test.json", input: `{"loop":1}`,
			defs: []*engine.TaskDef{{Name: "integration_task_0", RetryCount: &zero, TimeoutSeconds: 120, ResponseTimeoutSeconds: new(int64)}},
			steps: []specStep{
				expect("RUNNING", 2, "0 DO_WHILE:IN_PROGRESS", "1 integration_task_0:SCHEDULED"),
				failTask("integration_task_0", "induced..failure"),
				expect("FAILED", 2, "0 DO_WHILE:CANCELED", "1 integration_task_0:FAILED"),
				retryRun(false),
				expect("RUNNING", 3, "0 DO_WHILE:IN_PROGRESS", "1 integration_task_0:FAILED", "2 integration_task_0:SCHEDULED"),
				complete("integration_task_0", ""),
				expect("RUNNING", 7, append(retried, "4 integration_task_1:SCHEDULED", "5 integration_task_2:SCHEDULED", "6 JOIN:IN_PROGRESS")...),
				complete("integration_task_1", ""),
				expect("RUNNING", 7, append(retried, "4 integration_task_1:COMPLETED", "5 integration_task_2:SCHEDULED", "6 JOIN:IN_PROGRESS")...),
				complete("integration_task_2", ""),
				expect("COMPLETED", 7, "0 DO_WHILE:COMPLETED", "1 integration_task_0:FAILED", "2 integration_task_0:COMPLETED", "3 FORK:COMPLETED",
					"4 integration_task_1:COMPLETED", "5 integration_task_2:COMPLETED", "6 JOIN:COMPLETED"),
			}},
		{name: "auto retrying a failed loop", file: "do_while_integration_test.json", input: `{"loop":1}`,
			defs: []*engine.TaskDef{{Name: "integration_task_0", RetryCount: &one, RetryDelaySeconds: &zero, TimeoutSeconds: 120, ResponseTimeoutSeconds: new(int64)}},
			steps: []specStep{
				expect("RUNNING", 2, "0 DO_WHILE:IN_PROGRESS", "1 integration_task_0:SCHEDULED"),
				failTask("integration_task_0", "induced..failure"),
				expect("RUNNING", 3, "0 DO_WHILE:IN_PROGRESS", "1 integration_task_0:FAILED", "2 integration_task_0:SCHEDULED").
					then(func(t *testing.T, _ *engine.Engine, wf runView) {
						if wf.Tasks[2].RetryCount != 1 || wf.Tasks[2].RetriedTaskID != wf.Tasks[1].TaskID {
							t.Fatalf("retry %+v of %+v", wf.Tasks[2], wf.Tasks[1])
						}
					}),
				complete("integration_task_0", ""),
				expect("RUNNING", 7, append(retried, "4 integration_task_1:SCHEDULED", "5 integration_task_2:SCHEDULED", "6 JOIN:IN_PROGRESS")...),
				complete("integration_task_1", ""),
				expect("RUNNING", 7, append(retried, "4 integration_task_1:COMPLETED", "5 integration_task_2:SCHEDULED", "6 JOIN:IN_PROGRESS")...),
				complete("integration_task_2", ""),
				expect("COMPLETED", 7, "0 DO_WHILE:COMPLETED", "1 integration_task_0:FAILED", "2 integration_task_0:COMPLETED", "3 FORK:COMPLETED",
					"4 integration_task_1:COMPLETED", "5 integration_task_2:COMPLETED", "6 JOIN:COMPLETED"),
			}},
		{name: "loop as a fork branch", file: "do_while_as_subtask_integration_test.json", input: `{"loop":1}`, steps: []specStep{
			expect("RUNNING", 5, "0 FORK:COMPLETED", "1 DO_WHILE:IN_PROGRESS", "2 integration_task_2:SCHEDULED", "3 JOIN:IN_PROGRESS",
				"4 integration_task_0:SCHEDULED"),
			complete("integration_task_0", ""),
			expect("RUNNING", 6, "0 FORK:COMPLETED", "1 DO_WHILE:IN_PROGRESS", "2 integration_task_2:SCHEDULED", "3 JOIN:IN_PROGRESS",
				"4 integration_task_0:COMPLETED", "5 integration_task_1:SCHEDULED"),
			complete("integration_task_1", ""),
			expect("RUNNING", 6, "0 FORK:COMPLETED", "1 DO_WHILE:COMPLETED", "2 integration_task_2:SCHEDULED", "3 JOIN:IN_PROGRESS",
				"4 integration_task_0:COMPLETED", "5 integration_task_1:COMPLETED"),
			complete("integration_task_2", ""),
			expect("COMPLETED", 6, "0 FORK:COMPLETED", "1 DO_WHILE:COMPLETED", "2 integration_task_2:COMPLETED", "3 JOIN:COMPLETED",
				"4 integration_task_0:COMPLETED", "5 integration_task_1:COMPLETED"),
		}},
	})
}

// DoWhileSpec "Test workflow with Do While task contains decision task",
// step by step: each iteration's WAIT is completed from outside, and the
// run is checked as the spec checks it before and after.
func TestConductorDoWhileDecisionTaskSteps(t *testing.T) {
	first := []string{"0 DO_WHILE:IN_PROGRESS", "1 INLINE:COMPLETED", "2 SWITCH:COMPLETED"}
	runStepCases(t, []stepCase{{name: "loop with a decision task", file: "do_while_with_decision_task.json", input: `{"list":[1,2]}`,
		correlationID: "looptest", steps: []specStep{
			expect("RUNNING", 4, append(first, "3 WAIT:IN_PROGRESS")...),
			completeWaiting("WaitTask"),
			expect("RUNNING", 8, append(first, "3 WAIT:COMPLETED", "4 INLINE:COMPLETED", "5 INLINE:COMPLETED", "6 SWITCH:COMPLETED",
				"7 WAIT:IN_PROGRESS")...).then(iterations(0, 2)),
			completeWaiting("WaitTask"),
			expect("COMPLETED", 9, "0 DO_WHILE:COMPLETED", "1 INLINE:COMPLETED", "2 SWITCH:COMPLETED", "3 WAIT:COMPLETED", "4 INLINE:COMPLETED",
				"5 INLINE:COMPLETED", "6 SWITCH:COMPLETED", "7 WAIT:COMPLETED", "8 INLINE:COMPLETED").then(iterations(0, 2)),
		}}})
}
