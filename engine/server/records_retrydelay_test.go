package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestWorkerTaskRetryDelayRecords: Conductor's DeciderService.retry sets a
// retried task's startDelayInSeconds and callbackAfterSeconds to the
// retry's delay, a worker (SIMPLE) task's too, whatever the workflow
// task's own startDelay; the worker's poll resets callbackAfterSeconds
// only (ExecutionService.poll) and hands the retry out once the delay has
// passed. Through serve with the engine's clock: a SIMPLE task with
// startDelay 7 and no task definition (the ad-hoc one: retryCount 3,
// FIXED, retryDelaySeconds 60) fails twice; each retry's record (GET
// /api/workflow/{id}, GET /api/tasks/{taskId}) shows startDelayInSeconds
// 60 and callbackAfterSeconds 60, its polled Task startDelayInSeconds 60
// and callbackAfterSeconds 0, its record once polled the same.
func TestWorkerTaskRetryDelayRecords(t *testing.T) {
	s := newE2TServer(t)
	ts := s.conductorServer
	def := `{"name":"retry_delay_wf","schemaVersion":2,"ownerEmail":"test@harness.com",
	 "tasks":[{"name":"retry_delay_task","taskReferenceName":"t0","type":"SIMPLE","startDelay":7}]}`
	id := ts.registerStart(t, def, "retry_delay_wf")
	type record struct {
		TaskID     string `json:"taskId"`
		Status     string `json:"status"`
		RetryCount int    `json:"retryCount"`
		Callback   int64  `json:"callbackAfterSeconds"`
		StartDelay int64  `json:"startDelayInSeconds"`
	}
	read := func(n int, status string) []record {
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
			if wf.Status == "RUNNING" && len(wf.Tasks) == n && wf.Tasks[n-1].Status == status {
				return wf.Tasks
			}
			if time.Now().After(deadline) {
				t.Fatalf("want RUNNING with %d tasks, the last %s: %s", n, status, body)
			}
		}
	}
	task := func(taskID string) record {
		t.Helper()
		st, _, body := ts.do(t, "GET", "/api/tasks/"+taskID, "")
		var r record
		if err := json.Unmarshal([]byte(body), &r); st != 200 || err != nil {
			t.Fatalf("GET /api/tasks/%s: %d %v %s", taskID, st, err, body)
		}
		return r
	}
	want := func(what string, r record, status string, startDelay, callback int64) {
		t.Helper()
		if r.Status != status || r.StartDelay != startDelay || r.Callback != callback {
			t.Errorf("%s: %s startDelayInSeconds %d callbackAfterSeconds %d; want %s %d %d",
				what, r.Status, r.StartDelay, r.Callback, status, startDelay, callback)
		}
	}

	recs := read(1, "SCHEDULED")
	want("first attempt", recs[0], "SCHEDULED", 7, 0)
	s.clock.Advance(7 * time.Second) // its startDelay
	polled := ts.rawPoll(t, "retry_delay_task")
	for n := 2; n <= 3; n++ {
		res := fmt.Sprintf(`{"workflowInstanceId":%q,"taskId":%q,"status":"FAILED","reasonForIncompletion":"worker failed"}`, id, polled["taskId"])
		if st, _, body := ts.do(t, "POST", "/api/tasks", res); st != 200 {
			t.Fatalf("update task: %d %s", st, body)
		}
		recs = read(n, "SCHEDULED")
		retry := recs[n-1]
		if retry.RetryCount != n-1 {
			t.Fatalf("records %+v, want retry %d last", recs, n-1)
		}
		what := fmt.Sprintf("retry %d", n-1)
		want(what+" in the run", retry, "SCHEDULED", 60, 60)
		want(what+" by id", task(retry.TaskID), "SCHEDULED", 60, 60)
		want(what+"'s failed attempt", recs[n-2], "FAILED", recs[n-2].StartDelay, 0)

		s.clock.Advance(60 * time.Second)
		polled = ts.rawPoll(t, "retry_delay_task")
		if polled["taskId"] != retry.TaskID {
			t.Fatalf("polled %v, want %s", polled["taskId"], retry.TaskID)
		}
		if fmt.Sprint(polled["startDelayInSeconds"], " ", polled["callbackAfterSeconds"]) != "60 0" {
			t.Errorf("%s polled: startDelayInSeconds %v callbackAfterSeconds %v; want 60 0",
				what, polled["startDelayInSeconds"], polled["callbackAfterSeconds"])
		}
		want(what+" polled, by id", task(retry.TaskID), "IN_PROGRESS", 60, 0)
	}
}
