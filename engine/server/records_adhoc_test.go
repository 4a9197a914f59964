package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"
	"time"
)

// TestConductorAdHocTaskDefinition is WorkflowAndTaskConfigurationSpec's
// "Test task def created if not exist" — a workflow whose SIMPLE task
// task_not_registered (ref t0) has no task definition starts RUNNING
// with the task scheduled — carried on to what Conductor's
// MetadataMapperService gives such a task: new TaskDef(name). The task's
// record and the worker's polled Task carry it (retryCount 3, FIXED,
// retryDelaySeconds 60, responseTimeoutSeconds 3600), and a failure is
// retried 60 s later on the engine's clock: the retry is SCHEDULED with
// callbackAfterSeconds 60 at once and handed to a worker only once the
// clock has moved 60 s.
func TestConductorAdHocTaskDefinition(t *testing.T) {
	s := newE2TServer(t)
	ts := s.conductorServer
	def := `{"name":"test_workflow","schemaVersion":2,"ownerEmail":"test@harness.com",
	 "tasks":[{"name":"task_not_registered","taskReferenceName":"t0","type":"SIMPLE"}]}`
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	st, _, id := ts.do(t, "POST", "/api/workflow/test_workflow?correlationId=workflow_taskdef_not_registered", `{}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	adHoc := func(what string, d any) {
		t.Helper()
		m, _ := d.(map[string]any)
		got := fmt.Sprint(m["name"], " ", m["retryCount"], " ", m["retryLogic"], " ", m["retryDelaySeconds"], " ",
			m["responseTimeoutSeconds"], " ", m["timeoutSeconds"], " ", m["timeoutPolicy"])
		if want := "task_not_registered 3 FIXED 60 3600 0 TIME_OUT_WF"; got != want {
			t.Errorf("%s: %v; want new TaskDef(name): %s", what, d, want)
		}
	}
	type record struct {
		TaskDefName    string         `json:"taskDefName"`
		Status         string         `json:"status"`
		RetryCount     int            `json:"retryCount"`
		Callback       int64          `json:"callbackAfterSeconds"`
		TaskDefinition map[string]any `json:"taskDefinition"`
		WorkflowTask   struct {
			TaskDefinition map[string]any `json:"taskDefinition"`
		} `json:"workflowTask"`
	}
	read := func(n int) []record {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			_, _, body := ts.do(t, "GET", "/api/workflow/"+id, "")
			var wf struct {
				Status string   `json:"status"`
				Tasks  []record `json:"tasks"`
			}
			if err := json.Unmarshal([]byte(body), &wf); err != nil {
				t.Fatalf("%v: %s", err, body)
			}
			if wf.Status == "RUNNING" && len(wf.Tasks) == n {
				return wf.Tasks
			}
			if time.Now().After(deadline) {
				t.Fatalf("want RUNNING with %d tasks: %s", n, body)
			}
		}
	}
	recs := read(1)
	if recs[0].TaskDefName != "task_not_registered" || recs[0].Status != "SCHEDULED" {
		t.Fatalf("task %+v, want task_not_registered SCHEDULED", recs[0])
	}
	adHoc("record taskDefinition", recs[0].TaskDefinition)
	adHoc("record workflowTask.taskDefinition", recs[0].WorkflowTask.TaskDefinition)

	polled := ts.rawPoll(t, "task_not_registered")
	adHoc("polled taskDefinition", polled["taskDefinition"])
	wt, _ := polled["workflowTask"].(map[string]any)
	adHoc("polled workflowTask.taskDefinition", wt["taskDefinition"])
	if fmt.Sprint(polled["responseTimeoutSeconds"]) != "3600" {
		t.Errorf("polled responseTimeoutSeconds %v, want the ad-hoc definition's 3600", polled["responseTimeoutSeconds"])
	}
	res := fmt.Sprintf(`{"workflowInstanceId":%q,"taskId":%q,"status":"FAILED","reasonForIncompletion":"worker failed"}`, id, polled["taskId"])
	if st, _, body := ts.do(t, "POST", "/api/tasks", res); st != 200 {
		t.Fatalf("update task: %d %s", st, body)
	}
	recs = read(2)
	if recs[0].Status != "FAILED" || recs[1].Status != "SCHEDULED" || recs[1].RetryCount != 1 || recs[1].Callback != 60 {
		t.Fatalf("records %+v, want the failed attempt and its retry SCHEDULED with callbackAfterSeconds 60", recs)
	}
	adHoc("retry's taskDefinition", recs[1].TaskDefinition)
	none := func(when string) {
		t.Helper()
		code, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/task_not_registered?workerid=w&count=1&timeout=100", "")
		if code != http.StatusOK || (body != "[]" && body != "[]\n") {
			t.Fatalf("%s: poll %d %s; want no task", when, code, body)
		}
	}
	none("at once")
	s.clock.Advance(60*time.Second - time.Millisecond)
	none("59.999 s later")
	s.clock.Advance(time.Millisecond)
	if again := ts.rawPoll(t, "task_not_registered"); fmt.Sprint(again["retryCount"]) != "1" {
		t.Fatalf("polled %v, want the retry (retryCount 1)", again)
	}
}
