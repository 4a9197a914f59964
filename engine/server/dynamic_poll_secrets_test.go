package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A DYNAMIC task naming a worker's task is handed out as a SIMPLE task is:
// its `${workflow.secrets.*}` resolve when a worker's poll takes it, so the
// worker gets the value the secret has then (rotated while the task
// waited), and the server holds no resolved input while the task waits.
func TestDynamicWorkerTaskResolvesSecretsAtPoll(t *testing.T) {
	const oldV, newV = "dyn-old-Hq7Kd2Lm", "dyn-new-Vx4Nb8Rs"
	ts := newConductorServer(t, nil)
	putSecret(t, ts.store, "TOKEN", oldV)
	if st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", `[{"name":"dyn_task","retryCount":0,"timeoutSeconds":60,"responseTimeoutSeconds":30}]`); st != http.StatusOK {
		t.Fatalf("register task definition: %d %s", st, body)
	}
	def := `{"name":"dyn_poll","version":1,"schemaVersion":2,"tasks":[{"name":"dyn","taskReferenceName":"w","type":"DYNAMIC","dynamicTaskNameParam":"taskToExecute",
		"inputParameters":{"taskToExecute":"dyn_task","auth":"Bearer ${workflow.secrets.TOKEN}"}}]}`
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != http.StatusOK {
		t.Fatalf("register: %d %s", st, body)
	}
	if st, _, body := ts.do(t, "POST", "/api/workflow/dyn_poll", `{}`); st != http.StatusOK {
		t.Fatalf("start: %d %s", st, body)
	}
	time.Sleep(50 * time.Millisecond) // the task waits for a worker
	putSecret(t, ts.store, "TOKEN", newV)
	var polled []map[string]any
	for deadline := time.Now().Add(10 * time.Second); len(polled) == 0; {
		st, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/dyn_task?workerid=w1&count=1&timeout=200", "")
		if st != http.StatusOK || json.Unmarshal([]byte(body), &polled) != nil {
			t.Fatalf("poll: %d %s", st, body)
		}
		if len(polled) == 0 && time.Now().After(deadline) {
			t.Fatal("no dyn_task to poll")
		}
	}
	in, _ := polled[0]["inputData"].(map[string]any)
	if in["auth"] != "Bearer "+newV {
		t.Fatalf("polled input %v: want the secret's value at the poll", in)
	}
	if strings.Contains(ts.logs.String(), newV) || strings.Contains(ts.logs.String(), oldV) {
		t.Fatal("a value in the server's log")
	}
}
