package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/server"
)

const simpleDef = `{"name":"one_simple","version":1,"schemaVersion":2,
 "tasks":[{"name":"slow_task","taskReferenceName":"work","type":"SIMPLE","inputParameters":{"k":"${workflow.input.k}"}}],
 "outputParameters":{"r":"${work.output.r}"}}`

// TestConductorBadRequests: malformed JSON, unknown definitions, oversize
// bodies and unknown tasks get Conductor's error shape; nothing panics.
func TestConductorBadRequests(t *testing.T) {
	ts := newConductorServer(t, nil, server.WithMaxBody(64<<10))
	for _, tc := range []struct {
		method, path, body string
		status             int
		msg                string
	}{
		{"POST", "/api/metadata/workflow", `{"name":`, 400, "malformed JSON"},
		{"POST", "/api/metadata/workflow", `{"name":"bad","schemaVersion":2,"tasks":[{"name":"x","type":"NO_SUCH_TYPE","taskReferenceName":"x"}]}`, 400, "NO_SUCH_TYPE"},
		{"POST", "/api/metadata/workflow", `{"name":"../etc","version":1,"schemaVersion":2,"tasks":[]}`, 400, "definition name"},
		{"GET", "/api/metadata/workflow/nope", "", 404, "not found"},
		{"POST", "/api/workflow", `{"name":"nope"}`, 404, "No such workflow defined"},
		{"POST", "/api/workflow", `[1,2]`, 400, "StartWorkflowRequest"},
		{"POST", "/api/workflow/nope", `{}`, 404, "No such workflow found"},
		{"POST", "/api/workflow/one_simple", `{"k":`, 400, "malformed JSON"},
		{"GET", "/api/workflow/no-such-run", "", 404, "workflow not found"},
		{"POST", "/api/tasks", `{"taskId":"nope","status":"COMPLETED"}`, 404, "not in progress"},
		{"POST", "/api/tasks", `{"status":"COMPLETED"}`, 400, "taskId"},
		{"POST", "/api/tasks/update-v2", `not json`, 400, "malformed JSON"},
		{"POST", "/api/metadata/taskdefs", `{"name":"x"}`, 400, "array"},
		{"POST", "/api/workflow/one_simple", `{"big":"` + strings.Repeat("x", 70<<10) + `"}`, 413, "larger than"},
		{"DELETE", "/api/workflow/x", "", 404, "workflow not found"},
		{"PUT", "/api/workflow/x/pause", "", 404, "workflow not found"},
	} {
		if tc.path == "/api/workflow/one_simple" {
			if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
				t.Fatalf("register: %d %s", st, body)
			}
		}
		st, ct, body := ts.do(t, tc.method, tc.path, tc.body)
		var shape struct {
			Status  int    `json:"status"`
			Message string `json:"message"`
		}
		if st != tc.status || ct != "application/json" || json.Unmarshal([]byte(body), &shape) != nil || shape.Status != tc.status || !strings.Contains(shape.Message, tc.msg) {
			t.Errorf("%s %s: %d %s %s; want %d with a message about %q", tc.method, tc.path, st, ct, body, tc.status, tc.msg)
		}
	}
	// An idle batch poll is 200 [] (never 204 or an empty body).
	start := time.Now()
	st, ct, body := ts.do(t, "GET", "/api/tasks/poll/batch/idle_task?count=5&timeout=150", "")
	if st != 200 || ct != "application/json" || body != "[]" || time.Since(start) < 140*time.Millisecond {
		t.Errorf("idle poll: %d %s %q after %s; want 200 [] after the timeout", st, ct, body, time.Since(start))
	}
}

