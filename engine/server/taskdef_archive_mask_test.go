package server_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestEndedRunsTaskDefinitionsMasked: a value a run registers (an INLINE
// task's `_secrets`, from the run's input: no secret the server knows)
// that a user pasted into the registered definition of one of the run's
// tasks is not in the run's Workflow once it has ended and is archived
// (GET /api/workflow/{id}?includeTasks=true: its records' taskDefinition
// and workflowTask.taskDefinition come from the run's archived task
// definitions, masked as its workflow definition is).
func TestEndedRunsTaskDefinitionsMasked(t *testing.T) {
	ts := newConductorServer(t, nil)
	const v = "tok-srv-tdarch-5e1f0a9b77"
	td := `[{"name":"inl","retryCount":0,"ownerEmail":"a@example.com","description":"pasted ` + v + `","inputTemplate":{"token":"` + v + `"}}]`
	if st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", td); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	def := `{"name":"td_arch_srv","version":1,"schemaVersion":2,"tasks":[
	 {"name":"inl","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","v":"${workflow.input.v}","expression":"({_secrets: {t: $.v}})"}}]}`
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	st, _, id := ts.do(t, "POST", "/api/workflow/td_arch_srv", `{"v":"`+v+`"}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	waitRun(t, ts, id, "COMPLETED")
	_, _, body := ts.do(t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
	var doc struct {
		Tasks []struct {
			TaskDefinition map[string]any `json:"taskDefinition"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal([]byte(body), &doc); err != nil || len(doc.Tasks) != 1 || doc.Tasks[0].TaskDefinition["description"] != "pasted ***" {
		t.Fatalf("want the record's masked definition: %v %s", err, strings.ReplaceAll(body, v, "<value>"))
	}
	for _, f := range []string{v, v[3 : len(v)-3], v[:12], v[len(v)-12:]} {
		if strings.Contains(body, f) {
			t.Errorf("the ended run's Workflow holds the value (or a piece of it): %s", strings.ReplaceAll(body, f, "<piece>"))
		}
	}
	ts.assertNoLeak(t, v)
}
