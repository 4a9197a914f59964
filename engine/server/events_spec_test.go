package server_test

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// TestEventTaskSpecInServe runs Conductor's EventTaskSpec
// (test-harness/…/EventTaskSpec.groovy, event_workflow_integration_test.json
// unmodified) against wfrun serve with no --event-sink, as Conductor runs
// it with its own queues: the EVENT task (sink "conductor") COMPLETED with
// event_produced, integration_task_1 SCHEDULED, then COMPLETED when polled
// and completed; with asyncComplete (the spec's modified definition) the
// EVENT task stays IN_PROGRESS until completed through the API. The
// messages wait in conductor:test_event_workflow:wait0 until a handler
// listens, as Conductor's queue keeps them; a run terminated while its
// asyncComplete EVENT task was IN_PROGRESS withdrew its message
// (Event.cancel acks it), so the handler gets the other two only.
func TestEventTaskSpecInServe(t *testing.T) {
	ts := newConductorServer(t, nil)
	defs, err := os.ReadFile("../../testdata/conductor/taskdefs/test_harness_taskdefs.json")
	if err != nil {
		t.Fatal(err)
	}
	if st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", string(defs)); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	registerConductorDef(t, ts, "event_workflow_integration_test.json")
	registerConductorDef(t, ts, "fulfill_order_workflow.json")
	start := func() string {
		t.Helper()
		st, _, id := ts.do(t, "POST", "/api/workflow/test_event_workflow?version=1", `{}`)
		if st != 200 {
			t.Fatalf("start: %d %s", st, id)
		}
		return id
	}
	pollAndComplete := func() {
		t.Helper()
		_, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/integration_task_1?workerid=task1.integration.worker&count=1&timeout=2000", "")
		var got []map[string]any
		if json.Unmarshal([]byte(body), &got) != nil || len(got) != 1 {
			t.Fatalf("poll integration_task_1: %s", body)
		}
		res, _ := json.Marshal(map[string]any{"taskId": got[0]["taskId"], "workflowInstanceId": got[0]["workflowInstanceId"],
			"status": "COMPLETED", "outputData": map[string]any{"op": "task1.done"}})
		if st, _, body := ts.do(t, "POST", "/api/tasks", string(res)); st != 200 {
			t.Fatalf("complete: %d %s", st, body)
		}
	}
	const queue = "conductor:test_event_workflow:wait0"

	// "Verify that a event based simple workflow is executed"
	first := start()
	d := ts.waitRun(t, first, "two tasks", func(d runDoc) bool { return len(d.Tasks) == 2 })
	if d.Status != "RUNNING" || d.Tasks[0].TaskType != "EVENT" || d.Tasks[0].Status != "COMPLETED" ||
		d.Tasks[0].Output["event_produced"] != queue || d.Tasks[1].TaskType != "integration_task_1" || d.Tasks[1].Status != "SCHEDULED" {
		t.Fatalf("after start: %+v", d)
	}
	pollAndComplete()
	d = ts.waitRun(t, first, "COMPLETED", func(d runDoc) bool { return d.Status == "COMPLETED" })
	if len(d.Tasks) != 2 || d.Tasks[1].Status != "COMPLETED" {
		t.Fatalf("end: %+v", d)
	}

	// "Test a workflow with event task that is asyncComplete"
	var def map[string]any
	_ = json.Unmarshal(readConductorFile(t, "event_workflow_integration_test.json"), &def)
	def["tasks"].([]any)[0].(map[string]any)["asyncComplete"] = true
	b, _ := json.Marshal([]any{def})
	if st, _, body := ts.do(t, "PUT", "/api/metadata/workflow", string(b)); st != 200 {
		t.Fatalf("update: %d %s", st, body)
	}
	second := start()
	// The EVENT task is IN_PROGRESS while it publishes; its output is
	// recorded once the message is out.
	d = ts.waitRun(t, second, "EVENT IN_PROGRESS, published", func(d runDoc) bool {
		return len(d.Tasks) == 1 && d.Tasks[0].Status == "IN_PROGRESS" && d.Tasks[0].Output["event_produced"] != nil
	})
	if d.Status != "RUNNING" || d.Tasks[0].Output["event_produced"] != queue {
		t.Fatalf("asyncComplete: %+v", d)
	}
	if st, _, body := ts.do(t, "POST", "/api/tasks/"+second+"/wait0/COMPLETED", `{}`); st != 200 {
		t.Fatalf("complete wait0: %d %s", st, body)
	}
	d = ts.waitRun(t, second, "two tasks", func(d runDoc) bool { return len(d.Tasks) == 2 })
	if d.Tasks[0].Status != "COMPLETED" || d.Tasks[1].Status != "SCHEDULED" {
		t.Fatalf("after the async completion: %+v", d)
	}
	pollAndComplete()
	ts.waitRun(t, second, "COMPLETED", func(d runDoc) bool { return d.Status == "COMPLETED" })

	// Terminated while its asyncComplete EVENT task is IN_PROGRESS.
	third := start()
	ts.waitRun(t, third, "EVENT IN_PROGRESS", func(d runDoc) bool { return len(d.Tasks) == 1 && d.Tasks[0].Status == "IN_PROGRESS" })
	if st, _, body := ts.do(t, "DELETE", "/api/workflow/"+third+"?reason=stop", ""); st != 200 {
		t.Fatalf("terminate: %d %s", st, body)
	}
	ts.waitRun(t, third, "TERMINATED", func(d runDoc) bool { return d.Status == "TERMINATED" })

	handler := `{"name":"fulfil_events","event":"` + queue + `","active":true,"actions":[{"action":"start_workflow",
	  "start_workflow":{"name":"fulfill_order","correlationId":"${workflowInstanceId}","input":{"orderId":"${workflowInstanceId}"}}}]}`
	if st, _, body := ts.do(t, "POST", "/api/event", handler); st != 200 {
		t.Fatalf("handler: %d %s", st, body)
	}
	count := func(id string) int {
		_, _, body := ts.do(t, "GET", "/api/workflow/fulfill_order/correlated/"+id+"?includeClosed=true", "")
		var runs []any
		_ = json.Unmarshal([]byte(body), &runs)
		return len(runs)
	}
	for deadline := time.Now().Add(10 * time.Second); count(first)+count(second) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the waiting messages were not handled:\n%s", ts.logs.String())
		}
	}
	time.Sleep(time.Second)
	if n := count(third); n != 0 {
		t.Errorf("the terminated run's withdrawn message started %d runs", n)
	}
	if strings.Count(ts.logs.String(), `"handler":"fulfil_events"`) != 2 {
		t.Errorf("the handler ran %d times, want 2", strings.Count(ts.logs.String(), `"handler":"fulfil_events"`))
	}
}
