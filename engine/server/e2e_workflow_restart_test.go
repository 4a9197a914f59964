package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
)

// Ports of conductor-oss/conductor e2e/src/test/java/io/conductor/e2e/
// workflow/WorkflowRestartTests.java (b54f0d4), through `wfrun serve` and
// the Conductor Go SDK.

const e2eRestartDef = "transcribed/e2e_restart_registration_workflow_def.json"

// restartedAtSimple checks what both simple-restart tests assert after
// the restart: RUNNING, task 1 SCHEDULED, task 0 executed, task 1 not.
func (c *e2eClient) restartedAtSimple(id string) error {
	wf := c.get(id)
	if wf.Status != "RUNNING" || len(wf.Tasks) < 2 || wf.Tasks[1].Status != "SCHEDULED" || !wf.Tasks[0].Executed || wf.Tasks[1].Executed {
		var exec []bool
		for _, tk := range wf.Tasks {
			exec = append(exec, tk.Executed)
		}
		return fmt.Errorf("%s: %s; executed %v", wf.Status, describeTasks(wf), exec)
	}
	return nil
}

// TestE2ERestartSimpleWorkflow is testRestartSimpleWorkflow: the SIMPLE
// task (index 1) fails the run; restart(id, false) runs it again from
// the start: RUNNING, task 1 SCHEDULED, task 0 executed and task 1 not;
// completing task 1 completes it.
func TestE2ERestartSimpleWorkflow(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register(e2eRestartDef)
	id := c.start("RSTRT")
	c.update(id, c.taskAt(id, 1).TaskId, "FAILED", "", nil)
	c.awaitStatus(id, "FAILED")
	c.restart(id, false)
	c.await("restarted", func() error { return c.restartedAtSimple(id) })
	c.update(id, c.get(id).Tasks[1].TaskId, "COMPLETED", "", nil)
	c.awaitStatus(id, "COMPLETED")
}

// TestE2ERestartSimpleWorkflowChangeDefinition is
// testRestartSimpleWorkflowChangeDefinition: the run completes; its
// definition gets a third task ("added", its task definition registered
// first); restart(id, true) uses the new definition: after task 1
// completes the run stays RUNNING until the added task (index 2) does.
func TestE2ERestartSimpleWorkflowChangeDefinition(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register(e2eRestartDef)
	id := c.start("RSTRT")
	c.update(id, c.taskAt(id, 1).TaskId, "COMPLETED", "", nil)
	c.awaitStatus(id, "COMPLETED")

	// addTasksInWorkflowDef: the TaskDef "added", then the definition with
	// a SIMPLE task "added" appended.
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/taskdefs", `[{"name":"added","ownerEmail":"test@conductor.io"}]`); st != 200 {
		t.Fatalf("register added: %d %s", st, body)
	}
	st, _, body := c.ts.do(t, "GET", "/api/metadata/workflow/RSTRT?version=1", "")
	var def map[string]any
	if st != 200 || json.Unmarshal([]byte(body), &def) != nil {
		t.Fatalf("get definition: %d %s", st, body)
	}
	def["tasks"] = append(def["tasks"].([]any), map[string]any{"name": "added", "taskReferenceName": "added", "type": "SIMPLE"})
	raw, _ := json.Marshal([]any{def})
	if st, _, body := c.ts.do(t, "PUT", "/api/metadata/workflow", string(raw)); st != 200 {
		t.Fatalf("update definition: %d %s", st, body)
	}

	c.restart(id, true)
	c.await("restarted", func() error { return c.restartedAtSimple(id) })
	c.update(id, c.get(id).Tasks[1].TaskId, "COMPLETED", "", nil)
	c.awaitStatus(id, "RUNNING")
	c.update(id, c.taskAt(id, 2).TaskId, "COMPLETED", "", nil)
	c.awaitStatus(id, "COMPLETED")
}

// TestE2ERestartWithSubWorkflow is testRestartWithSubWorkflow: the
// child's task fails the parent; restart of the child (RUNNING, task 0
// SCHEDULED) and its completion complete the parent; a restart of the
// parent sent right then gives it a new child, whose completion completes
// it again.
func TestE2ERestartWithSubWorkflow(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register(e2eRegistrationSubDef, "retry-parent-with-sub-workflow", "restart-parent-with-sub-workflow",
		"retry-sub-workflow", "restart-sub-workflow", "simple-no-retry2", "simple-no-restart")
	id := c.start("restart-parent-with-sub-workflow")
	child := c.subWorkflowAt(id, 0)
	c.update(child, c.taskAt(child, 0).TaskId, "FAILED", "", nil)
	c.awaitStatus(id, "FAILED")

	c.restart(child, false)
	c.await("child restarted", func() error {
		wf := c.get(child)
		if wf.Status != "RUNNING" || len(wf.Tasks) == 0 || wf.Tasks[0].Status != "SCHEDULED" {
			return fmt.Errorf("%s: %s", wf.Status, describeTasks(wf))
		}
		return nil
	})
	c.update(child, c.taskAt(child, 0).TaskId, "COMPLETED", "", nil)
	c.awaitStatus(id, "COMPLETED")

	// The parent restarted as soon as it completed: a new child, whose
	// completion completes the parent again.
	c.restart(id, false)
	var next string
	c.await("parent restarted with a new child", func() error {
		wf := c.get(id)
		if len(wf.Tasks) == 0 || wf.Tasks[0].SubWorkflowId == "" || wf.Tasks[0].SubWorkflowId == child {
			return fmt.Errorf("%s: %s", wf.Status, describeTasks(wf))
		}
		next = wf.Tasks[0].SubWorkflowId
		return nil
	})
	c.update(next, c.taskAt(next, 0).TaskId, "COMPLETED", "", nil)
	c.awaitStatus(id, "COMPLETED")
}

