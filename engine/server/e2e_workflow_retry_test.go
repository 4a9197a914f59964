package server_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/conductor-sdk/conductor-go/sdk/model"
)

// Ports of conductor-oss/conductor e2e/src/test/java/io/conductor/e2e/
// workflow/WorkflowRetryTests.java (b54f0d4): the same definitions
// (testdata/conductor/transcribed/e2e_*.json), driven through `wfrun serve`
// with the Conductor Go SDK, asserting what each Java test asserts.

const (
	e2eRegistrationDef    = "transcribed/e2e_registration_workflow_def.json"
	e2eRegistrationSubDef = "transcribed/e2e_registration_workflow_with_sub_workflow_def.json"
)

// TestE2ERetrySimpleWorkflow is testRetrySimpleWorkflow: the SIMPLE task
// (index 1, after the INLINE one) fails the run; retryLastFailedTask
// makes it RUNNING with lastRetriedTime set and a SCHEDULED task at index
// 2, whose completion completes the run.
func TestE2ERetrySimpleWorkflow(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register(e2eRegistrationDef)
	id := c.start("retry-simple-workflow")
	tk := c.taskAt(id, 1)
	c.update(id, tk.TaskId, "FAILED", "failed", nil)
	c.awaitStatus(id, "FAILED")

	c.retryLast(id, true)
	c.await("RUNNING, retried, task 2 SCHEDULED", func() error {
		wf := c.get(id)
		if wf.Status != "RUNNING" || wf.LastRetriedTime == 0 || len(wf.Tasks) < 3 || wf.Tasks[2].Status != "SCHEDULED" {
			return fmt.Errorf("%s lastRetriedTime %d: %s", wf.Status, wf.LastRetriedTime, describeTasks(wf))
		}
		return nil
	})
	c.update(id, c.get(id).Tasks[2].TaskId, "COMPLETED", "", nil)
	c.awaitStatus(id, "COMPLETED")
}

// TestE2ERetryWithSubWorkflow is testRetryWithSubWorkflow: the child's
// task fails the parent; a retry of the child runs it again (child
// RUNNING, lastRetriedTime set, task 0 FAILED, task 1 SCHEDULED) and its
// completion completes the parent. Then, on a second run, the retry of the
// parent (retryLastFailedTask: resumeSubworkflowTasks=true) resumes the
// same child, whose task 1 completes the parent.
func TestE2ERetryWithSubWorkflow(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register(e2eRegistrationSubDef)
	id := c.start("retry-parent-with-sub-workflow")
	child := c.subWorkflowAt(id, 0)
	c.update(child, c.taskAt(child, 0).TaskId, "FAILED", "", nil)
	c.awaitStatus(id, "FAILED")

	c.retryLast(child, true)
	c.await("child RUNNING, retried, task 0 FAILED, task 1 SCHEDULED", func() error {
		wf := c.get(child)
		if wf.Status != "RUNNING" || wf.LastRetriedTime == 0 || len(wf.Tasks) < 2 || wf.Tasks[0].Status != "FAILED" || wf.Tasks[1].Status != "SCHEDULED" {
			return fmt.Errorf("%s lastRetriedTime %d: %s", wf.Status, wf.LastRetriedTime, describeTasks(wf))
		}
		return nil
	})
	c.update(child, c.taskAt(child, 1).TaskId, "COMPLETED", "", nil)
	c.awaitStatus(id, "COMPLETED")

	// Retry at the parent's level.
	id2 := c.start("retry-parent-with-sub-workflow")
	child2 := c.subWorkflowAt(id2, 0)
	c.update(child2, c.taskAt(child2, 0).TaskId, "FAILED", "", nil)
	c.awaitStatus(id2, "FAILED")
	c.retryLast(id2, true)
	c.awaitStatus(id2, "RUNNING")
	child2 = c.subWorkflowAt(id2, 0)
	c.update(child2, c.taskAt(child2, 1).TaskId, "COMPLETED", "", nil)
	c.awaitStatus(id2, "COMPLETED")
}

// TestE2ERetryWithSubWorkflowOptionalLevels is
// testRetryWithSubWorkflowOptionalLevels: the parent's SUB_WORKFLOW task
// made optional, the child's failure completes the parent; a retry of the
// child makes it RUNNING and leaves the parent COMPLETED.
func TestE2ERetryWithSubWorkflowOptionalLevels(t *testing.T) {
	c := newE2EClient(t, nil)
	// registerWorkflowDef(child) then registerWorkflowWithSubWorkflowDef,
	// which registers the child again with its own single task.
	c.register(e2eRegistrationDef, "retry-simple-workflow", "sub-wf-2level", "retry-simple-task1", "simple-task-2level")
	c.register(e2eRegistrationSubDef, "retry-parent-with-sub-workflow", "parent-wf-2level", "retry-sub-workflow", "sub-wf-2level", "simple-no-retry2", "simple-task-2level")
	c.setOptional("parent-wf-2level", 0)

	parent := c.start("parent-wf-2level")
	child := c.subWorkflowAt(parent, 0)
	c.update(child, c.taskAt(child, 0).TaskId, "FAILED", "", nil)
	c.awaitStatus(parent, "COMPLETED")

	c.retryLast(child, true)
	c.await("child RUNNING, parent COMPLETED", func() error {
		ch, p := c.get(child), c.get(parent)
		if ch.Status != "RUNNING" || p.Status != "COMPLETED" {
			return fmt.Errorf("child %s, parent %s", ch.Status, p.Status)
		}
		return nil
	})
}

