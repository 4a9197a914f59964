package server_test

import (
	"encoding/json"
	"fmt"
	"testing"
)

// TestRecordTaskDefinitionIsTheRunsOwn: a task record's taskDefinition
// (and its workflowTask's) is the definition the run started with, which
// the engine applies to it — not the registry's of the moment. Updating
// the task definition after the start, then deleting it, changes neither,
// while the run executes (the engine's state) nor after it ended (its
// stored snapshot), nor in the worker's polled Task; the definition's
// literal secret value is shown "***" in it.
func TestRecordTaskDefinitionIsTheRunsOwn(t *testing.T) {
	ts := newConductorServer(t, nil)
	const literal = "taskdef-literal-VALUE-7712"
	if st, _, body := ts.do(t, "PUT", "/api/secrets/td_key", literal); st != 200 {
		t.Fatalf("put secret: %d %s", st, body)
	}
	taskDef := func(retry int, desc string) string {
		return fmt.Sprintf(`{"name":"td_worker","retryCount":%d,"retryDelaySeconds":0,"timeoutSeconds":600,"responseTimeoutSeconds":300,`+
			`"ownerEmail":"a@example.com","description":%q,"inputTemplate":{"fixed":%q}}`, retry, desc, literal)
	}
	if st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", "["+taskDef(1, "as the run started")+"]"); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	def := `{"name":"td_own","version":1,"schemaVersion":2,"tasks":[{"name":"td_worker","taskReferenceName":"w","type":"SIMPLE"}]}`
	id := ts.registerStart(t, def, "td_own")
	// The worker's polled Task carries the definition as well.
	if st, _, body := ts.do(t, "PUT", "/api/metadata/taskdefs", taskDef(4, "changed before the poll")); st != 200 {
		t.Fatalf("update taskdef: %d %s", st, body)
	}
	polled := ts.rawPoll(t, "td_worker")
	wt, _ := polled["workflowTask"].(map[string]any)
	for what, v := range map[string]any{"taskDefinition": polled["taskDefinition"], "workflowTask.taskDefinition": wt["taskDefinition"]} {
		got, _ := v.(map[string]any)
		if got["description"] != "as the run started" || fmt.Sprint(got["retryCount"]) != "1" {
			t.Errorf("polled %s = %v; the run started with retryCount 1, %q", what, v, "as the run started")
		}
		if tmpl, _ := got["inputTemplate"].(map[string]any); tmpl["fixed"] != "***" {
			t.Errorf("polled %s.inputTemplate = %v, want the literal secret value masked", what, got["inputTemplate"])
		}
	}

	check := func(when string) {
		t.Helper()
		_, _, body := ts.do(t, "GET", "/api/workflow/"+id, "")
		var doc struct {
			Tasks []struct {
				TaskDefinition map[string]any `json:"taskDefinition"`
				WorkflowTask   struct {
					TaskDefinition map[string]any `json:"taskDefinition"`
				} `json:"workflowTask"`
			} `json:"tasks"`
			TaskDefinitions any `json:"taskDefinitions"`
		}
		if err := json.Unmarshal([]byte(body), &doc); err != nil || len(doc.Tasks) != 1 {
			t.Fatalf("%s: %v %s", when, err, body)
		}
		if doc.TaskDefinitions != nil {
			t.Errorf("%s: the Workflow has a taskDefinitions member Conductor's has not", when)
		}
		rec := doc.Tasks[0]
		for what, got := range map[string]map[string]any{"taskDefinition": rec.TaskDefinition, "workflowTask.taskDefinition": rec.WorkflowTask.TaskDefinition} {
			if got["description"] != "as the run started" || fmt.Sprint(got["retryCount"]) != "1" {
				t.Errorf("%s: %s = retryCount %v description %q; the run started with retryCount 1, %q",
					when, what, got["retryCount"], got["description"], "as the run started")
			}
			if tmpl, _ := got["inputTemplate"].(map[string]any); tmpl["fixed"] != "***" {
				t.Errorf("%s: %s.inputTemplate = %v, want the literal secret value masked", when, what, got["inputTemplate"])
			}
		}
	}
	check("running")
	if st, _, body := ts.do(t, "PUT", "/api/metadata/taskdefs", taskDef(5, "changed later")); st != 200 {
		t.Fatalf("update taskdef: %d %s", st, body)
	}
	check("running, the registry's definition updated")
	if st, _, body := ts.do(t, "DELETE", "/api/metadata/taskdefs/td_worker", ""); st != 200 && st != 204 {
		t.Fatalf("delete taskdef: %d %s", st, body)
	}
	check("running, the registry's definition deleted")
	res := fmt.Sprintf(`{"workflowInstanceId":%q,"taskId":%q,"status":"COMPLETED","outputData":{}}`, id, polled["taskId"])
	if st, _, body := ts.do(t, "POST", "/api/tasks", res); st != 200 {
		t.Fatalf("update task: %d %s", st, body)
	}
	waitRun(t, ts, id, "COMPLETED")
	check("ended")
}
