package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"
)

// TestRetryStartDelayRecords: a worker (SIMPLE) task with startDelay 7
// whose task definition retries it once after delay d (FIXED), failed
// twice, then its run retried (POST /api/workflow/{id}/retry).
// Conductor's DeciderService.retry sets the retry's startDelayInSeconds
// and callbackAfterSeconds to d, 0 included; the retry of the run
// (WorkflowExecutor's taskToBeRescheduled) copies the attempt it retries,
// its startDelayInSeconds with it, and sets callbackAfterSeconds 0. Each
// record (GET /api/workflow/{id}, GET /api/tasks/{taskId}) and polled
// Task shows them so: with d 0 the retries showed the workflow task's
// startDelay 7, and with d 60 the run's retry did.
func TestRetryStartDelayRecords(t *testing.T) {
	for _, delay := range []int64{0, 60} {
		t.Run(fmt.Sprintf("retryDelaySeconds %d", delay), func(t *testing.T) {
			s := newE2TServer(t)
			ts := s.conductorServer
			name := fmt.Sprintf("start_delay_task_%d", delay)
			s.rawTaskDef(t, map[string]any{"name": name, "retryCount": 1, "retryLogic": "FIXED", "retryDelaySeconds": delay,
				"ownerEmail": "test@harness.com"})
			def := fmt.Sprintf(`{"name":"start_delay_wf","schemaVersion":2,"ownerEmail":"test@harness.com",
			 "tasks":[{"name":%q,"taskReferenceName":"t0","type":"SIMPLE","startDelay":7}]}`, name)
			id := ts.registerStart(t, def, "start_delay_wf")
			type record struct {
				TaskID        string `json:"taskId"`
				Status        string `json:"status"`
				RetryCount    int    `json:"retryCount"`
				RetriedTaskID string `json:"retriedTaskId"`
				Callback      int64  `json:"callbackAfterSeconds"`
				StartDelay    int64  `json:"startDelayInSeconds"`
			}
			read := func(runStatus string, n int, status string) []record {
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
					if wf.Status == runStatus && len(wf.Tasks) == n && wf.Tasks[n-1].Status == status {
						return wf.Tasks
					}
					if time.Now().After(deadline) {
						t.Fatalf("want %s with %d tasks, the last %s: %s", runStatus, n, status, body)
					}
				}
			}
			want := func(what string, r record, startDelay, callback int64) {
				t.Helper()
				var byID record
				if st, _, body := ts.do(t, "GET", "/api/tasks/"+r.TaskID, ""); st != 200 || json.Unmarshal([]byte(body), &byID) != nil {
					t.Fatalf("GET /api/tasks/%s: %d %s", r.TaskID, st, body)
				}
				for _, got := range []record{r, byID} {
					if got.StartDelay != startDelay || got.Callback != callback {
						t.Errorf("%s: startDelayInSeconds %d callbackAfterSeconds %d; want %d %d", what, got.StartDelay, got.Callback, startDelay, callback)
					}
				}
			}
			fail := func(taskID string) {
				t.Helper()
				res := fmt.Sprintf(`{"workflowInstanceId":%q,"taskId":%q,"status":"FAILED","reasonForIncompletion":"worker failed"}`, id, taskID)
				if st, _, body := ts.do(t, "POST", "/api/tasks", res); st != 200 {
					t.Fatalf("update task: %d %s", st, body)
				}
			}
			poll := func(what, taskID string, startDelay int64) {
				t.Helper()
				polled := ts.rawPoll(t, name)
				if polled["taskId"] != taskID {
					t.Fatalf("%s: polled %v, want %s", what, polled["taskId"], taskID)
				}
				if fmt.Sprint(polled["startDelayInSeconds"], " ", polled["callbackAfterSeconds"]) != fmt.Sprint(startDelay, " 0") {
					t.Errorf("%s polled: startDelayInSeconds %v callbackAfterSeconds %v; want %d 0",
						what, polled["startDelayInSeconds"], polled["callbackAfterSeconds"], startDelay)
				}
			}

			recs := read("RUNNING", 1, "SCHEDULED")
			want("the first attempt", recs[0], 7, 0)
			s.clock.Advance(7 * time.Second)
			poll("the first attempt", recs[0].TaskID, 7)
			fail(recs[0].TaskID)
			recs = read("RUNNING", 2, "SCHEDULED")
			want("the retry", recs[1], delay, delay)
			s.clock.Advance(time.Duration(delay) * time.Second)
			poll("the retry", recs[1].TaskID, delay)
			fail(recs[1].TaskID)
			read("FAILED", 2, "FAILED")

			if st, _, body := ts.do(t, "POST", "/api/workflow/"+id+"/retry", ""); st != 204 && st != 200 {
				t.Fatalf("retry: %d %s", st, body)
			}
			recs = read("RUNNING", 3, "SCHEDULED")
			if recs[2].RetryCount != 2 || recs[2].RetriedTaskID != recs[1].TaskID {
				t.Fatalf("records %+v; want the retry of %s last", recs, recs[1].TaskID)
			}
			want("the run's retry", recs[2], delay, 0)
			poll("the run's retry", recs[2].TaskID, delay)
		})
	}
}