// TestE2ERetryWithResumeFlagInForkPlusSubWorkflowAcrossFailedStatuses is
// testRetryWithResumeFlagInForkPlusSubWorkflowAcrossFailedStatuses (for
// both inner failing statuses): a FORK of two SUB_WORKFLOW branches, the
// failing child A→B→C failing at B, the other child (D) cancelled. After
// retryLastFailedTask(parent, true) both branches keep their child, their
// reasons are cleared, the failing child is not terminal, A stays
// COMPLETED with the same task id and end time, B has a fresh attempt;
// B, C and D complete the parent.
func TestE2ERetryWithResumeFlagInForkPlusSubWorkflowAcrossFailedStatuses(t *testing.T) {
	for _, failStatus := range []string{"FAILED", "FAILED_WITH_TERMINAL_ERROR"} {
		t.Run(failStatus, func(t *testing.T) {
			c := newE2EClient(t, nil)
			c.register("transcribed/e2e_retry_resume_fork_plus_sub_workflow.json")
			parent := c.start("retry-resume-fork-parent")
			var failingChild, cancelledChild string
			c.await("both branches have a child", func() error {
				wf := c.get(parent)
				f, _ := taskByRef(wf, "failing_sub")
				k, _ := taskByRef(wf, "cancelled_sub")
				if f.SubWorkflowId == "" || k.SubWorkflowId == "" {
					return fmt.Errorf("tasks: %s", describeTasks(wf))
				}
				failingChild, cancelledChild = f.SubWorkflowId, k.SubWorkflowId
				return nil
			})
			c.completeWithStatus(failingChild, c.awaitActive(failingChild, "task_a").TaskId, "COMPLETED")
			c.await("task A COMPLETED", func() error {
				if a, _ := taskByRef(c.get(failingChild), "task_a"); a.Status != "COMPLETED" {
					return fmt.Errorf("task_a %s", a.Status)
				}
				return nil
			})
			origA, _ := taskByRef(c.get(failingChild), "task_a")
			c.completeWithStatus(failingChild, c.awaitActive(failingChild, "task_b").TaskId, failStatus)
			c.await("parent FAILED, cancelled branch CANCELED, failing branch with a reason", func() error {
				wf := c.get(parent)
				f, _ := taskByRef(wf, "failing_sub")
				k, _ := taskByRef(wf, "cancelled_sub")
				if wf.Status != "FAILED" || k.Status != "CANCELED" || f.ReasonForIncompletion == "" {
					return fmt.Errorf("%s: %s; failing reason %q", wf.Status, describeTasks(wf), f.ReasonForIncompletion)
				}
				return nil
			})

			c.retryLast(parent, true)
			c.awaitStatus(parent, "RUNNING")
			c.await("branches resumed in place", func() error {
				wf := c.get(parent)
				f, _ := taskByRef(wf, "failing_sub")
				k, _ := taskByRef(wf, "cancelled_sub")
				if f.SubWorkflowId != failingChild || f.ReasonForIncompletion != "" {
					return fmt.Errorf("failing branch: child %s (want %s), reason %q", f.SubWorkflowId, failingChild, f.ReasonForIncompletion)
				}
				if k.SubWorkflowId != cancelledChild || k.ReasonForIncompletion != "" {
					return fmt.Errorf("cancelled branch: child %s (want %s), reason %q", k.SubWorkflowId, cancelledChild, k.ReasonForIncompletion)
				}
				fc := c.get(failingChild)
				if terminalRun(fc.Status) {
					return fmt.Errorf("failing child %s", fc.Status)
				}
				var a model.Task
				for _, tk := range fc.Tasks {
					if tk.ReferenceTaskName == "task_a" && tk.Status == "COMPLETED" {
						a = tk
						break
					}
				}
				if a.TaskId != origA.TaskId || a.EndTime != origA.EndTime {
					return fmt.Errorf("task A %s end %d, was %s end %d", a.TaskId, a.EndTime, origA.TaskId, origA.EndTime)
				}
				if _, ok := activeByRef(fc, "task_b"); !ok {
					return fmt.Errorf("no active task B: %s", describeTasks(fc))
				}
				return nil
			})
			c.completeWithStatus(failingChild, c.awaitActive(failingChild, "task_b").TaskId, "COMPLETED")
			c.completeWithStatus(failingChild, c.awaitActive(failingChild, "task_c").TaskId, "COMPLETED")
			c.completeWithStatus(cancelledChild, c.awaitActive(cancelledChild, "task_d").TaskId, "COMPLETED")
			c.awaitStatus(parent, "COMPLETED")
		})
	}
}

// subWorkflowAtIteration is subWorkflowIdAtIteration: the child of the
// record ref__iteration that has one.
func (c *e2eClient) subWorkflowAtIteration(parent, ref string, iteration int) string {
	c.t.Helper()
	want := fmt.Sprintf("%s__%d", ref, iteration)
	var child string
	c.await(want+" has a child", func() error {
		wf := c.get(parent)
		for _, tk := range wf.Tasks {
			if tk.ReferenceTaskName == want && tk.SubWorkflowId != "" {
				child = tk.SubWorkflowId
				return nil
			}
		}
		return fmt.Errorf("tasks: %s", describeTasks(wf))
	})
	return child
}

// onlyTaskByRef is onlyTaskByRef: the one record of ref in run id.
func (c *e2eClient) onlyTaskByRef(id, ref string) (model.Task, error) {
	var found []model.Task
	for _, tk := range c.get(id).Tasks {
		if tk.ReferenceTaskName == ref {
			found = append(found, tk)
		}
	}
	if len(found) != 1 {
		return model.Task{}, fmt.Errorf("expected exactly one %s in %s, got %d", ref, id, len(found))
	}
	return found[0], nil
}

func (c *e2eClient) mustOnlyTaskByRef(id, ref string) model.Task {
	c.t.Helper()
	tk, err := c.onlyTaskByRef(id, ref)
	if err != nil {
		c.t.Fatal(err)
	}
	return tk
}

// completeActiveSimpleRef is completeActiveSimpleRef: the active
// simple_ref of child answered with status.
func (c *e2eClient) completeActiveSimpleRef(child, status string) {
	c.t.Helper()
	c.completeWithStatus(child, c.awaitActive(child, "simple_ref").TaskId, status)
}