// restartParentWithNewChild is the middle of the two orphan tests: the
// parent, ended, is restarted: RUNNING with its SUB_WORKFLOW task
// IN_PROGRESS on a new child, whose completion completes the parent.
func (c *e2eClient) restartParentWithNewChild(id, oldChild string) {
	c.t.Helper()
	c.restart(id, false)
	c.await("parent restarted", func() error {
		wf := c.get(id)
		if wf.Status != "RUNNING" || len(wf.Tasks) == 0 || wf.Tasks[0].Status != "IN_PROGRESS" {
			return fmt.Errorf("%s: %s", wf.Status, describeTasks(wf))
		}
		return nil
	})
	child := c.subWorkflowAt(id, 0)
	if child == oldChild {
		c.t.Fatalf("the restarted parent kept its child %s", child)
	}
	c.update(child, c.taskAt(child, 0).TaskId, "COMPLETED", "", nil)
	c.awaitStatus(id, "COMPLETED")
}

// TestE2ERestartWithSubWorkflowWithRestartParent is
// testRestartWithSubWorkflowWithRestartParent: the parent completes, is
// restarted with a new child and completes again; a restart of the
// first (orphan) child leaves the parent COMPLETED; the child is then
// terminated.
func TestE2ERestartWithSubWorkflowWithRestartParent(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register(e2eRegistrationSubDef, "retry-parent-with-sub-workflow", "restart-parent-with-orphan-sub-workflow",
		"retry-sub-workflow", "restart-sub-workflow", "simple-no-retry2", "simple-no-restart2")
	id := c.start("restart-parent-with-orphan-sub-workflow")
	child := c.subWorkflowAt(id, 0)
	c.update(child, c.taskAt(child, 0).TaskId, "COMPLETED", "", nil)
	c.awaitStatus(id, "COMPLETED")
	c.restartParentWithNewChild(id, child)

	c.restart(child, false)
	if st := c.get(id).Status; st != "COMPLETED" {
		t.Fatalf("parent %s after the orphan child's restart", st)
	}
	c.awaitStatus(child, "RUNNING")
	if st := c.get(id).Status; st != "COMPLETED" {
		t.Fatalf("parent %s once the orphan child runs again", st)
	}
	c.terminate(child, "Terminated")
}

// TestE2ERetryWithOrphanSubWorkflowWithRestartParent is
// testRetryWithOrphanSubWorkflowWithRestartParent: the child's task fails
// with FAILED_WITH_TERMINAL_ERROR and fails the parent; the parent is
// restarted with a new child and completes; a bulk retry of the first
// (orphan) child leaves the parent COMPLETED; the child is terminated.
func TestE2ERetryWithOrphanSubWorkflowWithRestartParent(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register(e2eRegistrationSubDef, "retry-parent-with-sub-workflow", "retry-parent-with-orphan-sub-workflow",
		"retry-sub-workflow", "retry-sub-workflow2", "simple-no-retry2", "simple-no-retry3")
	id := c.start("retry-parent-with-orphan-sub-workflow")
	child := c.subWorkflowAt(id, 0)
	c.update(child, c.taskAt(child, 0).TaskId, "FAILED_WITH_TERMINAL_ERROR", "", nil)
	c.awaitStatus(id, "FAILED")
	c.restartParentWithNewChild(id, child)

	c.bulkRetry(child)
	if st := c.get(id).Status; st != "COMPLETED" {
		t.Fatalf("parent %s after the orphan child's retry", st)
	}
	c.awaitStatus(child, "RUNNING")
	if st := c.get(id).Status; st != "COMPLETED" {
		t.Fatalf("parent %s once the orphan child runs again", st)
	}
	c.terminate(child, "Terminated")
}

// TestE2ERestartOptionalSubWorkflowDoesNotAffectParent is
// testRestartOptionalSubWorkflowDoesNotAffectParent: the optional
// SUB_WORKFLOW's child fails, the parent completes; restarting the child
// leaves the parent COMPLETED.
func TestE2ERestartOptionalSubWorkflowDoesNotAffectParent(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register(e2eRegistrationDef, "retry-simple-workflow", "sub-wf-2level-restart", "retry-simple-task1", "simple-task-2level-restart")
	c.register(e2eRegistrationSubDef, "retry-parent-with-sub-workflow", "parent-wf-2level-restart",
		"retry-sub-workflow", "sub-wf-2level-restart", "simple-no-retry2", "simple-task-2level-restart")
	c.setOptional("parent-wf-2level-restart", 0)
	parent := c.start("parent-wf-2level-restart")
	child := c.subWorkflowAt(parent, 0)
	c.update(child, c.taskAt(child, 0).TaskId, "FAILED", "", nil)
	c.awaitStatus(parent, "COMPLETED")

	c.restart(child, false)
	if st := c.get(parent).Status; st != "COMPLETED" {
		t.Fatalf("parent %s after the child's restart", st)
	}
	c.awaitStatus(child, "RUNNING")
	if st := c.get(parent).Status; st != "COMPLETED" {
		t.Fatalf("parent %s once the child runs again", st)
	}
}
