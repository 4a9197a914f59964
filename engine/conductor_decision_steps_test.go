package engine_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// conditionalStepCases are DecisionTaskSpec's and SwitchTaskSpec's
// feature tests step by step (their definitions differ only in the type,
// DECISION or SWITCH, and its output, caseOutput or evaluationResult):
// every snapshot the spec checks after each task a worker polls and
// completes, with the outputs it checks on the way.
func conditionalStepCases(typ, outKey, simple, forkJoin, conditional string) []stepCase {
	task := func(i int, s string) string { return itoa(i) + " " + typ + ":" + s }
	cases := []stepCase{
		{name: "simple workflow", file: simple, input: `{"param1":"p1","param2":"p2","case":"c"}`, steps: []specStep{
			expect("RUNNING", 2, task(0, "COMPLETED"), "1 integration_task_1:SCHEDULED"),
			complete("integration_task_1", ""),
			expect("RUNNING", 3, task(0, "COMPLETED"), "1 integration_task_1:COMPLETED", "2 integration_task_2:SCHEDULED"),
			complete("integration_task_2", ""),
			expect("RUNNING", 4, "2 integration_task_2:COMPLETED", "3 integration_task_20:SCHEDULED"),
			complete("integration_task_20", ""),
			expect("COMPLETED", 4, "3 integration_task_20:COMPLETED"),
		}},
		{name: "leads to a fork join", file: forkJoin, input: `{"param1":"p1","param2":"p2","case":"c"}`, steps: []specStep{
			expect("RUNNING", 5, "0 FORK:COMPLETED", task(1, "COMPLETED"), "2 integration_task_1:SCHEDULED", "3 integration_task_10:SCHEDULED",
				"4 JOIN:IN_PROGRESS"),
			complete("integration_task_1", ""),
			complete("integration_task_10", ""),
			expect("RUNNING", 6, "2 integration_task_1:COMPLETED", "3 integration_task_10:COMPLETED", "4 JOIN:IN_PROGRESS",
				"5 integration_task_2:SCHEDULED").then(joinOnIs("joinTask", "t20", "t10")),
			complete("integration_task_2", ""),
			expect("RUNNING", 7, "4 JOIN:IN_PROGRESS", "5 integration_task_2:COMPLETED", "6 integration_task_20:SCHEDULED"),
			complete("integration_task_20", ""),
			expect("COMPLETED", 7, "4 JOIN:COMPLETED", "6 integration_task_20:COMPLETED").then(joinOnIs("joinTask", "t20", "t10")),
		}},
		{name: "default case", file: conditional, input: `{"param1":"xxx","param2":"two"}`, steps: []specStep{
			expect("RUNNING", 2, task(0, "COMPLETED"), "1 integration_task_10:SCHEDULED").then(evaluationResults(outKey, `["xxx"]`)),
			complete("integration_task_10", ""),
			expect("COMPLETED", 3, "1 integration_task_10:COMPLETED", task(2, "COMPLETED")).then(evaluationResults(outKey, `["xxx"]`, `["null"]`)),
		}},
		{name: "three", file: conditional, input: `{"param1":"three","param2":"two","finalCase":"notify"}`, steps: []specStep{
			expect("RUNNING", 2, task(0, "COMPLETED"), "1 integration_task_3:SCHEDULED").then(evaluationResults(outKey, `["three"]`)),
			complete("integration_task_3", ""),
			expect("RUNNING", 4, "1 integration_task_3:COMPLETED", task(2, "COMPLETED"), "3 integration_task_4:SCHEDULED").
				then(evaluationResults(outKey, `["three"]`, `["notify"]`)),
			complete("integration_task_4", ""),
			expect("COMPLETED", 4, "1 integration_task_3:COMPLETED", task(2, "COMPLETED"), "3 integration_task_4:COMPLETED"),
		}},
	}
	for _, c := range []struct{ value, task string }{{"two", "integration_task_2"}, {"one", "integration_task_1"}} {
		cases = append(cases, stepCase{name: "nested and " + c.value, file: conditional, correlationID: "conditional_nested_" + c.value,
			input: `{"param1":"nested","param2":"` + c.value + `"}`, steps: []specStep{
				expect("RUNNING", 3, task(0, "COMPLETED"), task(1, "COMPLETED"), "2 "+c.task+":SCHEDULED").
					then(evaluationResults(outKey, `["nested"]`, `["`+c.value+`"]`)),
				complete(c.task, ""),
				expect("COMPLETED", 4, "2 "+c.task+":COMPLETED", task(3, "COMPLETED")).
					then(evaluationResults(outKey, `["nested"]`, `["`+c.value+`"]`, `["null"]`)),
			}})
	}
	return cases
}

func itoa(i int) string { return string(rune('0' + i)) }

// DecisionTaskSpec, every feature test, step by step.
func TestConductorDecisionTaskSpecSteps(t *testing.T) {
	runStepCases(t, conditionalStepCases("DECISION", "caseOutput", "simple_decision_task_integration_test.json",
		"decision_and_fork_join_integration_test.json", "conditional_task_workflow_integration_test.json"))
}

// SwitchTaskSpec, every feature test, step by step.
func TestConductorSwitchTaskSpecSteps(t *testing.T) {
	runStepCases(t, append(conditionalStepCases("SWITCH", "evaluationResult", "simple_switch_task_integration_test.json",
		"switch_and_fork_join_integration_test.json", "conditional_switch_task_workflow_integration_test.json"),
		stepCase{name: "no default case", file: "switch_with_no_default_case_integration_test.json", input: `{"param1":"p1","param2":"p2"}`,
			steps: []specStep{
				expect("RUNNING", 2, "0 SWITCH:COMPLETED", "1 integration_task_2:SCHEDULED"),
				complete("integration_task_2", ""),
				expect("COMPLETED", 2, "0 SWITCH:COMPLETED", "1 integration_task_2:COMPLETED"),
			}}))
}

// LambdaAndTerminateTaskSpec "Test workflow with a terminate task within a
// decision branch", step by step.
func TestConductorTerminateInDecisionSteps(t *testing.T) {
	runStepCases(t, []stepCase{{name: "terminate within a decision branch", file: "decision_and_terminate_integration_test.json",
		input: `{"param1":"p1","param2":"p2","case":"two"}`, steps: []specStep{
			expect("RUNNING", 1, "0 integration_task_1:SCHEDULED").then(seqs(1)),
			complete("integration_task_1", `{"op":"task1 completed"}`),
			expect("FAILED", 3, "0 integration_task_1:COMPLETED", "1 DECISION:COMPLETED", "2 TERMINATE:COMPLETED").
				then(func(t *testing.T, e *engine.Engine, wf runView) {
					seqs(1, 2, 3)(t, e, wf)
					if !strings.Contains(wf.Reason, "Workflow is FAILED by TERMINATE task") || wf.Tasks[0].Output["op"] != "task1 completed" {
						t.Fatalf("reason %q, task output %v", wf.Reason, wf.Tasks[0].Output)
					}
					if b, _ := json.Marshal(wf.Output); string(b) != `{"output":"task1 completed"}` {
						t.Fatalf("output %s", b)
					}
				}),
		}}})
}
