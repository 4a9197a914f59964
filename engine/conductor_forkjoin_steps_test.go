package engine_test

import (
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// ForkJoinSpec's feature tests on worker tasks, step by step: each
// snapshot the spec checks after a worker task is polled and answered.
// Where the spec looks at the run before its asynchronous JOIN was
// evaluated (the JOIN still IN_PROGRESS once every branch ended), the
// step is left out: wfrun evaluates a JOIN as soon as its tasks have ended.
func TestConductorForkJoinSpecSteps(t *testing.T) {
	zero := 0
	noRetry := func(name string) []*engine.TaskDef {
		return []*engine.TaskDef{{Name: name, RetryCount: &zero, TimeoutSeconds: 0, ResponseTimeoutSeconds: new(int64)}}
	}
	started := func(t1, t2 string) specStep {
		return expect("RUNNING", 4, "0 FORK:COMPLETED", "1 "+t1+":SCHEDULED", "2 "+t2+":SCHEDULED", "3 JOIN:IN_PROGRESS")
	}
	const rt = "integration_task_0_RT_"
	const prt = "integration_p_task_0_RT_"
	runStepCases(t, []stepCase{
		{name: "success flow", file: "fork_join_integration_test.json", correlationID: "fanoutTest", steps: []specStep{
			started("integration_task_1", "integration_task_2"),
			complete("integration_task_1", ""),
			expect("RUNNING", 5, "1 integration_task_1:COMPLETED", "2 integration_task_2:SCHEDULED", "3 JOIN:IN_PROGRESS", "4 integration_task_3:SCHEDULED"),
			complete("integration_task_3", ""),
			expect("RUNNING", 5, "2 integration_task_2:SCHEDULED", "3 JOIN:IN_PROGRESS", "4 integration_task_3:COMPLETED"),
			complete("integration_task_2", ""),
			expect("RUNNING", 6, "2 integration_task_2:COMPLETED", "3 JOIN:COMPLETED", "5 integration_task_4:SCHEDULED"),
			complete("integration_task_4", ""),
			expect("COMPLETED", 6, "5 integration_task_4:COMPLETED"),
		}},
		{name: "failure flow", file: "fork_join_integration_test.json", correlationID: "fanoutTest", defs: noRetry("integration_task_2"), steps: []specStep{
			started("integration_task_1", "integration_task_2"),
			complete("integration_task_1", ""),
			expect("RUNNING", 5, "1 integration_task_1:COMPLETED", "2 integration_task_2:SCHEDULED", "3 JOIN:IN_PROGRESS", "4 integration_task_3:SCHEDULED"),
			failTask("integration_task_2", "Failed...."),
			expect("FAILED", 5, "1 integration_task_1:COMPLETED", "2 integration_task_2:FAILED", "3 JOIN:CANCELED", "4 integration_task_3:CANCELED"),
		}},
		{name: "permissive failure flow", file: "fork_join_permissive_integration_test.json", correlationID: "fanoutTest",
			defs: noRetry("integration_task_1"), steps: []specStep{
				started("integration_task_1", "integration_task_2"),
				failTask("integration_task_1", "Failed..."),
				expect("RUNNING", 4, "1 integration_task_1:FAILED", "2 integration_task_2:SCHEDULED", "3 JOIN:IN_PROGRESS"),
				complete("integration_task_2", ""),
				expect("FAILED", 4, "1 integration_task_1:FAILED", "2 integration_task_2:COMPLETED", "3 JOIN:FAILED"),
			}},
		{name: "retrying a failed fork join workflow", file: "fork_join_with_no_task_retry_integration_test.json", correlationID: "fanoutTest",
			steps: []specStep{
				started(rt+"1", rt+"2"),
				complete(rt+"1", ""),
				expect("RUNNING", 5, "1 "+rt+"1:COMPLETED", "2 "+rt+"2:SCHEDULED", "3 JOIN:IN_PROGRESS", "4 "+rt+"3:SCHEDULED"),
				failTask(rt+"2", "Failed...."),
				expect("FAILED", 5, "1 "+rt+"1:COMPLETED", "2 "+rt+"2:FAILED", "3 JOIN:CANCELED", "4 "+rt+"3:CANCELED"),
				retryRun(false),
				expect("RUNNING", 7, "1 "+rt+"1:COMPLETED", "2 "+rt+"2:FAILED", "3 JOIN:IN_PROGRESS", "4 "+rt+"3:CANCELED", "5 "+rt+"2:SCHEDULED",
					"6 "+rt+"3:SCHEDULED"),
				complete(rt+"3", ""),
				complete(rt+"2", ""),
				complete(rt+"4", ""),
				expect("COMPLETED", 8, "1 "+rt+"1:COMPLETED", "2 "+rt+"2:FAILED", "3 JOIN:COMPLETED", "4 "+rt+"3:CANCELED", "5 "+rt+"2:COMPLETED",
					"6 "+rt+"3:COMPLETED", "7 "+rt+"4:COMPLETED"),
			}},
		{name: "retrying a failed permissive fork join workflow", file: "fork_join_with_no_permissive_task_retry_integration_test.json",
			correlationID: "fanoutTest", steps: []specStep{
				started(prt+"1", prt+"2"),
				complete(prt+"1", ""),
				expect("RUNNING", 5, "1 "+prt+"1:COMPLETED", "2 "+prt+"2:SCHEDULED", "3 JOIN:IN_PROGRESS", "4 "+prt+"3:SCHEDULED"),
				failTask(prt+"2", "Failed...."),
				expect("RUNNING", 5, "1 "+prt+"1:COMPLETED", "2 "+prt+"2:FAILED", "3 JOIN:IN_PROGRESS", "4 "+prt+"3:SCHEDULED"),
				failTask(prt+"3", "Failed...."),
				expect("FAILED", 5, "1 "+prt+"1:COMPLETED", "2 "+prt+"2:FAILED", "3 JOIN:FAILED", "4 "+prt+"3:FAILED"),
				retryRun(false),
				expect("RUNNING", 7, "1 "+prt+"1:COMPLETED", "2 "+prt+"2:FAILED", "3 JOIN:IN_PROGRESS", "4 "+prt+"3:FAILED", "5 "+prt+"2:SCHEDULED",
					"6 "+prt+"3:SCHEDULED"),
				complete(prt+"3", ""),
				complete(prt+"2", ""),
				complete(prt+"4", ""),
				expect("COMPLETED", 8, "1 "+prt+"1:COMPLETED", "2 "+prt+"2:FAILED", "3 JOIN:COMPLETED", "4 "+prt+"3:FAILED", "5 "+prt+"2:COMPLETED",
					"6 "+prt+"3:COMPLETED", "7 "+prt+"4:COMPLETED"),
			}},
		{name: "sub workflow task using task definition", file: "fork_join_sub_workflow.json", input: `{"param1":"p1 value","param2":"p2 value"}`,
			steps: []specStep{
				expect("RUNNING", 4, "0 FORK:COMPLETED", "1 SUB_WORKFLOW:IN_PROGRESS", "2 integration_task_2:SCHEDULED", "3 JOIN:IN_PROGRESS").
					then(joinOnIs("fanouttask_join", "st1", "t2")),
				expectChild("st1", "RUNNING", 1, "0 simple_task_in_sub_wf:SCHEDULED"),
				failTask("simple_task_in_sub_wf", "Failed...."),
				expect("RUNNING", 5, "0 FORK:COMPLETED", "1 SUB_WORKFLOW:FAILED", "2 integration_task_2:SCHEDULED", "3 JOIN:IN_PROGRESS",
					"4 SUB_WORKFLOW:IN_PROGRESS").then(joinOnIs("fanouttask_join", "st1", "t2")),
				expectChild("st1", "RUNNING", 1, "0 simple_task_in_sub_wf:SCHEDULED"),
				complete("simple_task_in_sub_wf", ""),
				expectChild("st1", "COMPLETED", 1, "0 simple_task_in_sub_wf:COMPLETED"),
				expect("RUNNING", 5, "0 FORK:COMPLETED", "1 SUB_WORKFLOW:FAILED", "2 integration_task_2:SCHEDULED", "3 JOIN:IN_PROGRESS",
					"4 SUB_WORKFLOW:COMPLETED"),
				complete("integration_task_2", ""),
				expect("COMPLETED", 5, "0 FORK:COMPLETED", "1 SUB_WORKFLOW:FAILED", "2 integration_task_2:COMPLETED", "3 JOIN:COMPLETED",
					"4 SUB_WORKFLOW:COMPLETED").then(joinOnIs("fanouttask_join", "st1", "t2")),
			}},
	})
}

// ForkJoinSpec "Test nested fork join workflow success flow", step by step.
func TestConductorNestedForkJoinSpecSteps(t *testing.T) {
	joins := func(t *testing.T, e *engine.Engine, wf runView) {
		t.Helper()
		joinOnIs("join2", "t14", "t20")(t, e, wf)
		joinOnIs("join1", "t11", "join2")(t, e, wf)
		if wf.Tasks[5].Ref != "join2" || wf.Tasks[6].Ref != "join1" {
			t.Fatalf("tasks 5, 6: %s, %s", wf.Tasks[5].Ref, wf.Tasks[6].Ref)
		}
	}
	runStepCases(t, []stepCase{{name: "nested fork join", file: "nested_fork_join_integration_test.json", input: `{"case":"a"}`,
		correlationID: "fork_join_nested_test", steps: []specStep{
			expect("RUNNING", 7, "0 FORK:COMPLETED", "1 integration_task_11:SCHEDULED", "2 FORK:COMPLETED", "3 integration_task_12:SCHEDULED",
				"4 integration_task_13:SCHEDULED", "5 JOIN:IN_PROGRESS", "6 JOIN:IN_PROGRESS").then(joins),
			complete("integration_task_11", ""),
			complete("integration_task_12", ""),
			complete("integration_task_13", ""),
			expect("RUNNING", 10, "0 FORK:COMPLETED", "1 integration_task_11:COMPLETED", "2 FORK:COMPLETED", "3 integration_task_12:COMPLETED",
				"4 integration_task_13:COMPLETED", "5 JOIN:IN_PROGRESS", "6 JOIN:IN_PROGRESS", "7 integration_task_14:SCHEDULED", "8 DECISION:COMPLETED",
				"9 integration_task_16:SCHEDULED").then(joins),
			complete("integration_task_16", ""),
			complete("integration_task_14", ""),
			expect("RUNNING", 11, "5 JOIN:IN_PROGRESS", "6 JOIN:IN_PROGRESS", "7 integration_task_14:COMPLETED", "8 DECISION:COMPLETED",
				"9 integration_task_16:COMPLETED", "10 integration_task_19:SCHEDULED").then(joins),
			complete("integration_task_19", ""),
			expect("RUNNING", 12, "5 JOIN:IN_PROGRESS", "6 JOIN:IN_PROGRESS", "10 integration_task_19:COMPLETED", "11 integration_task_20:SCHEDULED"),
			complete("integration_task_20", ""),
			expect("RUNNING", 13, "5 JOIN:COMPLETED", "6 JOIN:COMPLETED", "11 integration_task_20:COMPLETED", "12 integration_task_15:SCHEDULED").then(joins),
			complete("integration_task_15", ""),
			expect("COMPLETED", 13, "12 integration_task_15:COMPLETED"),
		}}})
}