// iter1Snapshot is Iter1Snapshot: what must not change in a child of the
// first iteration.
type iter1Snapshot struct {
	endTime              int64
	inlineID, simpleID   string
	inlineEnd, simpleEnd int64
	simpleRetryCount     int32
}

func (c *e2eClient) snapshotIter1Child(child string) iter1Snapshot {
	wf := c.get(child)
	in, _ := taskByRef(wf, "inline_ref")
	si, _ := taskByRef(wf, "simple_ref")
	return iter1Snapshot{wf.EndTime, in.TaskId, si.TaskId, in.EndTime, si.EndTime, si.RetryCount}
}

func (c *e2eClient) assertIter1Unchanged(child string, before iter1Snapshot) {
	c.t.Helper()
	wf := c.get(child)
	if wf.Status != "COMPLETED" || wf.EndTime != before.endTime {
		c.t.Errorf("%s: %s end %d, want COMPLETED end %d", child, wf.Status, wf.EndTime, before.endTime)
	}
	in, si := c.mustOnlyTaskByRef(child, "inline_ref"), c.mustOnlyTaskByRef(child, "simple_ref")
	if in.TaskId != before.inlineID || in.EndTime != before.inlineEnd || si.TaskId != before.simpleID ||
		si.EndTime != before.simpleEnd || si.RetryCount != before.simpleRetryCount {
		c.t.Errorf("%s changed: inline %s/%d simple %s/%d/%d, was %+v", child, in.TaskId, in.EndTime, si.TaskId, si.EndTime, si.RetryCount, before)
	}
}

// TestE2ERetryWithResumeFlagSecondIterationFailureInForkInsideDoWhile is
// testRetryWithResumeFlagSecondIterationFailureInForkInsideDoWhile: a
// DO_WHILE of two iterations over FORK[two SUB_WORKFLOW] → JOIN; the
// first iteration completes, in the second branch A's SIMPLE task fails.
// After retryLastFailedTask(parent, true) the first iteration's children
// are unchanged, branch B's INLINE of the second iteration is the same
// record, and completing both second-iteration SIMPLE tasks completes the
// parent.
func TestE2ERetryWithResumeFlagSecondIterationFailureInForkInsideDoWhile(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register("transcribed/e2e_retry_exact_shape.json")
	parent := c.start("parent")
	iter1A := c.subWorkflowAtIteration(parent, "sub_workflow_ref_1", 1)
	iter1B := c.subWorkflowAtIteration(parent, "sub_workflow_ref", 1)
	c.completeActiveSimpleRef(iter1A, "COMPLETED")
	c.completeActiveSimpleRef(iter1B, "COMPLETED")
	c.awaitStatus(iter1A, "COMPLETED")
	c.awaitStatus(iter1B, "COMPLETED")
	snapA, snapB := c.snapshotIter1Child(iter1A), c.snapshotIter1Child(iter1B)

	iter2A := c.subWorkflowAtIteration(parent, "sub_workflow_ref_1", 2)
	iter2B := c.subWorkflowAtIteration(parent, "sub_workflow_ref", 2)
	c.await("iteration 2 branch B's inline COMPLETED", func() error {
		tk, err := c.onlyTaskByRef(iter2B, "inline_ref")
		if err == nil && tk.Status != "COMPLETED" {
			err = fmt.Errorf("inline_ref %s", tk.Status)
		}
		return err
	})
	inlineBefore := c.mustOnlyTaskByRef(iter2B, "inline_ref")
	c.completeActiveSimpleRef(iter2A, "FAILED")
	c.awaitStatus(parent, "FAILED")

	c.retryLast(parent, true)
	c.awaitStatus(parent, "RUNNING")
	c.assertIter1Unchanged(iter1A, snapA)
	c.assertIter1Unchanged(iter1B, snapB)
	c.await("iteration 2 branch B's inline unchanged", func() error {
		tk, err := c.onlyTaskByRef(iter2B, "inline_ref")
		if err == nil && (tk.Status != "COMPLETED" || tk.TaskId != inlineBefore.TaskId || tk.EndTime != inlineBefore.EndTime) {
			err = fmt.Errorf("inline_ref %s %s end %d, was %s end %d", tk.Status, tk.TaskId, tk.EndTime, inlineBefore.TaskId, inlineBefore.EndTime)
		}
		return err
	})
	c.completeActiveSimpleRef(iter2A, "COMPLETED")
	c.completeActiveSimpleRef(iter2B, "COMPLETED")
	c.awaitStatus(parent, "COMPLETED")
}

// retryCaptured is Captured / DynamicCaptured: the failed parent of a
// three-branch scenario, its branches' references and children, and the
// children's INLINE records.
type retryCaptured struct {
	parent                                 string
	failingRef, cancelledRef, completedRef string
	failing, cancelled, completed          string
	inline                                 map[string]model.Task // by child id
}

// currentSubWorkflowID is currentSubWorkflowId: the child of the record
// ref with status.
func (c *e2eClient) currentSubWorkflowID(parent, ref, status string) (string, error) {
	wf := c.get(parent)
	for _, tk := range wf.Tasks {
		if tk.ReferenceTaskName == ref && string(tk.Status) == status {
			return tk.SubWorkflowId, nil
		}
	}
	return "", fmt.Errorf("no %s task with status %s: %s", ref, status, describeTasks(wf))
}

// activeSubWorkflowID is activeSubWorkflowId: the child of the active
// record ref.
func (c *e2eClient) activeSubWorkflowID(parent, ref string) (string, error) {
	wf := c.get(parent)
	tk, ok := activeByRef(wf, ref)
	if !ok {
		return "", fmt.Errorf("no active %s task: %s", ref, describeTasks(wf))
	}
	return tk.SubWorkflowId, nil
}

