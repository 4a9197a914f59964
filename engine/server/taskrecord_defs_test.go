package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestTaskRecordsCarryDefinitionLimits: the task definition's
// rateLimitPerFrequency / rateLimitFrequencyInSeconds and
// responseTimeoutSeconds are on the task records Conductor's mappers copy
// them to (SimpleTaskMapper: both limits and the response timeout, from a
// default TaskDef when none is registered; HTTPTaskMapper: the limits from
// the task's definition, the ad-hoc one MetadataMapperService gives a task
// with none registered included; the others: none, shown as 0), both on the
// polled Task and on the run's records (GET /api/workflow/{id},
// GET /api/tasks/{taskId}). A definition that sets only
// rateLimitPerFrequency has a frequency of 1 second, as TaskDef's getter
// gives it. A worker task's records also name the worker that polled it
// last and count the polls that handed it out (workerId, pollCount; an IN_PROGRESS
// update puts it back for another poll); the others have pollCount 0.
func TestTaskRecordsCarryDefinitionLimits(t *testing.T) {
	ts := newConductorServer(t, nil)
	echo := echoServer(t)
	taskDefs := `[
	  {"name":"limited_worker","rateLimitPerFrequency":5,"rateLimitFrequencyInSeconds":30,"responseTimeoutSeconds":120},
	  {"name":"limited_http","rateLimitPerFrequency":7},
	  {"name":"limited_inline","rateLimitPerFrequency":9,"rateLimitFrequencyInSeconds":3,"responseTimeoutSeconds":50}]`
	if st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", taskDefs); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	def := `{"name":"limits_on_records","version":1,"schemaVersion":2,"tasks":[
	  {"name":"limited_http","taskReferenceName":"call","type":"HTTP","inputParameters":{"http_request":{"uri":"` + echo.URL + `","method":"GET"}}},
	  {"name":"unregistered_http","taskReferenceName":"call2","type":"HTTP","inputParameters":{"http_request":{"uri":"` + echo.URL + `","method":"GET"}}},
	  {"name":"limited_inline","taskReferenceName":"calc","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}},
	  {"name":"limited_worker","taskReferenceName":"work","type":"SIMPLE"},
	  {"name":"unregistered_worker","taskReferenceName":"work2","type":"SIMPLE"}]}`
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	id := startByName(t, ts, "limits_on_records")
	type limits struct {
		Rate     *int   `json:"rateLimitPerFrequency"`
		Freq     *int   `json:"rateLimitFrequencyInSeconds"`
		Response *int64 `json:"responseTimeoutSeconds"`
		Ref      string `json:"referenceTaskName"`
		TaskID   string `json:"taskId"`
		Worker   string `json:"workerId"`
		Polls    *int   `json:"pollCount"`
	}
	show := func(l limits) string {
		v := func(p any) string {
			switch p := p.(type) {
			case *int:
				if p != nil {
					return fmt.Sprint(*p)
				}
			case *int64:
				if p != nil {
					return fmt.Sprint(*p)
				}
			}
			return "absent"
		}
		return v(l.Rate) + "/" + v(l.Freq) + "/" + v(l.Response)
	}
	poll := func(name, worker, status, want string) {
		t.Helper()
		st, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/"+name+"?workerid="+worker+"&count=1&timeout=5000", "")
		var got []limits
		if st != 200 || json.Unmarshal([]byte(body), &got) != nil || len(got) != 1 {
			t.Fatalf("poll %s: %d %s", name, st, body)
		}
		if show(got[0]) != want {
			t.Errorf("polled %s: rate/frequency/response timeout %s, want %s", name, show(got[0]), want)
		}
		res := `{"workflowInstanceId":"` + id + `","taskId":"` + got[0].TaskID + `","status":"` + status + `","outputData":{}}`
		if st, _, body := ts.do(t, "POST", "/api/tasks", res); st != 200 {
			t.Fatalf("update %s: %d %s", name, st, body)
		}
	}
	// An IN_PROGRESS update puts the task back; the next poll hands it out
	// again (Conductor counts both polls, and keeps the last worker).
	poll("limited_worker", "w0", "IN_PROGRESS", "5/30/120")
	poll("limited_worker", "w1", "COMPLETED", "5/30/120")
	poll("unregistered_worker", "w2", "COMPLETED", "0/1/3600")
	ts.waitRun(t, id, "COMPLETED", func(d runDoc) bool { return d.Status == "COMPLETED" })
	_, _, body := ts.do(t, "GET", "/api/workflow/"+id, "")
	var wf struct{ Tasks []limits }
	if err := json.Unmarshal([]byte(body), &wf); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"call": "7/1/0", "call2": "0/1/0", "calc": "0/0/0", "work": "5/30/120", "work2": "0/1/3600"}
	polls := map[string]string{"call": "-/0", "call2": "-/0", "calc": "-/0", "work": "w1/2", "work2": "w2/1"}
	for _, task := range wf.Tasks {
		if show(task) != want[task.Ref] {
			t.Errorf("record %s: rate/frequency/response timeout %s, want %s", task.Ref, show(task), want[task.Ref])
		}
		pollCount := "absent"
		if task.Polls != nil {
			pollCount = fmt.Sprint(*task.Polls)
		}
		if got := or(task.Worker) + "/" + pollCount; got != polls[task.Ref] {
			t.Errorf("record %s: workerId/pollCount %s, want %s", task.Ref, got, polls[task.Ref])
		}
		_, _, one := ts.do(t, "GET", "/api/tasks/"+task.TaskID, "")
		var got limits
		if json.Unmarshal([]byte(one), &got) != nil || show(got) != want[task.Ref] {
			t.Errorf("GET task %s: %s, want %s", task.Ref, one, want[task.Ref])
		}
	}
	if len(wf.Tasks) != len(want) {
		t.Errorf("%d tasks, want %d: %s", len(wf.Tasks), len(want), body)
	}
}
