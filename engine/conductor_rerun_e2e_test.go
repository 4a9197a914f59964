package engine_test

import (
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// conductor-oss e2e WorkflowRerunTests (e2e/src/test/java/io/conductor/e2e/
// workflow/WorkflowRerunTests.java at b54f0d4e), one case per @Test: the
// same definition (transcribed), the same steps, the same assertions.
// COVERAGE-e2e.md maps each case to its Java test.

type rerunCase struct {
	name string
	run  func(t *testing.T, h *rerunHarness)
}

func runRerunCases(t *testing.T, cases []rerunCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newRerunHarness(t))
		})
	}
}

// rerunSecondTask is testRerunSimpleWorkflow and testFailTaskAndRerun (the
// same steps on two registrations of RegistrationUtil.registerWorkflowDef):
// the SIMPLE task (tasks[1]) fails, the workflow is FAILED; a rerun from
// it makes the workflow RUNNING with tasks[1] SCHEDULED; completing it
// completes the workflow.
func rerunSecondTask(file string) func(*testing.T, *rerunHarness) {
	return func(t *testing.T, h *rerunHarness) {
		id := h.start(file, "")
		v := h.await(id, "more than one task", func(v runView) string {
			if len(v.Tasks) > 1 && !terminal(v.Tasks[1].Status) {
				return ""
			}
			return "not yet"
		})
		task := v.Tasks[1]
		h.answer(id, task.Ref, engine.TaskFailed)
		h.awaitStatus(id, engine.StatusFailed)

		h.rerun(id, engine.RerunOptions{FromTaskID: task.TaskID})
		h.await(id, "RUNNING, tasks[1] SCHEDULED", func(v runView) string {
			if v.Status != engine.StatusRunning || len(v.Tasks) < 2 || v.Tasks[1].Status != engine.TaskScheduled {
				return "not yet"
			}
			return ""
		})
		h.answer(id, task.Ref, engine.TaskCompleted)
		h.awaitStatus(id, engine.StatusCompleted)
	}
}

func TestConductorE2ERerunSimple(t *testing.T) {
	runRerunCases(t, []rerunCase{
		{"testRerunSimpleWorkflow", rerunSecondTask("re-run-workflow")},
		{"testFailTaskAndRerun", rerunSecondTask("re-run-fail-task-workflow")},
		{"testRerunWithSubWorkflow", func(t *testing.T, h *rerunHarness) {
			parent := h.start("workflow-re-run-with-sub-workflow", "")
			child := h.child(parent, "workflow-re-run-sub-workflow", "")
			task := h.await(child, "a first task", func(v runView) string { return "" }).Tasks[0]
			h.answer(child, task.Ref, engine.TaskFailed)
			h.awaitStatus(child, engine.StatusFailed)

			// Rerun the sub workflow.
			h.rerun(child, engine.RerunOptions{FromTaskID: task.TaskID})
			h.awaitStatus(child, engine.StatusRunning)
			h.await(child, "a SCHEDULED task", func(v runView) string {
				for _, tk := range v.Tasks {
					if tk.Status == engine.TaskScheduled {
						return ""
					}
				}
				return "none"
			})
			h.awaitStatus(parent, engine.StatusRunning)
			h.answer(child, task.Ref, engine.TaskCompleted)
			h.awaitStatus(child, engine.StatusCompleted)
			h.awaitStatus(parent, engine.StatusCompleted)
		}},
		{"testRerunSubWorkflowAfterArchival", func(t *testing.T, h *rerunHarness) {
			parent := h.start("archived-rerun-parent-wf", "")
			child := h.child(parent, "archived-rerun-child-wf", "")
			before := len(h.await(parent, "", func(runView) string { return "" }).Tasks)
			failed := h.await(child, "", func(runView) string { return "" }).Tasks[0]
			h.answer(child, failed.Ref, engine.TaskFailed)
			h.awaitStatus(parent, engine.StatusFailed)

			h.rerun(child, engine.RerunOptions{FromTaskID: failed.TaskID})
			after := h.awaitStatus(parent, engine.StatusRunning)
			if len(after.Tasks) < before {
				t.Fatalf("parent tasks wiped from %d to %d after rerun", before, len(after.Tasks))
			}
			found := false
			for _, tk := range after.Tasks {
				found = found || tk.TaskType == "SUB_WORKFLOW"
			}
			if !found {
				t.Fatal("SUB_WORKFLOW task should still exist in parent after rerun")
			}
			var scheduled string
			h.await(child, "a SCHEDULED task", func(v runView) string {
				for _, tk := range v.Tasks {
					if tk.Status == engine.TaskScheduled {
						scheduled = tk.Ref
						return ""
					}
				}
				return "none"
			})
			h.answer(child, scheduled, engine.TaskCompleted)
			h.awaitStatus(parent, engine.StatusCompleted)
		}},
		{"testRerunWithSubWorkflowFromParentWorkflow", func(t *testing.T, h *rerunHarness) {
			parent := h.start("workflow-re-run-with-sub-workflow", "")
			child := h.child(parent, "workflow-re-run-sub-workflow", "")
			task := h.await(child, "", func(runView) string { return "" }).Tasks[0]
			h.answer(child, task.Ref, engine.TaskFailed)
			h.awaitStatus(child, engine.StatusFailed)
			h.awaitStatus(parent, engine.StatusFailed)

			// The request names the child's task; the call names the parent.
			h.rerun(parent, engine.RerunOptions{FromTaskID: task.TaskID})
			h.awaitStatus(parent, engine.StatusRunning)
			sub := h.child(parent, "workflow-re-run-sub-workflow", "")
			v := h.await(sub, "RUNNING, first task SCHEDULED", statusIs(engine.StatusRunning, task.Ref+"="+engine.TaskScheduled))
			if v.Tasks[0].Status != engine.TaskScheduled {
				t.Fatalf("first task of the child: %s", describeRun(v))
			}
			h.answer(sub, v.Tasks[0].Ref, engine.TaskCompleted)
			h.awaitStatus(sub, engine.StatusCompleted)
			h.awaitStatus(parent, engine.StatusCompleted)
		}},
	})
}