// setupThreeBranchScenarioAndFail is setupThreeBranchScenarioAndFail: in
// a one-iteration DO_WHILE, FORK[three SUB_WORKFLOW branches]; branch C
// completes, branch B fails with FAILED_WITH_TERMINAL_ERROR (the parent
// FAILED, its FORK task still COMPLETED), branch A is cancelled.
func setupThreeBranchScenarioAndFail(c *e2eClient) retryCaptured {
	c.t.Helper()
	c.register("transcribed/e2e_retry_three_branches.json")
	parent := c.start("parent_3br")
	cA := c.subWorkflowAtIteration(parent, "sub_workflow_ref_1", 1)
	cB := c.subWorkflowAtIteration(parent, "sub_workflow_ref", 1)
	cC := c.subWorkflowAtIteration(parent, "sub_workflow_ref_2", 1)
	c.completeActiveSimpleRef(cC, "COMPLETED")
	c.awaitStatus(cC, "COMPLETED")
	c.completeActiveSimpleRef(cB, "FAILED_WITH_TERMINAL_ERROR")
	wf := c.awaitStatus(parent, "FAILED")
	var fork model.Task
	for _, tk := range wf.Tasks {
		if strings.HasPrefix(tk.ReferenceTaskName, "fork_") {
			fork = tk
			break
		}
	}
	if fork.Status != "COMPLETED" {
		c.t.Fatalf("FORK_JOIN must stay COMPLETED on branch failure: %s", describeTasks(wf))
	}
	return c.captured(parent, "sub_workflow_ref__1", "sub_workflow_ref_1__1", "sub_workflow_ref_2__1", cB, cA, cC)
}

func (c *e2eClient) captured(parent, failingRef, cancelledRef, completedRef, failing, cancelled, completed string) retryCaptured {
	c.t.Helper()
	rc := retryCaptured{parent, failingRef, cancelledRef, completedRef, failing, cancelled, completed, map[string]model.Task{}}
	for _, child := range []string{failing, cancelled, completed} {
		rc.inline[child] = c.mustOnlyTaskByRef(child, "inline_ref")
	}
	return rc
}

// inlinePreserved is assertInlinePreserved.
func (c *e2eClient) inlinePreserved(rc retryCaptured) error {
	for child, before := range rc.inline {
		tk, err := c.onlyTaskByRef(child, "inline_ref")
		if err != nil {
			return err
		}
		if tk.Status != "COMPLETED" || tk.TaskId != before.TaskId || tk.EndTime != before.EndTime {
			return fmt.Errorf("%s inline_ref %s %s end %d, was %s end %d", child, tk.Status, tk.TaskId, tk.EndTime, before.TaskId, before.EndTime)
		}
	}
	return nil
}

// resumedInPlace is what the resume-flag retries assert: the completed
// branch keeps its child, the unsuccessful ones are active on their own
// children, which are no longer terminal, and every child's INLINE record
// is unchanged.
func (c *e2eClient) resumedInPlace(rc retryCaptured) error {
	if got, err := c.currentSubWorkflowID(rc.parent, rc.completedRef, "COMPLETED"); err != nil || got != rc.completed {
		return fmt.Errorf("COMPLETED branch child %s (%v), want %s", got, err, rc.completed)
	}
	for ref, want := range map[string]string{rc.failingRef: rc.failing, rc.cancelledRef: rc.cancelled} {
		if got, err := c.activeSubWorkflowID(rc.parent, ref); err != nil || got != want {
			return fmt.Errorf("%s: active child %s (%v), want %s preserved", ref, got, err, want)
		}
		if st := c.get(want).Status; terminalRun(st) {
			return fmt.Errorf("child %s is %s, want restored", want, st)
		}
	}
	return c.inlinePreserved(rc)
}

// freshChildren is what the retries without the resume flag assert: the
// completed branch keeps its child, the unsuccessful ones are active on
// new children; it returns them (failing, cancelled).
func (c *e2eClient) freshChildren(rc retryCaptured) (string, string, error) {
	if got, err := c.currentSubWorkflowID(rc.parent, rc.completedRef, "COMPLETED"); err != nil || got != rc.completed {
		return "", "", fmt.Errorf("COMPLETED branch child %s (%v), want %s", got, err, rc.completed)
	}
	f, err := c.activeSubWorkflowID(rc.parent, rc.failingRef)
	if err != nil || f == "" || f == rc.failing {
		return "", "", fmt.Errorf("FAILED branch child %q (%v), want a new one (was %s)", f, err, rc.failing)
	}
	k, err := c.activeSubWorkflowID(rc.parent, rc.cancelledRef)
	if err != nil || k == "" || k == rc.cancelled {
		return "", "", fmt.Errorf("CANCELED branch child %q (%v), want a new one (was %s)", k, err, rc.cancelled)
	}
	return f, k, nil
}

// TestE2ERetryWithoutResumeFlagSpawnsFreshChildrenForUnsuccessfulSubWorkflowSiblings
// is testRetryWithoutResumeFlagSpawnsFreshChildrenForUnsuccessfulSubWorkflowSiblings:
// retryWorkflow (the bulk retry, without the resume flag) gives the
// failed and the cancelled branch new children, the old ones stay FAILED
// and terminal, the completed branch keeps its child; completing the new
// children completes the parent.
func TestE2ERetryWithoutResumeFlagSpawnsFreshChildrenForUnsuccessfulSubWorkflowSiblings(t *testing.T) {
	c := newE2EClient(t, nil)
	rc := setupThreeBranchScenarioAndFail(c)
	c.bulkRetry(rc.parent)
	c.awaitStatus(rc.parent, "RUNNING")
	var f, k string
	c.await("fresh children", func() error {
		var err error
		if f, k, err = c.freshChildren(rc); err != nil {
			return err
		}
		if st := c.get(rc.failing).Status; st != "FAILED" {
			return fmt.Errorf("original failing child %s, want FAILED", st)
		}
		if st := c.get(rc.cancelled).Status; !terminalRun(st) {
			return fmt.Errorf("original cancelled child %s, want terminal", st)
		}
		return nil
	})
	c.completeActiveSimpleRef(f, "COMPLETED")
	c.completeActiveSimpleRef(k, "COMPLETED")
	c.awaitStatus(rc.parent, "COMPLETED")
}

