package engine_test

import (
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// WorkflowRerunTests' reruns and retries of SUB_WORKFLOW tasks inside a
// FORK (tickets #7097, PR #3458).

// forkSubWorkflowRerun is testRerunSubWorkflowInsideFork and
// testRerunFromTaskInsideSubWorkflowInFork: before (completed), FORK of two
// SUB_WORKFLOW tasks, JOIN, after; the second child's task fails. The
// rerun is from the failed SUB_WORKFLOW task (inner false) or from the task
// inside its child, named in a rerun of the parent (inner true).
func forkSubWorkflowRerun(parentFile string, inner bool) func(*testing.T, *rerunHarness) {
	return func(t *testing.T, h *rerunHarness) {
		id := h.start(parentFile, "")
		h.answer(id, "simple_task_before", engine.TaskCompleted)
		h.await(id, "at least 5 tasks", func(v runView) string {
			if len(v.Tasks) < 5 {
				return "fewer"
			}
			return ""
		})
		sub1 := h.child(id, "sub_wf_fork1", "")
		h.answer(sub1, h.await(sub1, "", func(runView) string { return "" }).Tasks[0].Ref, engine.TaskCompleted)
		sub2 := h.child(id, "sub_wf_fork2", "")
		innerTask := h.await(sub2, "", func(runView) string { return "" }).Tasks[0]
		h.answer(sub2, innerTask.Ref, engine.TaskFailed)
		v := h.awaitStatus(id, engine.StatusFailed)
		beforeID := first(t, v, "simple_task_before").TaskID
		failed := first(t, v, "sub_wf_fork2")

		if inner {
			h.rerun(id, engine.RerunOptions{FromTaskID: innerTask.TaskID})
			h.awaitStatus(id, engine.StatusRunning)
			v = h.await(id, "", func(runView) string { return "" })
			if tk := first(t, v, "simple_task_before"); tk.Status != engine.TaskCompleted {
				t.Fatalf("simple_task_before: %s", tk.Status)
			}
		} else {
			if failed.Status != engine.TaskFailed {
				t.Fatalf("sub_wf_fork2: %s", failed.Status)
			}
			h.rerun(id, engine.RerunOptions{FromTaskID: failed.TaskID})
			v = h.awaitStatus(id, engine.StatusRunning)
			if tk := first(t, v, "simple_task_before"); tk.Status != engine.TaskCompleted || tk.TaskID != beforeID {
				t.Fatalf("simple_task_before after rerun: %+v (was %s)", tk, beforeID)
			}
			first(t, v, "fork_rerun_test")
			if _, ok := activeRef(v, "sub_wf_fork2", 0); !ok {
				t.Fatalf("sub_wf_fork2 should be re-scheduled after rerun: %s", describeRun(v))
			}
		}
		// The first sub_wf_fork2 record has a child with tasks: complete
		// its first task.
		var newSub string
		h.await(id, "sub_wf_fork2 with a child with tasks", func(v runView) string {
			tk, _ := firstRef(v, "sub_wf_fork2")
			if tk.SubWorkflowID == "" {
				return "no child"
			}
			c, err := h.view(tk.SubWorkflowID)
			if err != nil || len(c.Tasks) == 0 {
				return "child without tasks"
			}
			newSub = tk.SubWorkflowID
			return ""
		})
		c := h.await(newSub, "", func(runView) string { return "" })
		h.answer(newSub, c.Tasks[0].Ref, engine.TaskCompleted)
		h.active(id, "simple_task_after")
		h.answer(id, "simple_task_after", engine.TaskCompleted)
		h.awaitStatus(id, engine.StatusCompleted)
	}
}

func TestConductorE2ERerunForkSubWorkflow(t *testing.T) {
	runRerunCases(t, []rerunCase{
		{"testRerunSubWorkflowInsideFork", forkSubWorkflowRerun("rerun-fork-subwf-parent", false)},
		{"testRerunSubWorkflowInsideFork_SequentialBranch", func(t *testing.T, h *rerunHarness) {
			id := h.start("rerun-fork-seq-subwf", "")
			h.answer(id, "task_before_fork", engine.TaskCompleted)
			h.await(id, "at least 5 tasks", func(v runView) string {
				if len(v.Tasks) < 5 {
					return "fewer"
				}
				return ""
			})
			sw1 := h.child(id, "sub_wf_branch1", "")
			h.answer(sw1, "rerun-fork-seq-simple-task", engine.TaskCompleted)
			sw2a := h.child(id, "sub_wf_branch2a", "")
			h.answer(sw2a, "rerun-fork-seq-simple-task", engine.TaskCompleted)
			sw2b := h.child(id, "sub_wf_branch2b", "")
			h.answer(sw2b, "rerun-fork-seq-simple-task", engine.TaskFailed)
			v := h.awaitStatus(id, engine.StatusFailed)
			beforeID := first(t, v, "task_before_fork").TaskID
			failed := first(t, v, "sub_wf_branch2b")

			h.rerun(id, engine.RerunOptions{FromTaskID: failed.TaskID})
			v = h.awaitStatus(id, engine.StatusRunning)
			if tk := first(t, v, "task_before_fork"); tk.Status != engine.TaskCompleted || tk.TaskID != beforeID {
				t.Fatalf("task_before_fork after rerun: %+v (was %s)", tk, beforeID)
			}
			first(t, v, "fork_seq_test")
			if tk := first(t, v, "sub_wf_branch2a"); tk.Status != engine.TaskCompleted {
				t.Fatalf("sub_wf_branch2a after rerun: %s", tk.Status)
			}
			var newSub string
			h.await(id, "sub_wf_branch2b with a child with tasks", func(v runView) string {
				tk, _ := firstRef(v, "sub_wf_branch2b")
				c, err := h.view(tk.SubWorkflowID)
				if tk.SubWorkflowID == "" || err != nil || len(c.Tasks) == 0 {
					return "not yet"
				}
				newSub = tk.SubWorkflowID
				return ""
			})
			h.answer(newSub, "rerun-fork-seq-simple-task", engine.TaskCompleted)
			h.awaitStatus(id, engine.StatusCompleted)
		}},
		{"testRerunFromTaskInsideSubWorkflowInFork", forkSubWorkflowRerun("rerun-inner-task-fork-subwf", true)},
	})
}

// awaitCanceled waits for run id FAILED with each ref's first record CANCELED.
func (h *rerunHarness) awaitFailedCanceled(id string, refs ...string) runView {
	h.t.Helper()
	return h.await(id, "FAILED, siblings CANCELED", func(v runView) string {
		if v.Status != engine.StatusFailed {
			return "run " + v.Status
		}
		for _, ref := range refs {
			if tk, _ := firstRef(v, ref); tk.Status != engine.TaskCanceled {
				return ref + " " + tk.Status
			}
		}
		return ""
	})
}

// rescheduled checks that the first record of each ref is SCHEDULED or
// IN_PROGRESS (Java: "not stuck CANCELLED").
func rescheduled(t *testing.T, v runView, refs ...string) {
	t.Helper()
	for _, ref := range refs {
		if tk := first(t, v, ref); !oneOf(tk.Status, engine.TaskScheduled, engine.TaskInProgress) {
			t.Fatalf("%s should be SCHEDULED or IN_PROGRESS after retry, not %s: %s", ref, tk.Status, describeRun(v))
		}
	}
}

func TestConductorE2ERerunCancelledSiblings(t *testing.T) {
	runRerunCases(t, []rerunCase{
		{"testRerunSubWorkflowTaskReschedulesCancelledParentSiblingTask", func(t *testing.T, h *rerunHarness) {
			id := h.start("rerun-subwf-cancelled-sibling-parent", "")
			sub := h.child(id, "sub_wf_task", "")
			h.answer(sub, "task_in_sub", engine.TaskFailed)
			h.awaitFailedCanceled(id, "sibling_task")

			h.retry(sub)
			rescheduled(t, h.awaitStatus(id, engine.StatusRunning), "sibling_task")
			h.active(id, "sibling_task")
			h.answer(id, "sibling_task", engine.TaskCompleted)
			h.active(sub, "task_in_sub")
			h.answer(sub, "task_in_sub", engine.TaskCompleted)
			h.awaitStatus(id, engine.StatusCompleted)
		}},
		{"testRerunSubWorkflowReschedulesMultipleCancelledSiblings", func(t *testing.T, h *rerunHarness) {
			id := h.start("rerun-subwf-multi-sibling-parent", "")
			sub := h.child(id, "sub_wf_task_multi", "")
			h.answer(sub, "task_in_sub_multi", engine.TaskFailed)
			h.awaitFailedCanceled(id, "sibling_task_1", "sibling_task_2")

			h.retry(sub)
			rescheduled(t, h.awaitStatus(id, engine.StatusRunning), "sibling_task_1", "sibling_task_2")
			for _, ref := range []string{"sibling_task_1", "sibling_task_2"} {
				h.active(id, ref)
				h.answer(id, ref, engine.TaskCompleted)
			}
			h.active(sub, "task_in_sub_multi")
			h.answer(sub, "task_in_sub_multi", engine.TaskCompleted)
			h.awaitStatus(id, engine.StatusCompleted)
		}},
		{"testRerunSecondTaskInSubWorkflowReschedulesCancelledSibling", func(t *testing.T, h *rerunHarness) {
			id := h.start("rerun-subwf-seq-parent", "")
			h.answer(id, "task_before_seq_fork", engine.TaskCompleted)
			sub := h.child(id, "sub_wf_seq_task", "")
			h.answer(sub, "first_task_in_sub", engine.TaskCompleted)
			h.active(sub, "second_task_in_sub")
			h.answer(sub, "second_task_in_sub", engine.TaskFailed)
			h.awaitFailedCanceled(id, "sibling_seq_task")

			h.retry(sub)
			v := h.awaitStatus(id, engine.StatusRunning)
			rescheduled(t, v, "sibling_seq_task")
			if tk := first(t, v, "task_before_seq_fork"); tk.Status != engine.TaskCompleted {
				t.Fatalf("task_before should still be COMPLETED after rerun: %s", tk.Status)
			}
			if tk := first(t, h.await(sub, "", func(runView) string { return "" }), "first_task_in_sub"); tk.Status != engine.TaskCompleted {
				t.Fatalf("first_task should still be COMPLETED (not re-executed) after rerun from second_task: %s", tk.Status)
			}
			h.active(id, "sibling_seq_task")
			h.answer(id, "sibling_seq_task", engine.TaskCompleted)
			h.active(sub, "second_task_in_sub")
			h.answer(sub, "second_task_in_sub", engine.TaskCompleted)
			h.active(id, "task_after_seq_join")
			h.answer(id, "task_after_seq_join", engine.TaskCompleted)
			h.awaitStatus(id, engine.StatusCompleted)
		}},
		{"testRerunSubWorkflowMultipleRerunCycles", func(t *testing.T, h *rerunHarness) {
			id := h.start("rerun-subwf-multi-cycle-parent", "")
			sub := h.child(id, "sub_wf_cycle_task", "")
			for cycle := 1; cycle <= 2; cycle++ {
				h.active(sub, "task_in_sub_cycle")
				h.answer(sub, "task_in_sub_cycle", engine.TaskFailed)
				h.await(id, "FAILED, sibling CANCELED", func(v runView) string {
					if tk, _ := lastRef(v, "sibling_cycle_task"); v.Status != engine.StatusFailed || tk.Status != engine.TaskCanceled {
						return v.Status + " " + tk.Status
					}
					return ""
				})
				h.retry(sub)
				v := h.awaitStatus(id, engine.StatusRunning)
				if tk, _ := lastRef(v, "sibling_cycle_task"); !oneOf(tk.Status, engine.TaskScheduled, engine.TaskInProgress) {
					t.Fatalf("cycle %d: sibling should be SCHEDULED after rerun, not %s", cycle, tk.Status)
				}
			}
			h.active(id, "sibling_cycle_task")
			h.answer(id, "sibling_cycle_task", engine.TaskCompleted)
			h.active(sub, "task_in_sub_cycle")
			h.answer(sub, "task_in_sub_cycle", engine.TaskCompleted)
			h.awaitStatus(id, engine.StatusCompleted)
		}},
		{"testRerunSubWorkflowReschedulesDoWhileSiblingCancelledByFork", func(t *testing.T, h *rerunHarness) {
			id := h.start("rerun-subwf-dowhile-parent", "")
			sub := h.child(id, "sub_wf_dowhile_task", "")
			doWhile := func(v runView) taskView {
				for _, tk := range v.Tasks {
					if tk.TaskType == "DO_WHILE" {
						return tk
					}
				}
				t.Fatalf("DO_WHILE task not found: %s", describeRun(v))
				return taskView{}
			}
			v := h.await(id, "the DO_WHILE", func(v runView) string {
				if _, ok := activeRef(v, "loop_body_task", 1); !ok {
					return "no loop body"
				}
				return ""
			})
			if s := doWhile(v).Status; s != engine.TaskInProgress {
				t.Fatalf("DO_WHILE should be IN_PROGRESS initially: %s", s)
			}
			h.answer(sub, "task_in_sub_dowhile", engine.TaskFailed)
			h.await(id, "FAILED, DO_WHILE CANCELED", func(v runView) string {
				if v.Status != engine.StatusFailed || doWhile(v).Status != engine.TaskCanceled {
					return v.Status + " " + doWhile(v).Status
				}
				return ""
			})

			h.retry(sub)
			v = h.awaitStatus(id, engine.StatusRunning)
			if s := doWhile(v).Status; s != engine.TaskInProgress {
				t.Fatalf("DO_WHILE sibling should be IN_PROGRESS after rerun (not CANCELLED): %s", s)
			}
			h.await(id, "loop body iteration 1 active", func(v runView) string {
				if _, ok := activeRef(v, "loop_body_task", 1); !ok {
					return "not active"
				}
				return ""
			})
			h.answer(id, "loop_body_task", engine.TaskCompleted)
			h.await(id, "DO_WHILE COMPLETED", func(v runView) string {
				if s := doWhile(v).Status; s != engine.TaskCompleted {
					return s
				}
				return ""
			})
			h.active(sub, "task_in_sub_dowhile")
			h.answer(sub, "task_in_sub_dowhile", engine.TaskCompleted)
			h.awaitStatus(id, engine.StatusCompleted)
		}},
		{"testRerunFromTaskInsideAllSubWorkflowFork", func(t *testing.T, h *rerunHarness) {
			id := h.start("rerun-allsubwf-rerun-parent", "")
			failing := h.child(id, "failing_sub_ref_rerun", "")
			cancelled := h.child(id, "cancelled_sub_ref_rerun", "")
			inner := h.active(failing, "task_in_failing_sub_rerun")
			h.answer(failing, "task_in_failing_sub_rerun", engine.TaskFailed)
			h.await(id, "FAILED, sibling CANCELED, a reason on the failed task", func(v runView) string {
				c, f := first(t, v, "cancelled_sub_ref_rerun"), first(t, v, "failing_sub_ref_rerun")
				if v.Status != engine.StatusFailed || c.Status != engine.TaskCanceled || f.Reason == "" {
					return v.Status + " " + c.Status + " " + f.Reason
				}
				return ""
			})

			h.rerun(failing, engine.RerunOptions{FromTaskID: inner.TaskID})
			h.awaitStatus(id, engine.StatusRunning)
			h.await(id, "the siblings active again, in place", func(v runView) string {
				c, ok := activeRef(v, "cancelled_sub_ref_rerun", 0)
				if !ok {
					return "cancelled_sub_ref_rerun not active"
				}
				if c.SubWorkflowID != cancelled {
					return "cancelled_sub_ref_rerun child " + c.SubWorkflowID + ", want " + cancelled
				}
				f, ok := activeRef(v, "failing_sub_ref_rerun", 0)
				if !ok {
					return "failing_sub_ref_rerun not active"
				}
				if f.Reason != "" {
					return "failing_sub_ref_rerun reason " + f.Reason
				}
				return ""
			})
		}},
		{"testDirectRerunOnSubWorkflowTaskSpawnsFreshChild", func(t *testing.T, h *rerunHarness) {
			id := h.start("rerun-direct-subwf-parent", "")
			subTask := h.active(id, "sub_ref_direct_rerun")
			orig := h.child(id, "sub_ref_direct_rerun", "")
			h.active(orig, "task1_direct_rerun")
			h.answer(orig, "task1_direct_rerun", engine.TaskCompleted)
			h.active(orig, "task2_direct_rerun")
			h.answer(orig, "task2_direct_rerun", engine.TaskFailed)
			h.awaitStatus(id, engine.StatusFailed)

			h.rerun(id, engine.RerunOptions{FromTaskID: subTask.TaskID})
			h.awaitStatus(id, engine.StatusRunning)
			h.await(id, "a fresh child running task1", func(v runView) string {
				s, ok := activeRef(v, "sub_ref_direct_rerun", 0)
				if !ok || s.SubWorkflowID == "" {
					return "no active SUB_WORKFLOW task with a child"
				}
				if s.SubWorkflowID == orig {
					return "the same child " + orig
				}
				c, err := h.view(s.SubWorkflowID)
				if err != nil || terminal(taskStatusOfRun(c.Status)) {
					return "fresh child not running"
				}
				if _, ok := activeRef(c, "task1_direct_rerun", 0); !ok {
					return "task1 not active in the fresh child"
				}
				return ""
			})
		}},
	})
}

// taskStatusOfRun maps a run status onto the task statuses terminal knows
// (Workflow.WorkflowStatus.isTerminal: all but RUNNING and PAUSED).
func taskStatusOfRun(s string) string {
	if s == engine.StatusRunning || s == engine.StatusPaused {
		return engine.TaskInProgress
	}
	return engine.TaskCompleted
}

// forkScenario is WorkflowRerunTests.forkWithFailedAndCancelledAndCompleted:
// a FORK of three SUB_WORKFLOW branches; the completed branch's child
// completes first, then the failing branch's task fails with a terminal
// error: the parent FAILED, failing_sub_ref FAILED, cancelled_sub_ref
// CANCELED, completed_sub_ref COMPLETED.
type forkScenario struct {
	parent, failing, cancelled, completed string
}

func newForkScenario(t *testing.T, h *rerunHarness, c string) forkScenario {
	t.Helper()
	s := forkScenario{parent: h.start("rerun-"+c+"-parent", "")}
	s.failing = h.child(s.parent, "failing_sub_ref", "")
	s.cancelled = h.child(s.parent, "cancelled_sub_ref", "")
	s.completed = h.child(s.parent, "completed_sub_ref", "")
	h.active(s.completed, "completed_inner_task")
	h.answer(s.completed, "completed_inner_task", engine.TaskCompleted)
	h.await(s.parent, "completed_sub_ref COMPLETED", statusIs("", "completed_sub_ref="+engine.TaskCompleted))
	h.active(s.failing, "failing_inner_task")
	h.answer(s.failing, "failing_inner_task", engine.TaskFailedTerminal)
	h.await(s.parent, "the scenario's end", func(v runView) string {
		f, c, d := first(t, v, "failing_sub_ref"), first(t, v, "cancelled_sub_ref"), first(t, v, "completed_sub_ref")
		if v.Status != engine.StatusFailed || f.Status != engine.TaskFailed || c.Status != engine.TaskCanceled || d.Status != engine.TaskCompleted {
			return describeRun(v)
		}
		return ""
	})
	return s
}

// completedUntouched is assertCompletedSiblingUntouched: "" when it holds.
func (s forkScenario) completedUntouched(h *rerunHarness, v runView) string {
	d, _ := firstRef(v, "completed_sub_ref")
	if d.Status != engine.TaskCompleted || d.SubWorkflowID != s.completed {
		return "completed_sub_ref " + d.Status + " " + d.SubWorkflowID
	}
	if c, err := h.view(s.completed); err != nil || c.Status != engine.StatusCompleted {
		return "completed child not COMPLETED"
	}
	return ""
}

// driveBothBranches is driveBothBranchesToCompletion.
func (s forkScenario) driveBothBranches(h *rerunHarness, failing, cancelled string) {
	h.active(failing, "failing_inner_task")
	h.answer(failing, "failing_inner_task", engine.TaskCompleted)
	h.active(cancelled, "cancelled_inner_task")
	h.answer(cancelled, "cancelled_inner_task", engine.TaskCompleted)
	h.awaitStatus(s.parent, engine.StatusCompleted)
}

// inPlace: both branches active again with their children kept, the
// failing one without a reason, the completed one untouched.
func (s forkScenario) inPlace(h *rerunHarness) func(runView) string {
	return func(v runView) string {
		f, ok := activeRef(v, "failing_sub_ref", 0)
		if !ok || f.SubWorkflowID != s.failing || f.Reason != "" {
			return "failing_sub_ref not retried in place: " + describeRun(v)
		}
		c, ok := activeRef(v, "cancelled_sub_ref", 0)
		if !ok || c.SubWorkflowID != s.cancelled {
			return "cancelled_sub_ref not retried in place: " + describeRun(v)
		}
		return s.completedUntouched(h, v)
	}
}

// fresh: both branches active again with new children (checkIDs: other
// than the originals), the completed one untouched; it returns the
// children.
func (s forkScenario) fresh(h *rerunHarness, checkIDs bool) (string, string) {
	var nf, nc string
	h.await(s.parent, "fresh children", func(v runView) string {
		f, ok := activeRef(v, "failing_sub_ref", 0)
		if !ok || f.SubWorkflowID == "" || f.Reason != "" {
			return "failing_sub_ref: " + describeRun(v)
		}
		c, ok := activeRef(v, "cancelled_sub_ref", 0)
		if !ok || c.SubWorkflowID == "" {
			return "cancelled_sub_ref: " + describeRun(v)
		}
		if checkIDs && (f.SubWorkflowID == s.failing || c.SubWorkflowID == s.cancelled) {
			return "the old children: " + describeRun(v)
		}
		nf, nc = f.SubWorkflowID, c.SubWorkflowID
		return s.completedUntouched(h, v)
	})
	return nf, nc
}

func TestConductorE2ERerunThreeBranchFork(t *testing.T) {
	runRerunCases(t, []rerunCase{
		{"testRerunFailedTaskInFailingSubWorkflowReschedulesCancelledSibling", func(t *testing.T, h *rerunHarness) {
			s := newForkScenario(t, h, "case1")
			inner := first(t, h.await(s.failing, "", func(runView) string { return "" }), "failing_inner_task")
			h.rerun(s.failing, engine.RerunOptions{FromTaskID: inner.TaskID})
			h.awaitStatus(s.parent, engine.StatusRunning)
			h.await(s.parent, "branches retried in place", s.inPlace(h))
			s.driveBothBranches(h, s.failing, s.cancelled)
		}},
		{"testRerunFailedSubWorkflowTaskInParentReschedulesCancelledSibling", func(t *testing.T, h *rerunHarness) {
			s := newForkScenario(t, h, "case2")
			task := first(t, h.await(s.parent, "", func(runView) string { return "" }), "failing_sub_ref")
			h.rerun(s.parent, engine.RerunOptions{FromTaskID: task.TaskID})
			h.awaitStatus(s.parent, engine.StatusRunning)
			nf, nc := s.fresh(h, true)
			s.driveBothBranches(h, nf, nc)
		}},
		{"testRerunCancelledSubWorkflowTaskInParentReschedulesFailedSibling", func(t *testing.T, h *rerunHarness) {
			s := newForkScenario(t, h, "case3")
			task := first(t, h.await(s.parent, "", func(runView) string { return "" }), "cancelled_sub_ref")
			h.rerun(s.parent, engine.RerunOptions{FromTaskID: task.TaskID})
			h.awaitStatus(s.parent, engine.StatusRunning)
			nf, nc := s.fresh(h, false)
			s.driveBothBranches(h, nf, nc)
		}},
		{"testRerunCancelledTaskInsideSiblingSubWorkflowReschedulesFailedSibling", func(t *testing.T, h *rerunHarness) {
			s := newForkScenario(t, h, "case4")
			inner := first(t, h.await(s.cancelled, "", func(runView) string { return "" }), "cancelled_inner_task")
			h.rerun(s.cancelled, engine.RerunOptions{FromTaskID: inner.TaskID})
			h.awaitStatus(s.parent, engine.StatusRunning)
			h.await(s.parent, "branches retried in place", s.inPlace(h))
			s.driveBothBranches(h, s.failing, s.cancelled)
		}},
	})
}
