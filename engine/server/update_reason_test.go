package server_test

import (
	"fmt"
	"testing"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
)

// TestTaskUpdateReasonIsTheUpdates: Conductor's updateTask stores the
// TaskResult's reasonForIncompletion on the task whatever the status
// (WorkflowExecutorOps.updateTask), and an update by reference makes its
// TaskResult from the pending task (TaskServiceImpl.updateTask: new
// TaskResult(pending)), so it keeps the task's reason; a poll does not
// touch it. Through the Go client: an IN_PROGRESS update by id with a
// reason shows it on the task put back SCHEDULED, the next poll and an
// IN_PROGRESS update by reference keep it, and so does a FAILED update by
// reference; a FAILED update by reference of a task that has none, or by
// id giving none, stores none (no reason of wfrun's own). The run fails
// with DeciderService's "Task … failed with status: FAILED and reason:
// '…'", a task without a reason giving 'null' as Java formats it.
func TestTaskUpdateReasonIsTheUpdates(t *testing.T) {
	c := newE2EClient(t, nil)
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/taskdefs", `[{"name":"rsn_worker","retryCount":0,"timeoutSeconds":0,"responseTimeoutSeconds":3600}]`); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", `{"name":"rsn_flow","version":1,"schemaVersion":2,
	  "tasks":[{"name":"rsn_worker","taskReferenceName":"w","type":"SIMPLE"}]}`); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	poll := func(id string) string {
		t.Helper()
		var task model.Task
		c.await("a poll finds "+id+"'s task", func() error {
			var err error
			task, _, err = c.tc.Poll(c.ctx, "rsn_worker", &client.TaskResourceApiPollOpts{Workerid: optional.NewString("rsn")})
			if err != nil || task.WorkflowInstanceId != id {
				return fmt.Errorf("polled %q: %v", task.WorkflowInstanceId, err)
			}
			return nil
		})
		return task.TaskId
	}
	expect := func(id, status, reason string) {
		t.Helper()
		c.await(id+"'s task "+status+" with reason "+reason, func() error {
			wf := c.get(id)
			if len(wf.Tasks) != 1 || string(wf.Tasks[0].Status) != status || wf.Tasks[0].ReasonForIncompletion != reason {
				return fmt.Errorf("tasks %s, reason %q", describeTasks(wf), firstReason(wf))
			}
			return nil
		})
	}
	byRef := func(id, status string) {
		t.Helper()
		if _, _, err := c.tc.UpdateTaskByRefName(c.ctx, map[string]any{"k": status}, id, "w", status); err != nil {
			t.Fatalf("update %s by reference %s: %v", id, status, err)
		}
	}

	id := c.start("rsn_flow")
	task := poll(id)
	c.update(id, task, "IN_PROGRESS", "halfway", nil)
	expect(id, "SCHEDULED", "halfway")
	if poll(id) != task {
		t.Fatal("the task polled again is another")
	}
	expect(id, "IN_PROGRESS", "halfway")
	byRef(id, "IN_PROGRESS")
	expect(id, "SCHEDULED", "halfway")
	byRef(id, "FAILED")
	expect(id, "FAILED", "halfway")

	runReason := func(id, taskID, reason string) {
		t.Helper()
		wf := c.awaitStatus(id, "FAILED")
		if want := "Task " + taskID + " failed with status: FAILED and reason: '" + reason + "'"; wf.ReasonForIncompletion != want {
			t.Errorf("run %s: reasonForIncompletion %q, want %q", id, wf.ReasonForIncompletion, want)
		}
	}
	runReason(id, task, "halfway")

	id = c.start("rsn_flow")
	task = poll(id)
	byRef(id, "FAILED")
	expect(id, "FAILED", "")
	// DeciderService formats the task's null reason as Java does.
	runReason(id, task, "null")

	id = c.start("rsn_flow")
	task = poll(id)
	c.update(id, task, "FAILED", "", nil)
	expect(id, "FAILED", "")
}

func firstReason(wf model.Workflow) string {
	if len(wf.Tasks) == 0 {
		return ""
	}
	return wf.Tasks[0].ReasonForIncompletion
}