// TestE2ERetryWithResumeFlagRestoresUnsuccessfulSubWorkflowSiblingsInPlace
// is testRetryWithResumeFlagRestoresUnsuccessfulSubWorkflowSiblingsInPlace:
// retryLastFailedTask(parent, true) restores the failed and the cancelled
// branch on their own children, INLINE records unchanged; completing
// them completes the parent.
func TestE2ERetryWithResumeFlagRestoresUnsuccessfulSubWorkflowSiblingsInPlace(t *testing.T) {
	c := newE2EClient(t, nil)
	rc := setupThreeBranchScenarioAndFail(c)
	c.retryLast(rc.parent, true)
	c.awaitStatus(rc.parent, "RUNNING")
	c.await("resumed in place", func() error { return c.resumedInPlace(rc) })
	c.completeActiveSimpleRef(rc.failing, "COMPLETED")
	c.completeActiveSimpleRef(rc.cancelled, "COMPLETED")
	c.awaitStatus(rc.parent, "COMPLETED")
}

// setupDynamicForkScenarioAndFail is setupDynamicForkScenarioAndFail:
// prep_ref answers three SUB_WORKFLOW dynamic tasks; the completed one's
// child completes, the failing one's fails with FAILED_WITH_TERMINAL_ERROR
// (the parent FAILED, FORK_JOIN_DYNAMIC still COMPLETED), the third is
// cancelled.
func setupDynamicForkScenarioAndFail(c *e2eClient) retryCaptured {
	c.t.Helper()
	const failingRef, cancelledRef, completedRef = "branch_failing", "branch_cancelled", "branch_completed"
	c.register("transcribed/e2e_retry_dynamic_fork.json")
	parent := c.start("parent_dynfork")
	prep := c.awaitActive(parent, "prep_ref")
	dyn := func(ref string) map[string]any { // buildDynamicSubWorkflowTask
		return map[string]any{"name": "sub_dynfork", "taskReferenceName": ref, "type": "SUB_WORKFLOW",
			"subWorkflowParam": map[string]any{"name": "sub_dynfork", "version": 1}}
	}
	c.update(parent, prep.TaskId, "COMPLETED", "", map[string]any{
		"dynamicTasks":      []any{dyn(failingRef), dyn(cancelledRef), dyn(completedRef)},
		"dynamicTasksInput": map[string]any{failingRef: map[string]any{}, cancelledRef: map[string]any{}, completedRef: map[string]any{}},
	})
	children := map[string]string{}
	c.await("the three branches have children", func() error {
		wf := c.get(parent)
		for _, ref := range []string{failingRef, cancelledRef, completedRef} {
			tk, ok := taskByRef(wf, ref)
			if !ok || tk.SubWorkflowId == "" {
				return fmt.Errorf("%s not materialised: %s", ref, describeTasks(wf))
			}
			children[ref] = tk.SubWorkflowId
		}
		return nil
	})
	c.completeActiveSimpleRef(children[completedRef], "COMPLETED")
	c.awaitStatus(children[completedRef], "COMPLETED")
	c.completeActiveSimpleRef(children[failingRef], "FAILED_WITH_TERMINAL_ERROR")
	c.awaitStatus(parent, "FAILED")
	if tk := c.mustOnlyTaskByRef(parent, "dyn_fork_ref"); tk.Status != "COMPLETED" {
		c.t.Fatalf("FORK_JOIN_DYNAMIC must stay COMPLETED on branch failure: %s", tk.Status)
	}
	return c.captured(parent, failingRef, cancelledRef, completedRef, children[failingRef], children[cancelledRef], children[completedRef])
}

// TestE2ERetryWithResumeFlagInDynamicForkRestoresUnsuccessfulBranchesInPlace
// is testRetryWithResumeFlagInDynamicForkRestoresUnsuccessfulBranchesInPlace.
func TestE2ERetryWithResumeFlagInDynamicForkRestoresUnsuccessfulBranchesInPlace(t *testing.T) {
	c := newE2EClient(t, nil)
	rc := setupDynamicForkScenarioAndFail(c)
	c.retryLast(rc.parent, true)
	c.awaitStatus(rc.parent, "RUNNING")
	c.await("resumed in place", func() error { return c.resumedInPlace(rc) })
	c.completeActiveSimpleRef(rc.failing, "COMPLETED")
	c.completeActiveSimpleRef(rc.cancelled, "COMPLETED")
	c.awaitStatus(rc.parent, "COMPLETED")
}

// TestE2ERetryWithoutResumeFlagInDynamicForkSpawnsFreshChildrenForUnsuccessfulBranches
// is testRetryWithoutResumeFlagInDynamicForkSpawnsFreshChildrenForUnsuccessfulBranches.
func TestE2ERetryWithoutResumeFlagInDynamicForkSpawnsFreshChildrenForUnsuccessfulBranches(t *testing.T) {
	c := newE2EClient(t, nil)
	rc := setupDynamicForkScenarioAndFail(c)
	c.bulkRetry(rc.parent)
	c.awaitStatus(rc.parent, "RUNNING")
	var f, k string
	c.await("fresh children", func() (err error) {
		f, k, err = c.freshChildren(rc)
		return err
	})
	c.completeActiveSimpleRef(f, "COMPLETED")
	c.completeActiveSimpleRef(k, "COMPLETED")
	c.awaitStatus(rc.parent, "COMPLETED")
}

// TestE2ERetryOnFailingChildSubWorkflowInDynamicForkPreservesCancelledSibling
// is testRetryOnFailingChildSubWorkflowInDynamicForkPreservesCancelledSibling:
// the bulk retry of the failing child itself re-opens the parent, which
// restores the cancelled branch on its own child.
func TestE2ERetryOnFailingChildSubWorkflowInDynamicForkPreservesCancelledSibling(t *testing.T) {
	c := newE2EClient(t, nil)
	rc := setupDynamicForkScenarioAndFail(c)
	c.bulkRetry(rc.failing)
	c.awaitStatus(rc.parent, "RUNNING")
	c.await("resumed in place", func() error { return c.resumedInPlace(rc) })
	c.completeActiveSimpleRef(rc.failing, "COMPLETED")
	c.completeActiveSimpleRef(rc.cancelled, "COMPLETED")
	c.awaitStatus(rc.parent, "COMPLETED")
}

