package engine_test

import "testing"

// ExclusiveJoinSpec, every feature test, step by step: each worker task is
// polled and completed with {taskReferenceName: its ref} as the spec's are,
// and each snapshot the spec checks in between holds.
func TestConductorExclusiveJoinSpecSteps(t *testing.T) {
	const file = "exclusive_join_integration_test.json"
	done := func(n string) specStep {
		return complete("integration_task_"+n, `{"taskReferenceName":"task`+n+`"}`)
	}
	first := expect("RUNNING", 1, "0 integration_task_1:SCHEDULED")
	runStepCases(t, []stepCase{
		{name: "the default decision is run", file: file, input: `{"decision_1":"null"}`, steps: []specStep{
			first, done("1"),
			expect("COMPLETED", 3, "0 integration_task_1:COMPLETED", "1 DECISION:COMPLETED", "2 EXCLUSIVE_JOIN:COMPLETED").then(exclusiveJoined("task1")),
		}},
		{name: "one decision is true and the other is decision null", file: file, input: `{"decision_1":"true","decision_2":"null"}`, steps: []specStep{
			first, done("1"),
			expect("RUNNING", 3, "1 DECISION:COMPLETED", "2 integration_task_2:SCHEDULED"),
			done("2"),
			expect("COMPLETED", 5, "0 integration_task_1:COMPLETED", "1 DECISION:COMPLETED", "2 integration_task_2:COMPLETED", "3 DECISION:COMPLETED",
				"4 EXCLUSIVE_JOIN:COMPLETED").then(exclusiveJoined("task2")),
		}},
		{name: "both decisions are true", file: file, input: `{"decision_1":"true","decision_2":"true"}`, steps: []specStep{
			first, done("1"),
			expect("RUNNING", 3, "1 DECISION:COMPLETED", "2 integration_task_2:SCHEDULED"),
			done("2"),
			expect("RUNNING", 5, "0 integration_task_1:COMPLETED", "1 DECISION:COMPLETED", "2 integration_task_2:COMPLETED", "3 DECISION:COMPLETED",
				"4 integration_task_3:SCHEDULED"),
			done("3"),
			expect("COMPLETED", 6, "0 integration_task_1:COMPLETED", "1 DECISION:COMPLETED", "2 integration_task_2:COMPLETED", "3 DECISION:COMPLETED",
				"4 integration_task_3:COMPLETED", "5 EXCLUSIVE_JOIN:COMPLETED").then(exclusiveJoined("task3")),
		}},
		{name: "decision_1 is false and decision_3 is default", file: file, input: `{"decision_1":"false","decision_3":"null"}`, steps: []specStep{
			first, done("1"),
			expect("RUNNING", 3, "1 DECISION:COMPLETED", "2 integration_task_4:SCHEDULED"),
			done("4"),
			expect("COMPLETED", 5, "0 integration_task_1:COMPLETED", "1 DECISION:COMPLETED", "2 integration_task_4:COMPLETED", "3 DECISION:COMPLETED",
				"4 EXCLUSIVE_JOIN:COMPLETED").then(exclusiveJoined("task4")),
		}},
		{name: "decision_1 is false and decision_3 is true", file: file, input: `{"decision_1":"false","decision_3":"true"}`, steps: []specStep{
			first, done("1"),
			expect("RUNNING", 3, "1 DECISION:COMPLETED", "2 integration_task_4:SCHEDULED"),
			done("4"),
			expect("RUNNING", 5, "0 integration_task_1:COMPLETED", "1 DECISION:COMPLETED", "2 integration_task_4:COMPLETED", "3 DECISION:COMPLETED",
				"4 integration_task_5:SCHEDULED"),
			done("5"),
			expect("COMPLETED", 6, "0 integration_task_1:COMPLETED", "1 DECISION:COMPLETED", "2 integration_task_4:COMPLETED", "3 DECISION:COMPLETED",
				"4 integration_task_5:COMPLETED", "5 EXCLUSIVE_JOIN:COMPLETED").then(exclusiveJoined("task5")),
		}},
	})
}
