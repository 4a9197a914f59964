package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestWaitEndedFromThePendingTaskKeepsItsOutput: Conductor builds the
// update of a signal (TaskServiceImpl.signalTask) and of an update by
// reference (updateTask(workflowId, taskRefName, …)) from the pending
// task, TaskResult(pending): its outputData with the body's members put
// over it. So a WAIT an update IN_PROGRESS gave {p, q} ends, signalled
// or completed by reference (the Go client) with {q, by}, with p, the
// body's q and by.
func TestWaitEndedFromThePendingTaskKeepsItsOutput(t *testing.T) {
	c := newE2EClient(t, nil)
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", `{"name":"wpo_flow","version":1,"schemaVersion":2,"tasks":[
	  {"name":"wpo","taskReferenceName":"wpo","type":"WAIT"}]}`); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	for _, how := range []string{"signal", "by reference"} {
		t.Run(how, func(t *testing.T) {
			id := c.start("wpo_flow")
			task := c.awaitActive(id, "wpo").TaskId
			body, _ := json.Marshal(map[string]any{"taskId": task, "workflowInstanceId": id, "status": "IN_PROGRESS",
				"outputData": map[string]any{"p": "half", "q": "first"}})
			if st, _, out := c.ts.do(t, "POST", "/api/tasks", string(body)); st != 200 {
				t.Fatalf("IN_PROGRESS update: %d %s", st, out)
			}
			end := map[string]any{"q": "second", "by": how}
			if how == "signal" {
				b, _ := json.Marshal(end)
				if st, _, out := c.ts.do(t, "POST", "/api/tasks/"+id+"/COMPLETED/signal", string(b)); st != 200 {
					t.Fatalf("signal: %d %s", st, out)
				}
			} else if _, _, err := c.tc.UpdateTaskByRefName(c.ctx, end, id, "wpo", "COMPLETED"); err != nil {
				t.Fatalf("COMPLETED update by reference: %v", err)
			}
			wf := c.awaitStatus(id, "COMPLETED")
			if got := fmt.Sprint(wf.Tasks[0].OutputData); got != fmt.Sprintf("map[by:%s p:half q:second]", how) {
				t.Fatalf("the WAIT's output %s, want p half, q second, by %s", got, how)
			}
		})
	}
}
