package server_test

import (
	"encoding/json"
	"testing"
)

// TestWaitUpdatedInProgressByID: Conductor's updateTask takes an update
// IN_PROGRESS of a system task by its id (WorkflowExecutor.updateTask sets
// the TaskResult's status, outputData, reasonForIncompletion and
// callbackAfterSeconds, stores the task, and leaves a system task
// IN_PROGRESS, only a worker task going back to SCHEDULED). A WAIT or
// HUMAN so updated is stored IN_PROGRESS with them before the answer (a
// read right after it shows them), still waits, and a COMPLETED update by
// id then ends it with its own output.
func TestWaitUpdatedInProgressByID(t *testing.T) {
	for _, typ := range []string{"WAIT", "HUMAN"} {
		t.Run(typ, func(t *testing.T) {
			c := newE2EClient(t, nil)
			if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", `{"name":"wip_flow","version":1,"schemaVersion":2,"tasks":[
			  {"name":"wip","taskReferenceName":"wip","type":"`+typ+`"}]}`); st != 200 {
				t.Fatalf("register: %d %s", st, body)
			}
			id := c.start("wip_flow")
			task := c.awaitActive(id, "wip").TaskId
			update := func(status string, more map[string]any) {
				t.Helper()
				upd := map[string]any{"taskId": task, "workflowInstanceId": id, "status": status}
				for k, v := range more {
					upd[k] = v
				}
				body, _ := json.Marshal(upd)
				if st, _, out := c.ts.do(t, "POST", "/api/tasks", string(body)); st != 200 {
					t.Fatalf("%s update by id: %d %s", status, st, out)
				}
			}
			update("IN_PROGRESS", map[string]any{"outputData": map[string]any{"p": "half"}, "reasonForIncompletion": "halfway", "callbackAfterSeconds": 30})
			// Read at once: stored before the answer.
			tk := c.mustOnlyTaskByRef(id, "wip")
			if tk.Status != "IN_PROGRESS" || tk.OutputData["p"] != "half" || tk.ReasonForIncompletion != "halfway" || tk.CallbackAfterSeconds != 30 {
				t.Fatalf("after an IN_PROGRESS update: %s output %v reason %q callbackAfterSeconds %d; want IN_PROGRESS, p half, halfway, 30",
					tk.Status, tk.OutputData, tk.ReasonForIncompletion, tk.CallbackAfterSeconds)
			}
			update("COMPLETED", map[string]any{"outputData": map[string]any{"done": true}})
			wf := c.awaitStatus(id, "COMPLETED")
			if got := wf.Tasks[0]; got.Status != "COMPLETED" || got.OutputData["done"] != true || got.OutputData["p"] != nil {
				t.Fatalf("after a COMPLETED update: %s output %v; want COMPLETED with done only", got.Status, got.OutputData)
			}
		})
	}
}