// completeTask is the shared helper completeTask: taskClient.updateTaskSync
// of the task's run, reference and output with status.
func (c *e2eClient) completeTask(tk model.Task, status string) {
	c.t.Helper()
	c.updateSync(tk.WorkflowInstanceId, tk.ReferenceTaskName, status, tk.OutputData)
}

// statusReason is statusOf / taskOf(…).getReasonForIncompletion of ref.
func statusReason(wf model.Workflow, ref string) (string, string) {
	tk, _ := taskByRef(wf, ref)
	return string(tk.Status), tk.ReasonForIncompletion
}

// failedWithCanceledSibling checks a run FAILED with ref CANCELED and
// failingRef carrying a reason.
func (c *e2eClient) failedWithCanceledSibling(id, cancelledRef, failingRef string) error {
	wf := c.get(id)
	cs, _ := statusReason(wf, cancelledRef)
	_, reason := statusReason(wf, failingRef)
	if wf.Status != "FAILED" || cs != "CANCELED" || reason == "" {
		return fmt.Errorf("%s %s: %s CANCELED? %s; %s reason %q", id, wf.Status, cancelledRef, cs, failingRef, reason)
	}
	return nil
}

// activeChildPreserved checks the active record ref of run id is on child
// want, which is not terminal, and the active record reasonRef has no
// reason.
func (c *e2eClient) activeChildPreserved(id, ref, want, reasonRef string) error {
	wf := c.get(id)
	tk, ok := activeByRef(wf, ref)
	if !ok || tk.SubWorkflowId != want {
		return fmt.Errorf("%s: active %s on %q, want %s: %s", id, ref, tk.SubWorkflowId, want, describeTasks(wf))
	}
	if st := c.get(want).Status; terminalRun(st) {
		return fmt.Errorf("child %s is %s", want, st)
	}
	return c.activeWithoutReason(id, reasonRef)
}

func (c *e2eClient) activeWithoutReason(id, ref string) error {
	wf := c.get(id)
	tk, ok := activeByRef(wf, ref)
	if !ok || tk.ReasonForIncompletion != "" {
		return fmt.Errorf("%s: %s active %v, reason %q: %s", id, ref, ok, tk.ReasonForIncompletion, describeTasks(wf))
	}
	return nil
}

// TestE2ERetrySubWorkflowReschedulesAllSubWorkflowSiblingsInFork is
// testRetrySubWorkflowReschedulesAllSubWorkflowSiblingsInFork: a FORK of
// two SUB_WORKFLOW branches; the failing child's task fails, the parent
// FAILED with the other branch CANCELED. The bulk retry of the failing
// child re-opens the parent: the cancelled branch is active on its own
// child (not terminal, with its tasks), the failing branch has no reason;
// completing both children's tasks completes the parent.
func TestE2ERetrySubWorkflowReschedulesAllSubWorkflowSiblingsInFork(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register("transcribed/e2e_retry_all_sub_workflow_fork.json")
	id := c.start("rerun-allsubwf-parent")
	var failingChild, cancelledChild string
	c.await("both children started, with tasks", func() error {
		wf := c.get(id)
		f, ok1 := activeByRef(wf, "failing_sub_ref")
		k, ok2 := activeByRef(wf, "cancelled_sub_ref")
		if !ok1 || !ok2 || f.SubWorkflowId == "" || k.SubWorkflowId == "" || len(c.get(f.SubWorkflowId).Tasks) == 0 || len(c.get(k.SubWorkflowId).Tasks) == 0 {
			return fmt.Errorf("tasks: %s", describeTasks(wf))
		}
		failingChild, cancelledChild = f.SubWorkflowId, k.SubWorkflowId
		return nil
	})
	c.completeTask(c.awaitActive(failingChild, "task_in_failing_sub"), "FAILED")
	c.await("parent FAILED", func() error { return c.failedWithCanceledSibling(id, "cancelled_sub_ref", "failing_sub_ref") })

	c.bulkRetry(failingChild)
	c.awaitStatus(id, "RUNNING")
	c.await("cancelled sibling resumed in place", func() error {
		if err := c.activeChildPreserved(id, "cancelled_sub_ref", cancelledChild, "failing_sub_ref"); err != nil {
			return err
		}
		if len(c.get(cancelledChild).Tasks) == 0 {
			return fmt.Errorf("resumed child has no tasks")
		}
		return nil
	})
	c.completeTask(c.awaitActive(cancelledChild, "task_in_cancelled_sub"), "COMPLETED")
	c.completeTask(c.awaitActive(failingChild, "task_in_failing_sub"), "COMPLETED")
	c.awaitStatus(id, "COMPLETED")
}

