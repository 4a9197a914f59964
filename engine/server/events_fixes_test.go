package server_test

import (
	"encoding/json"
	"testing"
	"time"
)

// tasksOf returns the tasks of a run view.
func tasksOf(doc map[string]any) []map[string]any {
	var out []map[string]any
	list, _ := doc["tasks"].([]any)
	for _, it := range list {
		if t, ok := it.(map[string]any); ok {
			out = append(out, t)
		}
	}
	return out
}

// TestEventCompleteTaskByIDOfEndedAttempt: complete_task by taskId
// completes THE task of that id; an attempt that already ended (FAILED,
// retried under a new id) is not updated, and its retry is left alone, as
// Conductor ignores an update of an ended task.
func TestEventCompleteTaskByIDOfEndedAttempt(t *testing.T) {
	es := newEventServer(t, false)
	es.mustAs(t, "", "POST", "/api/metadata/taskdefs", `[{"name":"approve_retry","retryCount":1,"retryDelaySeconds":0,"responseTimeoutSeconds":3600}]`)
	es.mustAs(t, "", "POST", "/api/metadata/workflow", `{"name":"wants_approval","version":1,"schemaVersion":2,"tasks":[
	  {"name":"approve_retry","taskReferenceName":"approve","type":"SIMPLE"}]}`)
	es.mustAs(t, "", "POST", "/api/metadata/workflow", emitDef)
	es.mustAs(t, "", "POST", "/api/event", `{"name":"by_id","event":"conductor:emit_action:byid","active":true,
	  "actions":[{"action":"complete_task","complete_task":{"taskId":"${taskId}","output":{"by":"${who}"}}}]}`)
	run := es.mustAs(t, "", "POST", "/api/workflow", `{"name":"wants_approval","input":{}}`)
	es.waitTasks(t, run)
	view := func() map[string]any {
		var doc map[string]any
		_ = json.Unmarshal([]byte(es.mustAs(t, "", "GET", "/api/workflow/"+run+"?includeTasks=true", "")), &doc)
		return doc
	}
	first := tasksOf(view())[0]["taskId"].(string)
	es.mustAs(t, "", "POST", "/api/tasks/"+run+"/approve/FAILED", `{}`)
	deadline := time.Now().Add(5 * time.Second)
	for len(tasksOf(view())) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no retry of approve: %v", view())
		}
		time.Sleep(10 * time.Millisecond)
	}
	input, _ := json.Marshal(map[string]any{"q": "byid", "who": "bob", "taskId": first})
	es.mustAs(t, "", "POST", "/api/workflow", `{"name":"emit_action","input":`+string(input)+`}`)
	es.waitLog(t, "event handler action", "by_id", "complete_task")
	doc := view()
	list := tasksOf(doc)
	if doc["status"] != "RUNNING" || len(list) != 2 || list[0]["status"] != "FAILED" || list[1]["status"] != "SCHEDULED" {
		t.Errorf("an update of the ended attempt %s reached the run: %v, tasks %v", first, doc["status"], list)
	}
}
