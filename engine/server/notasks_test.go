package server_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// A workflow without tasks: Conductor's metadata API refuses to register
// it and its start endpoint refuses it as an inline definition (both
// validate "WorkflowTask list cannot be empty"), while a SUB_WORKFLOW's
// inline definition without tasks starts and completes at once.
func TestConductorWorkflowWithoutTasks(t *testing.T) {
	ts := newConductorServer(t, nil)
	empty := `{"name":"empty_wf","version":1,"schemaVersion":2,"tasks":[]}`
	for _, tc := range []struct{ method, path, body string }{
		{"POST", "/api/metadata/workflow", empty},
		{"PUT", "/api/metadata/workflow", "[" + empty + "]"},
		{"POST", "/api/workflow", `{"name":"empty_wf","version":1,"workflowDef":` + empty + `}`},
	} {
		st, _, body := ts.do(t, tc.method, tc.path, tc.body)
		if st != 400 || !strings.Contains(body, "WorkflowTask list cannot be empty") {
			t.Errorf("%s %s: %d %s; want 400 naming the empty task list", tc.method, tc.path, st, body)
		}
	}
	if st, _, body := ts.do(t, "GET", "/api/metadata/workflow/empty_wf", ""); st != 404 {
		t.Fatalf("empty_wf was registered: %d %s", st, body)
	}
	parent := `{"name":"parent_of_empty","version":1,"schemaVersion":2,"tasks":[
	 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"empty_wf","version":1,
	   "workflowDefinition":` + empty + `}}]}`
	st, _, id := ts.do(t, "POST", "/api/workflow", `{"name":"parent_of_empty","workflowDef":`+parent+`}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	ts.waitRun(t, id, "COMPLETED", func(d runDoc) bool { return d.Status == "COMPLETED" })
	var doc struct {
		Tasks []struct {
			Status        string `json:"status"`
			SubWorkflowID string `json:"subWorkflowId"`
		} `json:"tasks"`
	}
	_, _, body := ts.do(t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
	if json.Unmarshal([]byte(body), &doc) != nil || len(doc.Tasks) != 1 || doc.Tasks[0].Status != "COMPLETED" || doc.Tasks[0].SubWorkflowID == "" {
		t.Fatalf("parent %s", body)
	}
	var child struct {
		Status string            `json:"status"`
		Reason string            `json:"reasonForIncompletion"`
		Tasks  []json.RawMessage `json:"tasks"`
	}
	_, _, body = ts.do(t, "GET", "/api/workflow/"+doc.Tasks[0].SubWorkflowID+"?includeTasks=true", "")
	if json.Unmarshal([]byte(body), &child) != nil || child.Status != "COMPLETED" || len(child.Tasks) != 0 || child.Reason != "No tasks found to be executed" {
		t.Fatalf("child %s", body)
	}
}