// TestE2ERetryNestedSubWorkflowsReschedulesSiblingsAtEveryLevel is
// testRetryNestedSubWorkflowsReschedulesSiblingsAtEveryLevel (@Disabled in
// Conductor for a race in its own engine): top FORK[mid, outer_cancelled],
// mid FORK[inner_failing, inner_cancelled]. The inner failing task fails
// top and mid with their siblings CANCELED; the bulk retry of the inner
// failing child re-opens mid and top, each cancelled sibling active on
// its own child; completing every task completes top.
func TestE2ERetryNestedSubWorkflowsReschedulesSiblingsAtEveryLevel(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register("transcribed/e2e_retry_nested_sub_workflows.json")
	top := c.start("rerun-nested-top")
	var mid, innerFailing, innerCancelled, outerCancelled string
	c.await("every child started", func() error {
		wf := c.get(top)
		m, _ := taskByRef(wf, "mid_ref")
		o, _ := taskByRef(wf, "outer_cancelled_ref")
		if m.SubWorkflowId == "" || o.SubWorkflowId == "" {
			return fmt.Errorf("top: %s", describeTasks(wf))
		}
		mw := c.get(m.SubWorkflowId)
		f, _ := taskByRef(mw, "inner_failing_ref")
		k, _ := taskByRef(mw, "inner_cancelled_ref")
		if f.SubWorkflowId == "" || k.SubWorkflowId == "" || len(c.get(f.SubWorkflowId).Tasks) == 0 {
			return fmt.Errorf("mid: %s", describeTasks(mw))
		}
		mid, outerCancelled, innerFailing, innerCancelled = m.SubWorkflowId, o.SubWorkflowId, f.SubWorkflowId, k.SubWorkflowId
		return nil
	})
	c.completeTask(c.awaitActive(innerFailing, "task_in_inner_failing"), "FAILED")
	c.await("top and mid FAILED", func() error {
		if err := c.failedWithCanceledSibling(top, "outer_cancelled_ref", "mid_ref"); err != nil {
			return err
		}
		return c.failedWithCanceledSibling(mid, "inner_cancelled_ref", "inner_failing_ref")
	})

	c.bulkRetry(innerFailing)
	c.awaitStatus(top, "RUNNING")
	c.awaitStatus(mid, "RUNNING")
	c.await("mid level resumed in place", func() error {
		return c.activeChildPreserved(mid, "inner_cancelled_ref", innerCancelled, "inner_failing_ref")
	})
	c.await("top level resumed in place", func() error {
		return c.activeChildPreserved(top, "outer_cancelled_ref", outerCancelled, "mid_ref")
	})
	c.completeTask(c.awaitActive(innerCancelled, "task_in_inner_cancelled"), "COMPLETED")
	c.completeTask(c.awaitActive(outerCancelled, "task_in_outer_cancelled"), "COMPLETED")
	c.completeTask(c.awaitActive(innerFailing, "task_in_inner_failing"), "COMPLETED")
	c.awaitStatus(top, "COMPLETED")
}

// TestE2ERetryNestedForkWithSimpleAndSubWorkflowSiblings is
// testRetryNestedForkWithSimpleAndSubWorkflowSiblings: top FORK[mid,
// top_cancelled (SUB_WORKFLOW)], mid FORK[grandchild, SIMPLE],
// grandchild FORK[leaf, SIMPLE]. The leaf's task fails every level with
// its sibling CANCELED; the bulk retry of the leaf re-opens grandchild,
// mid and top: the SIMPLE siblings are active again, the top's
// SUB_WORKFLOW sibling is active on its own child, no SUB_WORKFLOW task on
// the way keeps a reason; completing everything completes top.
func TestE2ERetryNestedForkWithSimpleAndSubWorkflowSiblings(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register("transcribed/e2e_retry_three_level_fork.json")
	top := c.start("rerun-3lvl-top")
	var mid, grandchild, leaf, topCancelled string
	c.await("every child started", func() error {
		wf := c.get(top)
		m, _ := taskByRef(wf, "mid_ref")
		k, _ := taskByRef(wf, "top_cancelled_ref")
		if m.SubWorkflowId == "" || k.SubWorkflowId == "" {
			return fmt.Errorf("top: %s", describeTasks(wf))
		}
		g, _ := taskByRef(c.get(m.SubWorkflowId), "grandchild_ref")
		if g.SubWorkflowId == "" {
			return fmt.Errorf("mid has no grandchild yet")
		}
		l, _ := taskByRef(c.get(g.SubWorkflowId), "failing_leaf_ref")
		if l.SubWorkflowId == "" || len(c.get(l.SubWorkflowId).Tasks) == 0 {
			return fmt.Errorf("grandchild has no leaf yet")
		}
		mid, topCancelled, grandchild, leaf = m.SubWorkflowId, k.SubWorkflowId, g.SubWorkflowId, l.SubWorkflowId
		return nil
	})
	leafTask, _ := taskByRef(c.get(leaf), "task_in_failing_leaf")
	c.completeTask(leafTask, "FAILED")
	c.await("every level FAILED", func() error {
		if err := c.failedWithCanceledSibling(top, "top_cancelled_ref", "mid_ref"); err != nil {
			return err
		}
		if err := c.failedWithCanceledSibling(mid, "mid_cancelled_simple", "grandchild_ref"); err != nil {
			return err
		}
		return c.failedWithCanceledSibling(grandchild, "grandchild_cancelled_simple", "failing_leaf_ref")
	})

	c.bulkRetry(leaf)
	c.awaitStatus(top, "RUNNING")
	c.awaitStatus(mid, "RUNNING")
	c.awaitStatus(grandchild, "RUNNING")
	c.await("grandchild level resumed", func() error {
		if _, ok := activeByRef(c.get(grandchild), "grandchild_cancelled_simple"); !ok {
			return fmt.Errorf("no active grandchild_cancelled_simple")
		}
		return c.activeWithoutReason(grandchild, "failing_leaf_ref")
	})
	c.await("mid level resumed", func() error {
		if _, ok := activeByRef(c.get(mid), "mid_cancelled_simple"); !ok {
			return fmt.Errorf("no active mid_cancelled_simple")
		}
		return c.activeWithoutReason(mid, "grandchild_ref")
	})
	c.await("top level resumed in place", func() error {
		return c.activeChildPreserved(top, "top_cancelled_ref", topCancelled, "mid_ref")
	})
	c.completeTask(c.awaitActive(grandchild, "grandchild_cancelled_simple"), "COMPLETED")
	c.completeTask(c.awaitActive(mid, "mid_cancelled_simple"), "COMPLETED")
	c.completeTask(c.awaitActive(topCancelled, "task_in_top_cancelled"), "COMPLETED")
	c.completeTask(c.awaitActive(leaf, "task_in_failing_leaf"), "COMPLETED")
	c.awaitStatus(top, "COMPLETED")
}

