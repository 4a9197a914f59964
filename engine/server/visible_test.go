package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/interpolate"
)

// A system task that keeps running in one serve process shows in another's
// GET /api/workflow/{id} (both on one Redis run store): SCHEDULED with its
// start time while its request is out, as Conductor shows an async system
// task while its start() runs (AsyncSystemTaskExecutor persists the start
// time and leaves the status; HttpTask.start makes the call), and its
// stored input (the secret reference kept, the value nowhere), then
// COMPLETED.
func TestRunningTaskShownByAnotherServer(t *testing.T) {
	const value = "tok-serve-shown-31f7"
	release, out := make(chan struct{}), make(chan struct{}, 1)
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case out <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(slow.Close)
	released := false
	t.Cleanup(func() {
		if !released {
			close(release)
		}
	})
	ss := newSharedServers(t, engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
		return interpolate.MapSecrets{"api_token": json.RawMessage(`"` + value + `"`)}
	}))
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	def := `{"name":"slow_http","version":1,"schemaVersion":2,"tasks":[{"name":"call","taskReferenceName":"call","type":"HTTP",
	  "inputParameters":{"http_request":{"uri":"` + slow.URL + `/x","method":"GET","headers":{"Authorization":"Bearer ${workflow.secrets.api_token}"}}}}]}`
	if st, _, body := a.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	st, _, id := a.do(t, "POST", "/api/workflow/slow_http", `{}`)
	if st != 200 || id == "" {
		t.Fatalf("start: %d %s", st, id)
	}
	type task struct {
		Ref       string `json:"referenceTaskName"`
		Status    string `json:"status"`
		StartTime int64  `json:"startTime"`
		Input     struct {
			Request struct {
				Headers map[string]string `json:"headers"`
			} `json:"http_request"`
		} `json:"inputData"`
	}
	view := func(s *testServer) (string, []task) {
		_, _, body := s.do(t, "GET", "/api/workflow/"+id, "")
		if strings.Contains(body, value) {
			t.Fatalf("GET /api/workflow/%s shows the secret value: %s", id, body)
		}
		var run struct {
			Status string `json:"status"`
			Tasks  []task `json:"tasks"`
		}
		_ = json.Unmarshal([]byte(body), &run)
		return run.Status, run.Tasks
	}
	select {
	case <-out:
	case <-time.After(10 * time.Second):
		t.Fatal("the HTTP task's request never reached the server")
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, tasks := view(b)
		if len(tasks) == 1 && tasks[0].Status != "SCHEDULED" {
			t.Fatalf("the HTTP task, its request out, as the other server shows it: %s %+v", status, tasks)
		}
		if len(tasks) == 1 && tasks[0].StartTime != 0 {
			if status != "RUNNING" || tasks[0].Ref != "call" || tasks[0].StartTime == 0 ||
				tasks[0].Input.Request.Headers["Authorization"] != "Bearer ${workflow.secrets.api_token}" {
				t.Fatalf("the running task as the other server shows it: %s %+v", status, tasks)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the running HTTP task never showed SCHEDULED with its start time on the other server: %s %+v", status, tasks)
		}
		time.Sleep(20 * time.Millisecond)
	}
	released = true
	close(release)
	waitView(t, b, id, `"status":"COMPLETED","taskToDomain"`)
	if status, tasks := view(b); status != "COMPLETED" || len(tasks) != 1 || tasks[0].Status != "COMPLETED" {
		t.Fatalf("after the call returned: %s %+v", status, tasks)
	}
}
