package server_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/conductor-sdk/conductor-go/sdk/model"
)

// POST /api/tasks/update-v2 answers, as Conductor's TaskResource does, the
// next task of the same type (and domain) for the worker when the update
// ended its task, and 204 when none waits or the task goes on.
func TestUpdateV2HandsOutTheNextTask(t *testing.T) {
	ts := newConductorServer(t, nil)
	c := newSDK(t, ts.URL, taskFlow("v2_flow", "v2_task"))
	first := c.start(t, model.StartWorkflowRequest{Name: "v2_flow", Version: 1, Input: map[string]any{"n": 1}})
	c.waitSize(t, "v2_task", 1)
	second := c.start(t, model.StartWorkflowRequest{Name: "v2_flow", Version: 1, Input: map[string]any{"n": 2}})
	c.waitSize(t, "v2_task", 2)
	polled := c.poll(t, "v2_task", "", 1, 0)
	if len(polled) != 1 || polled[0].WorkflowInstanceId != first {
		t.Fatalf("polled %+v, want the first run's task", polled)
	}
	update := func(task model.Task, status string) (int, string) {
		b, _ := json.Marshal(map[string]any{"workflowInstanceId": task.WorkflowInstanceId, "taskId": task.TaskId,
			"status": status, "workerId": "w1", "outputData": map[string]any{"done": status}})
		code, _, body := ts.do(t, "POST", "/api/tasks/update-v2", string(b))
		return code, body
	}
	// Going on: no next task.
	if code, body := update(polled[0], "IN_PROGRESS"); code != http.StatusNoContent {
		t.Fatalf("IN_PROGRESS update: %d %s, want 204", code, body)
	}
	code, body := update(polled[0], "COMPLETED")
	if code != http.StatusOK {
		t.Fatalf("COMPLETED update: %d %s, want 200 and the next task", code, body)
	}
	var next model.Task
	if err := json.Unmarshal([]byte(body), &next); err != nil || next.WorkflowInstanceId != second || next.TaskDefName != "v2_task" || next.WorkerId != "w1" {
		t.Fatalf("next task %s (%v), want the second run's v2_task for w1", body, err)
	}
	if code, body := update(next, "COMPLETED"); code != http.StatusNoContent {
		t.Fatalf("last update: %d %s, want 204 (nothing waits)", code, body)
	}
	for _, id := range []string{first, second} {
		if st := waitStatus(t, c.wf, id, 10*time.Second); st.Status != "COMPLETED" {
			t.Fatalf("run %s: %s", id, st.Status)
		}
	}
}
