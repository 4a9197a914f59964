package server_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestUpdateV2NextTaskNeedsPollScope: update-v2 answers the next task of
// the updated task's type, a poll. Completing a WAIT task by id needs what
// changing its run needs, not tasks:poll:<name>; a worker task of another
// run that has the WAIT's name (any name may be both) holds a resolved
// secret, and is handed only to a caller that may poll it: sam, who owns
// his run but holds no task scope, gets 204, and the worker task stays
// with its workers.
func TestUpdateV2NextTaskNeedsPollScope(t *testing.T) {
	const value = "next-task-SECRET-value-51d2"
	ts := newScopedServer(t)
	putSecret(t, ts.store, "api_key", value)
	const victimDef = `{"name":"victim","version":1,"schemaVersion":2,"tasks":[
  {"name":"hold","taskReferenceName":"work","type":"SIMPLE","inputParameters":{"token":"${workflow.secrets.api_key}"}}]}`
	if st, _, body := ts.as(t, "admin", "POST", "/api/metadata/workflow", victimDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	st, _, victim := ts.as(t, "admin", "POST", "/api/workflow/victim", `{}`)
	if st != 200 {
		t.Fatalf("start victim: %d %s", st, victim)
	}
	ts.waitFor(t, victim, "scheduled", func(s string) bool { return strings.Contains(s, " work:") && strings.HasSuffix(s, ":SCHEDULED") })

	st, _, own := ts.as(t, "sam", "POST", "/api/workflow/guarded", `{}`)
	if st != 200 {
		t.Fatalf("start as sam: %d %s", st, own)
	}
	ts.waitFor(t, own, "held at hold", func(s string) bool { return strings.Contains(s, " hold:") && strings.HasSuffix(s, ":IN_PROGRESS") })
	_, _, body := ts.as(t, "sam", "GET", "/api/workflow/"+own, "")
	var wf struct {
		Tasks []struct {
			TaskID string `json:"taskId"`
			Ref    string `json:"referenceTaskName"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(body), &wf); err != nil || len(wf.Tasks) == 0 || wf.Tasks[0].Ref != "hold" {
		t.Fatalf("sam's run: %v %s", err, body)
	}
	// sam may not poll the worker task.
	if st, _, body := ts.as(t, "sam", "GET", "/api/tasks/poll/batch/hold?count=1&timeout=100", ""); st != 403 {
		t.Fatalf("sam's poll: %d %s, want 403", st, body)
	}
	st, _, body = ts.as(t, "sam", "POST", "/api/tasks/update-v2",
		`{"workflowInstanceId":"`+own+`","taskId":"`+wf.Tasks[0].TaskID+`","status":"COMPLETED","outputData":{}}`)
	if strings.Contains(body, value) || strings.Contains(body, victim) {
		t.Fatalf("update-v2 of sam's WAIT handed sam the other run's worker task: %d %s", st, body)
	}
	if st != 204 {
		t.Errorf("update-v2 of sam's WAIT: %d %s, want 204", st, body)
	}
	ts.waitFor(t, own, "past hold", func(s string) bool { return strings.Contains(s, " later:") })
	// The worker task is still there for its workers.
	st, _, body = ts.as(t, "alice", "GET", "/api/tasks/poll/batch/hold?count=1&timeout=2000&workerid=w1", "")
	if st != 200 || !strings.Contains(body, victim) || !strings.Contains(body, value) {
		t.Errorf("alice's poll: %d %s, want the victim's task", st, body)
	}
}
