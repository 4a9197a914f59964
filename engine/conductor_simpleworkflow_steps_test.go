package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// ownTaskIDs checks that every record's input p3 (${CPEWF_TASK_ID}) is
// its own task id.
func ownTaskIDs(t *testing.T, _ *engine.Engine, wf runView) {
	t.Helper()
	for _, tk := range wf.Tasks {
		if tk.Input["p3"] != tk.TaskID {
			t.Fatalf("%s (%s): input p3 %v", tk.Ref, tk.TaskID, tk.Input["p3"])
		}
	}
}

// SimpleWorkflowSpec's feature tests of integration_test_wf on worker
// tasks, step by step: each snapshot the spec checks after a worker task
// is polled and answered, a retry or a restart.
func TestConductorSimpleWorkflowSpecSteps(t *testing.T) {
	zero, one := 0, 1
	rt := int64(120)
	t1Retries := func(n int) []*engine.TaskDef {
		return []*engine.TaskDef{{Name: "integration_task_1", Description: "integration_task_1", OwnerEmail: "test@harness.com",
			RetryCount: &n, RetryDelaySeconds: &zero, TimeoutSeconds: 120, ResponseTimeoutSeconds: &rt}}
	}
	const in = `{"param1":"p1 value","param2":"p2 value"}`
	runStepCases(t, []stepCase{
		{name: "completion", file: simpleWF, input: in, correlationID: "unit_test_1", steps: []specStep{
			expect("RUNNING", 1, "0 integration_task_1:SCHEDULED"),
			complete("integration_task_1", `{"op":"task1.done"}`),
			expect("RUNNING", 2, "0 integration_task_1:COMPLETED", "1 integration_task_2:SCHEDULED").
				then(func(t *testing.T, _ *engine.Engine, wf runView) {
					hasInput(t, "integration_task_2", wf.Tasks[1].Input, map[string]any{"tp1": "p1 value", "tp2": "task1.done"})
				}),
			complete("integration_task_2", ""),
			expect("COMPLETED", 2, "1 integration_task_2:COMPLETED").then(func(t *testing.T, _ *engine.Engine, wf runView) {
				if _, ok := wf.Output["o3"]; !ok {
					t.Fatalf("output %v", wf.Output)
				}
			}),
		}},
		{name: "null inputs", file: simpleWF, input: `{"param1":"p1 value","param2":null}`, correlationID: "unit_test_1", steps: []specStep{
			expect("RUNNING", 1, "0 integration_task_1:SCHEDULED").then(func(t *testing.T, _ *engine.Engine, wf runView) {
				if v, ok := wf.Input["param2"]; !ok || v != nil || wf.Tasks[0].Input["someNullKey"] != nil {
					t.Fatalf("input %v, task input %v", wf.Input, wf.Tasks[0].Input)
				}
			}),
			complete("integration_task_1", `{"someOtherKey":{"a":1,"A":null},"someKey":null}`),
			expect("RUNNING", 2, "0 integration_task_1:COMPLETED").then(func(t *testing.T, _ *engine.Engine, wf runView) {
				out := wf.Tasks[0].Output
				other, _ := out["someOtherKey"].(map[string]any)
				if v, ok := out["someKey"]; !ok || v != nil {
					t.Fatalf("output %v", out)
				}
				if v, ok := other["A"]; !ok || v != nil {
					t.Fatalf("output %v", out)
				}
			}),
		}},
		{name: "restart without using the latest definition", file: simpleWF, input: in, defs: t1Retries(0), steps: []specStep{
			expect("RUNNING", -1),
			failTask("integration_task_1", "failed.."),
			expect("FAILED", -1, "0 integration_task_1:FAILED"),
			restartRun(),
			expect("RUNNING", -1),
			complete("integration_task_1", ""),
			expect("RUNNING", -1, "0 integration_task_1:COMPLETED"),
			complete("integration_task_2", ""),
			expect("COMPLETED", -1, "1 integration_task_2:COMPLETED"),
		}},
		{name: "non restartable", file: simpleWF, input: in, correlationID: "integration_test_1", defs: t1Retries(0),
			patch: func(m map[string]any) { m["name"], m["restartable"] = "integration_test_wf_non_restartable", false },
			steps: []specStep{
				failTask("integration_task_1", "failure...0"),
				expect("FAILED", -1, "0 integration_task_1:FAILED"),
				restartRun(),
				complete("integration_task_1", `{"op":"task1.done"}`),
				expect("RUNNING", -1, "0 integration_task_1:COMPLETED"),
				complete("integration_task_2", ""),
				expect("COMPLETED", 2, "0 integration_task_1:COMPLETED", "1 integration_task_2:COMPLETED").
					then(func(t *testing.T, e *engine.Engine, wf runView) {
						hasInput(t, "integration_task_2", wf.Tasks[1].Input, map[string]any{"tp1": "p1 value", "tp2": "task1.done"})
						if wf.Output["o3"] != "task1.done" {
							t.Fatalf("output %v", wf.Output)
						}
						// A completed run that is not restartable is not restarted.
						if _, err := e.Restart(context.Background(), wf.WorkflowID, true); !errors.Is(err, engine.ErrNotRestartable) {
							t.Fatalf("restart of a completed non-restartable run: %v", err)
						}
					}),
			}},
		{name: "retry at workflow level", file: simpleWF, input: in, defs: t1Retries(one), steps: []specStep{
			expect("RUNNING", 1, "0 integration_task_1:SCHEDULED").then(ownTaskIDs),
			failTask("integration_task_1", "failure...0"),
			expect("RUNNING", 2, "0 integration_task_1:FAILED", "1 integration_task_1:SCHEDULED").then(ownTaskIDs),
			failTask("integration_task_1", "failure...0"),
			expect("FAILED", 2, "0 integration_task_1:FAILED", "1 integration_task_1:FAILED"),
			retryRun(false),
			expect("RUNNING", 3, "0 integration_task_1:FAILED", "1 integration_task_1:FAILED", "2 integration_task_1:SCHEDULED").then(ownTaskIDs),
			complete("integration_task_1", ""),
			expect("RUNNING", 4, "2 integration_task_1:COMPLETED", "3 integration_task_2:SCHEDULED"),
			complete("integration_task_2", ""),
			expect("COMPLETED", 4, "2 integration_task_1:COMPLETED", "3 integration_task_2:COMPLETED").then(func(t *testing.T, _ *engine.Engine, wf runView) {
				if fmt.Sprint(wf.FailedRefs, wf.FailedNames) != "[t1] [integration_task_1]" {
					t.Fatalf("failedReferenceTaskNames %v, failedTaskNames %v", wf.FailedRefs, wf.FailedNames)
				}
			}),
		}},
	})
}