// TestE2ERetryInPlacePreservesCompletedTasksInsideCancelledChild is
// testRetryInPlacePreservesCompletedTasksInsideCancelledChild: the
// cancelled child had completed task A before the other branch failed;
// after the bulk retry of the failing child the cancelled branch is
// active on the same child, not terminal, and its task A is the same
// COMPLETED record (same id and end time).
func TestE2ERetryInPlacePreservesCompletedTasksInsideCancelledChild(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register("transcribed/e2e_retry_preserve_completed.json")
	id := c.start("rerun-preserve-completed-parent")
	var failingChild, cancelledChild string
	c.await("children started", func() error {
		wf := c.get(id)
		k, ok1 := activeByRef(wf, "cancelled_sub_ref_pc")
		f, ok2 := activeByRef(wf, "failing_sub_ref_pc")
		if !ok1 || !ok2 || k.SubWorkflowId == "" || f.SubWorkflowId == "" {
			return fmt.Errorf("tasks: %s", describeTasks(wf))
		}
		if _, ok := activeByRef(c.get(k.SubWorkflowId), "task_a_in_cancelled_pc"); !ok {
			return fmt.Errorf("task A not active yet")
		}
		failingChild, cancelledChild = f.SubWorkflowId, k.SubWorkflowId
		return nil
	})
	c.completeTask(c.awaitActive(cancelledChild, "task_a_in_cancelled_pc"), "COMPLETED")
	c.await("task A COMPLETED, task B active", func() error {
		ch := c.get(cancelledChild)
		a, _ := statusReason(ch, "task_a_in_cancelled_pc")
		if _, ok := activeByRef(ch, "task_b_in_cancelled_pc"); a != "COMPLETED" || !ok {
			return fmt.Errorf("child: %s", describeTasks(ch))
		}
		return nil
	})
	taskA, _ := taskByRef(c.get(cancelledChild), "task_a_in_cancelled_pc")
	c.completeTask(c.awaitActive(failingChild, "task_in_failing_pc"), "FAILED")
	c.await("parent FAILED, cancelled child terminal with task A COMPLETED", func() error {
		wf, ch := c.get(id), c.get(cancelledChild)
		a, _ := statusReason(ch, "task_a_in_cancelled_pc")
		_, reason := statusReason(wf, "failing_sub_ref_pc")
		if wf.Status != "FAILED" || !terminalRun(ch.Status) || a != "COMPLETED" || reason == "" {
			return fmt.Errorf("parent %s (reason %q), child %s: %s", wf.Status, reason, ch.Status, describeTasks(ch))
		}
		return nil
	})

	c.bulkRetry(failingChild)
	c.await("retried in place, task A kept", func() error {
		if err := c.activeChildPreserved(id, "cancelled_sub_ref_pc", cancelledChild, "failing_sub_ref_pc"); err != nil {
			return err
		}
		for _, tk := range c.get(cancelledChild).Tasks {
			if tk.ReferenceTaskName == "task_a_in_cancelled_pc" && tk.Status == "COMPLETED" {
				if tk.TaskId != taskA.TaskId || tk.EndTime != taskA.EndTime {
					return fmt.Errorf("task A %s end %d, was %s end %d", tk.TaskId, tk.EndTime, taskA.TaskId, taskA.EndTime)
				}
				return nil
			}
		}
		return fmt.Errorf("task A is no longer COMPLETED")
	})
}

// TestE2ERetrySubWorkflowRetriesFailedInnerTask is
// testRetrySubWorkflowRetriesFailedInnerTask: the child's task fails
// child and parent; the bulk retry of the child makes both RUNNING, with a
// new attempt of the task (another id) and the parent's SUB_WORKFLOW
// task active on the same child without a reason; completing it
// completes the parent.
func TestE2ERetrySubWorkflowRetriesFailedInnerTask(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register("transcribed/e2e_retry_sub_workflow_inner_task.json")
	id := c.start("retry-subwf-inner-parent")
	sub := c.awaitActive(id, "sub_ref_retry_inner")
	var child string
	c.await("the child's task active", func() error {
		sub, _ = activeByRef(c.get(id), "sub_ref_retry_inner")
		if sub.SubWorkflowId == "" {
			return fmt.Errorf("no child yet")
		}
		if _, ok := activeByRef(c.get(sub.SubWorkflowId), "inner_task_retry_inner"); !ok {
			return fmt.Errorf("inner task not active")
		}
		child = sub.SubWorkflowId
		return nil
	})
	inner := c.awaitActive(child, "inner_task_retry_inner")
	c.completeTask(inner, "FAILED")
	c.awaitStatus(id, "FAILED")
	c.awaitStatus(child, "FAILED")
	if _, reason := statusReason(c.get(id), "sub_ref_retry_inner"); reason == "" {
		t.Fatal("parent sub_ref should have reasonForIncompletion populated while FAILED")
	}

	c.bulkRetry(child)
	c.awaitStatus(child, "RUNNING")
	c.awaitStatus(id, "RUNNING")
	c.await("a new attempt, the parent on the same child", func() error {
		retried, ok := activeByRef(c.get(child), "inner_task_retry_inner")
		if !ok || retried.TaskId == inner.TaskId {
			return fmt.Errorf("no new attempt of inner_task (active %v, id %s)", ok, retried.TaskId)
		}
		if err := c.activeWithoutReason(id, "sub_ref_retry_inner"); err != nil {
			return err
		}
		if s, _ := activeByRef(c.get(id), "sub_ref_retry_inner"); s.SubWorkflowId != child {
			return fmt.Errorf("parent's SUB_WORKFLOW task on %s, want %s", s.SubWorkflowId, child)
		}
		return nil
	})
	c.completeTask(c.awaitActive(child, "inner_task_retry_inner"), "COMPLETED")
	c.awaitStatus(id, "COMPLETED")
}
