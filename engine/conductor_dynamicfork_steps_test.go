package engine_test

import (
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// joinOutput checks the dynamic fork's JOIN (task 4): its joinOn and its
// output, JSON.
func joinOutput(want string) func(*testing.T, *engine.Engine, runView) {
	return func(t *testing.T, e *engine.Engine, wf runView) {
		t.Helper()
		joinOnIs("dynamicfanouttask_join", "xdt1", "xdt2")(t, e, wf)
		if wf.Tasks[4].Ref != "dynamicfanouttask_join" {
			t.Fatalf("task 4 is %s", wf.Tasks[4].Ref)
		}
		if b, _ := json.Marshal(wf.Tasks[4].Output); string(b) != want {
			t.Fatalf("join output %s, want %s", b, want)
		}
	}
}

// DynamicForkJoinSpec's feature tests on dynamic_fork_join_workflow, step
// by step: integration_task_1 returns the dynamic tasks, each forked task
// and integration_task_4 are polled and answered one at a time, and each
// snapshot the spec checks holds.
func TestConductorDynamicForkJoinSpecSteps(t *testing.T) {
	zero := 0
	noRetry := []*engine.TaskDef{{Name: "integration_task_2", RetryCount: &zero, TimeoutSeconds: 120, ResponseTimeoutSeconds: new(int64)}}
	const file = "dynamic_fork_join_integration_test.json"
	forked := expect("RUNNING", 5, "0 integration_task_1:COMPLETED", "1 FORK:COMPLETED", "2 integration_task_2:SCHEDULED",
		"3 integration_task_3:SCHEDULED", "4 JOIN:IN_PROGRESS").then(joinOutput(`{}`))
	failed := expect("FAILED", 5, "2 integration_task_2:FAILED", "3 integration_task_3:CANCELED", "4 JOIN:CANCELED")
	runStepCases(t, []stepCase{
		{name: "success flow", file: file, correlationID: "dynamic_fork_join_workflow", steps: []specStep{
			expect("RUNNING", 1, "0 integration_task_1:SCHEDULED"),
			complete("integration_task_1", dynamicTasksOutput),
			forked,
			complete("integration_task_2", `{"ok1":"ov1"}`),
			complete("integration_task_3", `{"ok1":"ov1"}`),
			expect("RUNNING", 6, "2 integration_task_2:COMPLETED", "3 integration_task_3:COMPLETED", "4 JOIN:COMPLETED", "5 integration_task_4:SCHEDULED").
				then(joinOutput(`{"xdt1":{"ok1":"ov1"},"xdt2":{"ok1":"ov1"}}`)),
			complete("integration_task_4", ""),
			expect("COMPLETED", 6, "5 integration_task_4:COMPLETED"),
		}},
		{name: "failure of dynamic forked task flow", file: file, correlationID: "dynamic_fork_join_workflow", defs: noRetry, steps: []specStep{
			expect("RUNNING", 1, "0 integration_task_1:SCHEDULED"),
			complete("integration_task_1", dynamicTasksOutput),
			forked,
			failTask("integration_task_2", "it is a failure.."),
			failed.then(joinOutput(`{}`)),
		}},
		{name: "retry a failed dynamic fork join workflow", file: file, correlationID: "dynamic_fork_join_workflow", defs: noRetry, steps: []specStep{
			expect("RUNNING", 1, "0 integration_task_1:SCHEDULED"),
			complete("integration_task_1", dynamicTasksOutput),
			forked,
			failTask("integration_task_2", "it is a failure.."),
			failed,
			retryRun(false),
			expect("RUNNING", 7, "2 integration_task_2:FAILED", "3 integration_task_3:CANCELED", "4 JOIN:IN_PROGRESS", "5 integration_task_2:SCHEDULED",
				"6 integration_task_3:SCHEDULED").then(joinOutput(`{}`)),
			complete("integration_task_2", `{"ok1":"ov1"}`),
			complete("integration_task_3", `{"ok1":"ov1"}`),
			expect("RUNNING", 8, "4 JOIN:COMPLETED", "5 integration_task_2:COMPLETED", "6 integration_task_3:COMPLETED", "7 integration_task_4:SCHEDULED").
				then(joinOutput(`{"xdt1":{"ok1":"ov1"},"xdt2":{"ok1":"ov1"}}`)),
			complete("integration_task_4", ""),
			expect("COMPLETED", 8, "7 integration_task_4:COMPLETED"),
		}},
		{name: "empty output", file: file, correlationID: "dynamic_fork_join_workflow", steps: []specStep{
			expect("RUNNING", 1, "0 integration_task_1:SCHEDULED"),
			complete("integration_task_1", dynamicTasksOutput),
			forked,
			complete("integration_task_2", ""),
			complete("integration_task_3", ""),
			expect("RUNNING", 6, "2 integration_task_2:COMPLETED", "3 integration_task_3:COMPLETED", "4 JOIN:COMPLETED", "5 integration_task_4:SCHEDULED").
				then(joinOutput(`{}`)),
			complete("integration_task_4", ""),
			expect("COMPLETED", 6, "5 integration_task_4:COMPLETED"),
		}},
	})
}

// DynamicForkJoinSpec "Retry a failed dynamic fork join workflow with
// forked subworkflow", step by step: the dynamic fork runs a SUB_WORKFLOW
// (integration_test_wf3) and integration_task_10; the child's
// integration_task_2 (no retries) fails, the run FAILS; a retry with
// resumeSubworkflowTasks retries the child's task in the same child.
func TestConductorDynamicForkRetryWithForkedSubWorkflowSteps(t *testing.T) {
	zero := 0
	const dynamic = `{"dynamicTasks":[{"name":"sub_wf_task","taskReferenceName":"xdt1","type":"SUB_WORKFLOW",
	  "subWorkflowParam":{"name":"integration_test_wf3","version":1}},{"name":"integration_task_10","taskReferenceName":"xdt10"}],
	  "dynamicTasksInput":{"xdt1":{"p1":"q1","p2":"q2"},"xdt10":{"k2":"v2"}}}`
	forked := []string{"0 integration_task_1:COMPLETED", "1 FORK:COMPLETED"}
	var child string
	sameChild := func(t *testing.T, _ *engine.Engine, wf runView) {
		t.Helper()
		if wf.Tasks[4].Ref != "dynamicfanouttask_join" {
			t.Fatalf("task 4 is %s", wf.Tasks[4].Ref)
		}
		if child == "" {
			child = wf.Tasks[2].SubWorkflowID
		}
		if wf.Tasks[2].SubWorkflowID != child {
			t.Fatalf("xdt1's child %s, was %s", wf.Tasks[2].SubWorkflowID, child)
		}
	}
	runStepCases(t, []stepCase{{name: "retry with forked subworkflow", file: "dynamic_fork_join_integration_test.json",
		correlationID: "dynamic_fork_join_wf_subwf",
		defs:          []*engine.TaskDef{{Name: "integration_task_2", RetryCount: &zero, TimeoutSeconds: 120, ResponseTimeoutSeconds: new(int64)}},
		steps: []specStep{
			expect("RUNNING", 1, "0 integration_task_1:SCHEDULED"),
			complete("integration_task_1", dynamic),
			expect("RUNNING", 5, append(forked, "2 SUB_WORKFLOW:IN_PROGRESS", "3 integration_task_10:SCHEDULED", "4 JOIN:IN_PROGRESS")...).then(sameChild),
			expectChild("xdt1", "RUNNING", 1, "0 integration_task_1:SCHEDULED"),
			complete("integration_task_10", ""),
			expect("RUNNING", 5, append(forked, "2 SUB_WORKFLOW:IN_PROGRESS", "3 integration_task_10:COMPLETED", "4 JOIN:IN_PROGRESS")...),
			complete("integration_task_1", ""),
			expectChild("xdt1", "RUNNING", 2, "0 integration_task_1:COMPLETED", "1 integration_task_2:SCHEDULED"),
			failTask("integration_task_2", "failed"),
			expectChild("xdt1", "FAILED", 2, "0 integration_task_1:COMPLETED", "1 integration_task_2:FAILED"),
			expect("FAILED", 5, append(forked, "2 SUB_WORKFLOW:FAILED", "3 integration_task_10:COMPLETED", "4 JOIN:CANCELED")...).then(sameChild),
			retryRun(true),
			expect("RUNNING", 5, append(forked, "2 SUB_WORKFLOW:IN_PROGRESS", "3 integration_task_10:COMPLETED", "4 JOIN:IN_PROGRESS")...).then(sameChild),
			expectChild("xdt1", "RUNNING", 3, "0 integration_task_1:COMPLETED", "1 integration_task_2:FAILED", "2 integration_task_2:SCHEDULED"),
			complete("integration_task_2", ""),
			expectChild("xdt1", "RUNNING", 4, "0 integration_task_1:COMPLETED", "1 integration_task_2:FAILED", "2 integration_task_2:COMPLETED",
				"3 integration_task_3:SCHEDULED"),
			complete("integration_task_3", ""),
			expectChild("xdt1", "COMPLETED", 4, "0 integration_task_1:COMPLETED", "1 integration_task_2:FAILED", "2 integration_task_2:COMPLETED",
				"3 integration_task_3:COMPLETED"),
			expect("RUNNING", 6, append(forked, "2 SUB_WORKFLOW:COMPLETED", "3 integration_task_10:COMPLETED", "4 JOIN:COMPLETED",
				"5 integration_task_4:SCHEDULED")...).then(sameChild),
			complete("integration_task_4", ""),
			expect("COMPLETED", 6, append(forked, "2 SUB_WORKFLOW:COMPLETED", "3 integration_task_10:COMPLETED", "4 JOIN:COMPLETED",
				"5 integration_task_4:COMPLETED")...).then(sameChild),
		}}})
}
