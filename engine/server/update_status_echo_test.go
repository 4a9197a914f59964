package server_test

import (
	"strings"
	"testing"
	"time"
)

// TestTaskUpdateStatusNotEchoed: a task update's status is the caller's
// text, and a worker that mixes up its fields may send there the secret
// value its task was handed (registered with the run's masker, which the
// server's own masker does not hold). No answer of the update endpoints
// quotes it — POST /api/tasks, the update by reference (a worker's task,
// and a WAIT task completed from outside), the signal — and the log line
// of an update that came after its task ended does not either.
func TestTaskUpdateStatusNotEchoed(t *testing.T) {
	const value = "upd-status-SECRET-7c1e"
	ts := newConductorServer(t, nil)
	putSecret(t, ts.store, "api_key", value)
	const def = `{"name":"status_echo","version":1,"schemaVersion":2,"tasks":[
  {"name":"echo_worker","taskReferenceName":"work","type":"SIMPLE","inputParameters":{"token":"${workflow.secrets.api_key}"}},
  {"name":"hold","taskReferenceName":"hold","type":"WAIT","inputParameters":{"token":"${workflow.secrets.api_key}"}}]}`
	id := ts.registerStart(t, def, "status_echo")
	var polled []map[string]any
	for deadline := time.Now().Add(10 * time.Second); len(polled) == 0 && time.Now().Before(deadline); {
		polled = ts.pollRaw(t, "echo_worker", 500)
	}
	if len(polled) != 1 {
		t.Fatal("the worker task was never polled")
	}
	if in, _ := polled[0]["inputData"].(map[string]any); in["token"] != value {
		t.Fatalf("polled input %v: want the secret resolved", polled[0]["inputData"])
	}
	taskID, _ := polled[0]["taskId"].(string)
	check := func(what string, wantStatus, st int, body string) {
		t.Helper()
		if st != wantStatus {
			t.Errorf("%s: %d %s, want %d", what, st, body, wantStatus)
		}
		if strings.Contains(body, value) {
			t.Errorf("%s: the answer quotes the secret value: %s", what, body)
		}
	}
	st, _, body := ts.do(t, "POST", "/api/tasks", `{"workflowInstanceId":"`+id+`","taskId":"`+taskID+`","status":"`+value+`"}`)
	check("POST /api/tasks", 400, st, body)
	st, _, body = ts.do(t, "POST", "/api/tasks/update-v2", `{"workflowInstanceId":"`+id+`","taskId":"`+taskID+`","status":"`+value+`"}`)
	check("POST /api/tasks/update-v2", 400, st, body)
	st, _, body = ts.do(t, "POST", "/api/tasks/"+id+"/work/"+value, `{}`)
	check("update of a worker's task by reference", 400, st, body)
	st, _, body = ts.do(t, "POST", "/api/tasks/"+id+"/"+value+"/signal", `{}`)
	check("signal", 400, st, body)

	// The worker's task completes; the run waits in its WAIT task, which
	// resolved the secret as well.
	if st, _, body := ts.do(t, "POST", "/api/tasks", `{"workflowInstanceId":"`+id+`","taskId":"`+taskID+`","status":"COMPLETED","outputData":{}}`); st != 200 {
		t.Fatalf("update: %d %s", st, body)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, _, doc := ts.do(t, "GET", "/api/workflow/"+id, "")
		if strings.Contains(doc, `"referenceTaskName":"hold"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the WAIT task was never scheduled: %s", doc)
		}
	}
	st, _, body = ts.do(t, "POST", "/api/tasks/"+id+"/hold/"+value, `{}`)
	check("update of a WAIT task by reference", 400, st, body)
	// An answer for the worker's task, which ended: taken and ignored,
	// and logged.
	st, _, body = ts.do(t, "POST", "/api/tasks", `{"workflowInstanceId":"`+id+`","taskId":"`+taskID+`","status":"`+value+`"}`)
	check("late update", 200, st, body)
	for _, line := range strings.Split(ts.logs.String(), "\n") {
		if strings.Contains(line, value) && !strings.Contains(line, `"msg":"request"`) {
			t.Errorf("a log line quotes the secret value: %s", line)
		}
	}
}
