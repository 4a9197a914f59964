package server_test

import (
	"encoding/json"
	"testing"
	"time"
)

// TestSubWorkflowRetryDelayRecords: Conductor's DeciderService.retry
// stores a failed SUB_WORKFLOW task's retry at once, SCHEDULED, with the
// retry's delay as callbackAfterSeconds and startDelayInSeconds, and its
// queue hands it to the system task worker, which starts the child, once
// the delay has passed; callbackAfterSeconds stays on the record after
// that. Through serve with the engine's clock: a SUB_WORKFLOW task
// (retryCount 1, FIXED, retryDelaySeconds 30) whose child fails (a
// TERMINATE FAILED): the retry is read at once, SCHEDULED, naming no
// child, with both 30 (GET /api/workflow/{id}, GET /api/tasks/{taskId});
// once the clock has moved 30 s it runs its child, which fails the run,
// and still shows both 30.
func TestSubWorkflowRetryDelayRecords(t *testing.T) {
	s := newE2TServer(t)
	ts := s.conductorServer
	def := `{"name":"sub_retry_delay_wf","version":1,"schemaVersion":2,"ownerEmail":"test@harness.com","tasks":[
	 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","retryCount":1,
	  "taskDefinition":{"name":"sub","retryCount":1,"retryLogic":"FIXED","retryDelaySeconds":30},
	  "subWorkflowParam":{"name":"sub_retry_delay_child","workflowDefinition":{"name":"sub_retry_delay_child","version":1,"schemaVersion":2,
	   "tasks":[{"name":"stop","taskReferenceName":"stop","type":"TERMINATE","inputParameters":{"terminationStatus":"FAILED"}}]}}}]}`
	id := ts.registerStart(t, def, "sub_retry_delay_wf")
	type record struct {
		TaskID        string `json:"taskId"`
		Status        string `json:"status"`
		RetryCount    int    `json:"retryCount"`
		RetriedTaskID string `json:"retriedTaskId"`
		SubWorkflowID string `json:"subWorkflowId"`
		Scheduled     int64  `json:"scheduledTime"`
		Callback      int64  `json:"callbackAfterSeconds"`
		StartDelay    int64  `json:"startDelayInSeconds"`
	}
	read := func(runStatus, lastStatus string) []record {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			_, _, body := ts.do(t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
			var wf struct {
				Status string   `json:"status"`
				Tasks  []record `json:"tasks"`
			}
			if err := json.Unmarshal([]byte(body), &wf); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if wf.Status == runStatus && len(wf.Tasks) == 2 && wf.Tasks[1].Status == lastStatus {
				return wf.Tasks
			}
			if time.Now().After(deadline) {
				t.Fatalf("want %s with 2 tasks, the last %s: %s", runStatus, lastStatus, body)
			}
		}
	}
	recs := read("RUNNING", "SCHEDULED")
	retry := recs[1]
	if recs[0].Status != "FAILED" || retry.RetryCount != 1 || retry.RetriedTaskID != recs[0].TaskID || retry.SubWorkflowID != "" ||
		retry.Callback != 30 || retry.StartDelay != 30 {
		t.Fatalf("records %+v; want the FAILED attempt, then its retry SCHEDULED without a child, callbackAfterSeconds and startDelayInSeconds 30", recs)
	}
	var byID record
	if st, _, body := ts.do(t, "GET", "/api/tasks/"+retry.TaskID, ""); st != 200 || json.Unmarshal([]byte(body), &byID) != nil ||
		byID.Status != "SCHEDULED" || byID.Callback != 30 || byID.StartDelay != 30 {
		t.Fatalf("GET /api/tasks/%s: %d %s", retry.TaskID, st, body)
	}
	due := time.UnixMilli(retry.Scheduled).Add(30 * time.Second)
	for deadline := time.Now().Add(10 * time.Second); !s.clock.Pending(due); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the retry does not wait for its delay")
		}
	}
	s.clock.Advance(due.Sub(s.clock.Now()))
	recs = read("FAILED", "FAILED")
	if r := recs[1]; r.TaskID != retry.TaskID || r.SubWorkflowID == "" || r.Callback != 30 || r.StartDelay != 30 {
		t.Fatalf("the retry after its delay: %+v; want it FAILED with its child, callbackAfterSeconds and startDelayInSeconds 30", r)
	}
}
