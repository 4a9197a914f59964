package engine_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine"
)

// TestTestRunTaskKeepsEmptyReason: a task of a test run (mocks) waiting
// for its completion from outside, updated FAILED with the empty
// reasonForIncompletion (Conductor's "", not null), keeps "" as any run's
// task does: the update is taken the same way everywhere a signal ends a
// task.
func TestTestRunTaskKeepsEmptyReason(t *testing.T) {
	const def = `{"name":"emptyreason","version":1,"schemaVersion":2,"tasks":[
	  {"name":"a","taskReferenceName":"a","type":"SIMPLE","taskDefinition":{"name":"a","retryCount":0}}]}`
	var offered atomic.Int32
	e := mockEngine(t, nil, &offered)
	var req testRequest
	req.WorkflowDef = json.RawMessage(def)
	wf := runTest(t, e, req)
	if got := taskList(wf); wf.Status != engine.StatusRunning || got != "a:a:SCHEDULED" {
		t.Fatalf("got %s %s", wf.Status, got)
	}
	if _, err := e.CompleteTaskWith(context.Background(), wf.WorkflowID, engine.Completion{Ref: "a", Status: engine.TaskFailed, EmptyReason: true}); err != nil {
		t.Fatal(err)
	}
	var task gjson.Result
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b, _ := e.Show(context.Background(), wf.WorkflowID)
		if task = gjson.GetBytes(b, "tasks.0"); task.Get("status").Str == engine.TaskFailed {
			break
		}
	}
	if task.Get("status").Str != engine.TaskFailed {
		t.Fatalf("task a: %s", task.Raw)
	}
	if r := task.Get("reasonForIncompletion"); !r.Exists() || r.Type != gjson.String || r.Str != "" {
		t.Errorf("task a reasonForIncompletion %s, want \"\" as the update gave it: %s", r.Raw, task.Raw)
	}
}
