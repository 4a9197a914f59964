package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestSyncSystemTaskRetryRecords: a synchronous system task's retry is
// scheduled and executed by Conductor's decider at once. DeciderService
// .retry makes it SCHEDULED with the retry's delay as startDelayInSeconds
// and callbackAfterSeconds (retryCount + 1, retriedTaskId the failed
// attempt), and WorkflowExecutor.decide executes every synchronous system
// task it has just scheduled (executeSyncSystemTaskWithSecrets) without
// looking at that delay. A JSON_JQ_TRANSFORM whose query fails (FAILED,
// retryable), registered with retryCount 2 and retryDelaySeconds 5: the
// run is FAILED with three attempts without the clock moving, each retry
// showing its 5 s.
func TestSyncSystemTaskRetryRecords(t *testing.T) {
	s := newE2TServer(t)
	s.rawTaskDef(t, map[string]any{"name": "jq_fails", "retryCount": 2, "retryDelaySeconds": 5, "ownerEmail": "a@b.c"})
	def := `{"name":"sync_retry","schemaVersion":2,"ownerEmail":"a@b.c","tasks":[
	 {"name":"jq_fails","taskReferenceName":"jq","type":"JSON_JQ_TRANSFORM","inputParameters":{"queryExpression":"error(\"boom\")"}}]}`
	id := s.registerStart(t, def, "sync_retry")
	type record struct {
		TaskID        string `json:"taskId"`
		Status        string `json:"status"`
		RetryCount    int    `json:"retryCount"`
		RetriedTaskID string `json:"retriedTaskId"`
		Callback      int64  `json:"callbackAfterSeconds"`
		StartDelay    int64  `json:"startDelayInSeconds"`
		Retried       bool   `json:"retried"`
	}
	var wf struct {
		Status string   `json:"status"`
		Tasks  []record `json:"tasks"`
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, _, body := s.do(t, "GET", "/api/workflow/"+id, "")
		if err := json.Unmarshal([]byte(body), &wf); err != nil {
			t.Fatalf("%v: %s", err, body)
		}
		if wf.Status != "RUNNING" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("still RUNNING without the clock moving: %s", body)
		}
	}
	if wf.Status != "FAILED" || len(wf.Tasks) != 3 {
		t.Fatalf("run %s with %+v, want FAILED after 3 attempts", wf.Status, wf.Tasks)
	}
	for i, r := range wf.Tasks {
		want := record{TaskID: r.TaskID, Status: "FAILED", RetryCount: i, Retried: i < 2}
		if i > 0 {
			want.RetriedTaskID, want.Callback, want.StartDelay = wf.Tasks[i-1].TaskID, 5, 5
		}
		if r != want {
			t.Errorf("attempt %d: %s, want %s", i, fmt.Sprintf("%+v", r), fmt.Sprintf("%+v", want))
		}
	}
}