// TestConductorRegisteredTaskDefRetries: a task definition registered
// through /api/metadata/taskdefs applies to the SIMPLE task of its name: a
// worker's FAILED answer is retried (retryCount 1), the second answer ends
// the run, and a bad definition is refused with a reason.
func TestConductorRegisteredTaskDefRetries(t *testing.T) {
	ts := newConductorServer(t, nil)
	if st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", `[{"name":"slow_task","retryLogic":"SOMETIMES"}]`); st != 400 || !strings.Contains(body, "retryLogic") {
		t.Errorf("bad taskdef: %d %s", st, body)
	}
	if st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", `[{"name":"slow_task","retryCount":1,"retryDelaySeconds":0}]`); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	if st, _, body := ts.do(t, "GET", "/api/metadata/taskdefs/slow_task", ""); st != 200 || !strings.Contains(body, `"retryCount":1`) {
		t.Errorf("get taskdef: %d %s", st, body)
	}
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, _, id := ts.do(t, "POST", "/api/workflow", `{"name":"one_simple","input":{"k":"v"}}`)
	_, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/slow_task?count=1&timeout=5000", "")
	var got []map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != 1 {
		t.Fatalf("poll: %s", body)
	}
	// update-v2 answers the next slow_task, here the retry of the one that
	// failed (Conductor's TaskResource polls after the update); after the
	// last one, 204.
	answer := func(task map[string]any, status string, want int) map[string]any {
		res, _ := json.Marshal(map[string]any{"taskId": task["taskId"], "workflowInstanceId": id, "status": status,
			"reasonForIncompletion": "flaky", "outputData": map[string]any{"r": status}})
		st, _, body := ts.do(t, "POST", "/api/tasks/update-v2", string(res))
		if st != want {
			t.Fatalf("update-v2 %s: %d %s, want %d", status, st, body, want)
		}
		var next map[string]any
		if want == 200 {
			if err := json.Unmarshal([]byte(body), &next); err != nil {
				t.Fatal(err)
			}
		}
		return next
	}
	retry := answer(got[0], "FAILED", 200)
	if retry["referenceTaskName"] != "work" || retry["retryCount"] != float64(1) || retry["retriedTaskId"] != got[0]["taskId"] {
		t.Fatalf("update-v2's next task: %v, want the retry of %v", retry, got[0]["taskId"])
	}
	answer(retry, "COMPLETED", 204)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, _, body := ts.do(t, "GET", "/api/workflow/"+id, "")
		if strings.Contains(body, `"status":"COMPLETED","taskToDomain"`) || !strings.Contains(body, `"status":"RUNNING"`) {
			if !strings.Contains(body, `"r":"COMPLETED"`) || strings.Count(body, `"referenceTaskName":"work"`) != 2 {
				t.Errorf("run: %s", body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done: %s", body)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConductorTerminate: DELETE /api/workflow/{id} ends a run waiting for a
// worker as TERMINATED; the waiting task leaves the queue; a second
// terminate is a conflict.
func TestConductorTerminate(t *testing.T) {
	ts := newConductorServer(t, nil)
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, _, id := ts.do(t, "POST", "/api/workflow/one_simple", `{"k":"v"}`)
	if st, _, body := ts.do(t, "DELETE", "/api/workflow/"+id+"?reason=no+longer+needed", ""); st != 200 {
		t.Fatalf("terminate: %d %s", st, body)
	}
	_, _, body := ts.do(t, "GET", "/api/workflow/"+id, "")
	if !strings.Contains(body, `"status":"TERMINATED"`) || !strings.Contains(body, "no longer needed") {
		t.Errorf("after terminate: %s", body)
	}
	if _, _, got := ts.do(t, "GET", "/api/tasks/poll/batch/slow_task?count=1&timeout=200", ""); got != "[]" {
		t.Errorf("poll after terminate: %s", got)
	}
	if st, _, body := ts.do(t, "DELETE", "/api/workflow/"+id, ""); st != 409 {
		t.Errorf("second terminate: %d %s", st, body)
	}
}

// TestConductorPauseResume: a paused run schedules nothing new; resumed, it
// goes on with the worker's answer. A run that is not PAUSED is not resumed:
// Conductor's IllegalStateException, a 500 not retryable, in its words.
func TestConductorPauseResume(t *testing.T) {
	ts := newConductorServer(t, nil)
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, _, id := ts.do(t, "POST", "/api/workflow/one_simple", `{"k":"v"}`)
	notPaused := func(status string) {
		t.Helper()
		st, _, body := ts.do(t, "PUT", "/api/workflow/"+id+"/resume", "")
		var e map[string]any
		if err := json.Unmarshal([]byte(body), &e); err != nil || st != 500 || e["status"] != 500.0 || e["retryable"] != false ||
			e["message"] != "The workflow "+id+" is not PAUSED so cannot resume. Current status is "+status {
			t.Errorf("resume of a %s run: %d %s", status, st, body)
		}
	}
	notPaused("RUNNING")
	if st, _, body := ts.do(t, "PUT", "/api/workflow/"+id+"/pause", ""); st != 200 {
		t.Fatalf("pause: %d %s", st, body)
	}
	if _, _, body := ts.do(t, "GET", "/api/workflow/"+id+"/status", ""); !strings.Contains(body, `"PAUSED"`) {
		t.Errorf("after pause: %s", body)
	}
	if st, _, body := ts.do(t, "PUT", "/api/workflow/"+id+"/resume", ""); st != 204 {
		t.Fatalf("resume: %d %s", st, body)
	}
	_, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/slow_task?count=1&timeout=5000", "")
	var got []map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != 1 {
		t.Fatalf("poll: %s", body)
	}
	upd, _ := json.Marshal(map[string]any{"taskId": got[0]["taskId"], "workflowInstanceId": id, "status": "COMPLETED", "outputData": map[string]any{"r": "ok"}})
	if st, _, body := ts.do(t, "POST", "/api/tasks", string(upd)); st != 200 {
		t.Fatalf("update: %d %s", st, body)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, _, body = ts.do(t, "GET", "/api/workflow/"+id+"/status?includeOutput=true", "")
		if strings.Contains(body, `"COMPLETED"`) || time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(body, `"COMPLETED"`) || !strings.Contains(body, `"r":"ok"`) {
		t.Errorf("after resume: %s", body)
	}
	notPaused("COMPLETED")
}

// TestConductorRerunFromTask: POST /api/workflow/{id}/rerun with
// reRunFromTaskId schedules that task again and the run completes with its
// new output; replacing the input is refused, not ignored.
func TestConductorRerunFromTask(t *testing.T) {
	ts := newConductorServer(t, nil)
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, _, id := ts.do(t, "POST", "/api/workflow/one_simple", `{"k":"v"}`)
	complete := func(r string) {
		t.Helper()
		_, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/slow_task?count=1&timeout=5000", "")
		var got []map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != 1 {
			t.Fatalf("poll: %s", body)
		}
		upd, _ := json.Marshal(map[string]any{"taskId": got[0]["taskId"], "workflowInstanceId": id, "status": "COMPLETED", "outputData": map[string]any{"r": r}})
		if st, _, body := ts.do(t, "POST", "/api/tasks", string(upd)); st != 200 {
			t.Fatalf("update: %d %s", st, body)
		}
	}
	waitFor := func(want string) map[string]any {
		t.Helper()
		var doc map[string]any
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			_, _, body := ts.do(t, "GET", "/api/workflow/"+id, "")
			doc = nil
			_ = json.Unmarshal([]byte(body), &doc)
			if strings.Contains(body, want) || time.Now().After(deadline) {
				if !strings.Contains(body, want) {
					t.Fatalf("want %s: %s", want, body)
				}
				return doc
			}
		}
	}
	complete("first")
	doc := waitFor(`"r":"first"`)
	tasks, _ := doc["tasks"].([]any)
	if len(tasks) != 1 {
		t.Fatalf("tasks: %v", tasks)
	}
	taskID, _ := tasks[0].(map[string]any)["taskId"].(string)
	if st, _, body := ts.do(t, "POST", "/api/workflow/"+id+"/rerun", `{"reRunFromWorkflowId":"`+id+`","reRunFromTaskId":"`+taskID+`"}`); st != 200 || body != id {
		t.Fatalf("rerun: %d %s", st, body)
	}
	complete("second")
	waitFor(`"r":"second"`)
}
