package server_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/internal/testkit"
)

// TestWorkflowTestAPIAsyncEvent: POST /api/workflow/test with an
// asyncComplete EVENT and no mock for it answers the run with the EVENT
// published and IN_PROGRESS, as Conductor's decider publishes it when it
// schedules it and its test loop stops at it, unfinished without a mock.
// Completed by reference, the run goes on to its end; the message went
// out once.
func TestWorkflowTestAPIAsyncEvent(t *testing.T) {
	sink := &testkit.SyncBuffer{}
	ts := newConductorServerWith(t, nil, []engine.Option{engine.WithEventProvider("sqs", engine.NewWriterSink(sink))})
	body := `{"name":"asyncevent","workflowDef":{"name":"asyncevent","version":1,"schemaVersion":2,"tasks":[
	  {"name":"first","taskReferenceName":"first","type":"SIMPLE"},
	  {"name":"ev","taskReferenceName":"ev","type":"EVENT","sink":"sqs:orders","asyncComplete":true,"inputParameters":{"order":"${first.output.order}"}}]},
	  "taskRefToMockOutput":{"first":[{"output":{"order":42}}]}}`
	code, _, resp := ts.do(t, "POST", "/api/workflow/test", body)
	if code != http.StatusOK {
		t.Fatalf("POST /api/workflow/test: %d %s", code, resp)
	}
	got := decodeAnswer(t, resp)
	if got.Status != "RUNNING" || got.list() != "first:first:COMPLETED ev:EVENT:IN_PROGRESS" ||
		got.Tasks[1].Output["event_produced"] != "sqs:orders" {
		t.Fatalf("answer: %s %s %v", got.Status, got.list(), got.Tasks[1].Output)
	}
	if n := strings.Count(sink.String(), "\n"); n != 1 || !strings.Contains(sink.String(), `"order":42`) {
		t.Fatalf("published when the test answered: %q", sink.String())
	}
	if code, _, b := ts.do(t, "POST", "/api/tasks/"+got.WorkflowID+"/ev/COMPLETED", `{"acked":true}`); code != http.StatusOK {
		t.Fatalf("completing ev: %d %s", code, b)
	}
	var end testAnswer
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, _, view := ts.do(t, "GET", "/api/workflow/"+got.WorkflowID, "")
		if end = decodeAnswer(t, view); end.Status != "RUNNING" {
			break
		}
	}
	if end.Status != "COMPLETED" || end.list() != "first:first:COMPLETED ev:EVENT:COMPLETED" || end.Tasks[1].Output["acked"] != true {
		t.Fatalf("after the completion: %s %s %v", end.Status, end.list(), end.Tasks[1].Output)
	}
	if n := strings.Count(sink.String(), "\n"); n != 1 {
		t.Fatalf("%d messages published, want 1", n)
	}
}
