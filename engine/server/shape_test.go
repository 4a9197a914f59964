package server_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestTaskLogOfUnknownTaskIs204: GET /api/tasks/{id}/log answers 204 with
// no body for a task that does not exist, as Conductor answers an id
// without logs, and exactly so for a task the caller may not read.
func TestTaskLogOfUnknownTaskIs204(t *testing.T) {
	ts := newScopedServer(t)
	id := ts.startGuarded(t, false)
	_, rest, _ := strings.Cut(ts.snapshot(t, id), " hold:")
	taskID, _, _ := strings.Cut(rest, ":")
	for _, c := range []struct{ who, task string }{
		{"admin", "00000000-0000-0000-0000-000000000000"},
		{"carol", "00000000-0000-0000-0000-000000000000"},
		{"carol", taskID},
		{"anonymous", taskID},
	} {
		if st, _, body := ts.as(t, c.who, "GET", "/api/tasks/"+c.task+"/log", ""); st != http.StatusNoContent || body != "" {
			t.Errorf("%s GET log of %s: %d %q, want 204 and no body", c.who, c.task, st, body)
		}
	}
}

// TestRunNotFoundNamesTheRun: a route naming its run {workflowId} answers
// a missing run with its id, as the {id} routes do.
func TestRunNotFoundNamesTheRun(t *testing.T) {
	ts := newConductorServer(t, nil)
	const missing = "00000000-0000-0000-0000-000000000000"
	for _, path := range []string{
		"/api/tasks/" + missing + "/hold/COMPLETED/sync",
		"/api/workflow/" + missing + "/tasks",
	} {
		st, _, body := ts.do(t, "POST", path, `{}`)
		if strings.HasSuffix(path, "/tasks") {
			st, _, body = ts.do(t, "GET", path, "")
		}
		if st != http.StatusNotFound || !strings.Contains(body, "workflow not found: "+missing) {
			t.Errorf("%s: %d %s, want 404 naming %s", path, st, body, missing)
		}
	}
}
