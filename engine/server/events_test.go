package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"
)

// Event handlers over Conductor's own queues, with the definitions of
// Conductor's event-driven cookbook (docs/devguide/cookbook/event-driven.md,
// testdata/conductor/SOURCES.md), run unmodified through the Go SDK.

var withTasks = &client.WorkflowResourceApiGetExecutionStatusOpts{IncludeTasks: optional.NewBool(true)}

var closedToo = &client.WorkflowResourceApiGetWorkflowsOpts{IncludeClosed: optional.NewBool(true), IncludeTasks: optional.NewBool(true)}

func readConductorFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("../../testdata/conductor/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// registerFile registers a copied workflow definition with the Go SDK.
func registerFile(t *testing.T, meta client.MetadataClient, name string) {
	t.Helper()
	var def model.WorkflowDef
	if err := json.Unmarshal(readConductorFile(t, name), &def); err != nil {
		t.Fatal(err)
	}
	if resp, err := meta.RegisterWorkflowDef(context.Background(), true, def); err != nil {
		t.Fatalf("register %s: %v (status %d)", name, err, status(resp))
	}
}

// handlerFile reads a copied event handler into the Go SDK's model.
func handlerFile(t *testing.T, name string) model.EventHandler {
	t.Helper()
	var h model.EventHandler
	if err := json.Unmarshal(readConductorFile(t, name), &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// waitCorrelated waits for a run of workflow with correlationId.
func waitCorrelated(t *testing.T, wc client.WorkflowClient, workflow, correlationID string, within time.Duration) model.Workflow {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		runs, _, err := wc.GetWorkflowsByCorrelationId(context.Background(), workflow, correlationID, closedToo)
		if err == nil && len(runs) > 0 {
			return runs[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s run with correlationId %s after %s (err %v)", workflow, correlationID, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEventHandlerStartsWorkflow: the cookbook's "start a workflow from
// the event". publish_order_event's EVENT task (sink
// "conductor:order-status") publishes to the server's own queue with no
// --event-sink, as "conductor:publish_order_event:order-status"; the
// handler start_fulfillment_on_order_ready (condition $.status ==
// 'READY') starts fulfill_order with correlationId and input from the
// payload, plus conductor.event.messageId/name (SimpleActionProcessor).
// A message whose status is not READY starts nothing.
func TestEventHandlerStartsWorkflow(t *testing.T) {
	ts := newConductorServer(t, nil)
	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	meta, wc, events := client.NewMetadataClient(api), client.NewWorkflowClient(api), client.NewEventHandlerClient(api)
	ctx := context.Background()
	registerFile(t, meta, "fulfill_order_workflow.json")
	registerFile(t, meta, "publish_internal_event_workflow.json")
	if resp, err := events.AddEventHandler(ctx, handlerFile(t, "start_workflow_handler.json")); err != nil {
		t.Fatalf("AddEventHandler: %v (status %d)", err, status(resp))
	}

	pending, _, err := wc.StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "publish_order_event", Version: 1,
		Input: map[string]any{"orderId": "order-2", "status": "PENDING"}})
	if err != nil {
		t.Fatal(err)
	}
	if st := waitStatus(t, wc, pending, 10*time.Second); st.Status != "COMPLETED" {
		t.Fatalf("publisher: %s", st.Status)
	}
	ready, _, err := wc.StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "publish_order_event", Version: 1,
		Input: map[string]any{"orderId": "order-1", "status": "READY"}})
	if err != nil {
		t.Fatal(err)
	}
	if st := waitStatus(t, wc, ready, 10*time.Second); st.Status != "COMPLETED" {
		t.Fatalf("publisher: %s", st.Status)
	}
	pub, _, err := wc.GetExecutionStatus(ctx, ready, withTasks)
	if err != nil {
		t.Fatal(err)
	}
	if got := pub.Tasks[0].OutputData["event_produced"]; got != "conductor:publish_order_event:order-status" {
		t.Fatalf("event_produced = %v", got)
	}

	run := waitCorrelated(t, wc, "fulfill_order", "order-1", 10*time.Second)
	if st := waitStatus(t, wc, run.WorkflowId, 10*time.Second); st.Status != "COMPLETED" {
		t.Fatalf("fulfill_order: %s", st.Status)
	}
	full, _, err := wc.GetExecutionStatus(ctx, run.WorkflowId, withTasks)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"orderId": "order-1", "sourceEventId": ready,
		"conductor.event.name":      "conductor:publish_order_event:order-status",
		"conductor.event.messageId": pub.Tasks[0].TaskId,
	}
	for k, v := range want {
		if full.Input[k] != v {
			t.Errorf("fulfill_order input %s = %v, want %v (input %v)", k, full.Input[k], v, full.Input)
		}
	}
	if full.Output["orderId"] != "order-1" || full.CorrelationId != "order-1" {
		t.Errorf("fulfill_order output %v correlationId %q", full.Output, full.CorrelationId)
	}
	// The PENDING order started nothing. Messages are handled
	// concurrently: its message may be handled after the READY one's run
	// completed, so the test waits for its SKIPPED line first.
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(ts.logs.String(), `"status":"SKIPPED"`); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the skipped message is not logged")
		}
	}
	if runs, _, err := wc.GetWorkflowsByCorrelationId(ctx, "fulfill_order", "order-2", closedToo); err != nil || len(runs) != 0 {
		t.Fatalf("a run for the PENDING order: %v (err %v)", runs, err)
	}
	// The counters move once the action returned: the run they started
	// may be seen a moment before.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, _, metrics := ts.do(t, "GET", "/metrics", "")
		missing := ""
		for _, want := range []string{
			`wfrun_event_executions_total{action="",status="SKIPPED"} 1`,
			`wfrun_event_executions_total{action="start_workflow",status="COMPLETED"} 1`,
			`wfrun_event_messages_handled_total{queue="publish_order_event:order-status"} 2`,
		} {
			if !strings.Contains(metrics, want) {
				missing = want
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics lacks %s", missing)
		}
	}
}

// TestEventHandlerCompletesWaitTask: a handler completes the WAIT task
// of the cookbook's wait_for_order_approval from a message of
// publish_order_event (its orderId carries the waiting run's id), with
// the output SimpleActionProcessor gives: the resolved task details and
// output, and conductor.event.messageId/name.
func TestEventHandlerCompletesWaitTask(t *testing.T) {
	ts := newConductorServer(t, nil)
	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	meta, wc, events := client.NewMetadataClient(api), client.NewWorkflowClient(api), client.NewEventHandlerClient(api)
	ctx := context.Background()
	registerFile(t, meta, "wait_for_approval_workflow.json")
	registerFile(t, meta, "publish_internal_event_workflow.json")
	h := model.EventHandler{Name: "approve_on_ready", Event: "conductor:publish_order_event:order-status", Active: true,
		Condition: "$.status == 'READY'",
		Actions: []model.Action{{Action: "complete_task", CompleteTask: &model.TaskDetails{
			WorkflowId: "${orderId}", TaskRefName: "approval",
			Output: map[string]any{"approved": true, "status": "${status}", "eventVersion": "${eventVersion}", "note": "order ${orderId} is ${status}"},
		}}}}
	if resp, err := events.AddEventHandler(ctx, h); err != nil {
		t.Fatalf("AddEventHandler: %v (status %d)", err, status(resp))
	}
	waiting, _, err := wc.StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "wait_for_order_approval", Version: 1,
		Input: map[string]any{"orderId": "o-9"}})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if w, _, err := wc.GetExecutionStatus(ctx, waiting, withTasks); err == nil && len(w.Tasks) > 0 {
			break // the WAIT task is scheduled: the message has a task to complete
		}
		if time.Now().After(deadline) {
			t.Fatal("the WAIT task was never scheduled")
		}
	}
	pubID, _, err := wc.StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "publish_order_event", Version: 1,
		Input: map[string]any{"orderId": waiting, "status": "READY"}})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, wc, pubID, 10*time.Second)
	st := waitStatus(t, wc, waiting, 10*time.Second)
	if st.Status != "COMPLETED" {
		t.Fatalf("wait_for_order_approval: %s", st.Status)
	}
	pub, _, _ := wc.GetExecutionStatus(ctx, pubID, withTasks)
	approval, _ := st.Output["approval"].(map[string]any)
	want := map[string]any{
		"approved": true, "status": "READY", "eventVersion": float64(1), "note": "order " + waiting + " is READY",
		"workflowId": waiting, "taskRefName": "approval",
		"conductor.event.name":      "conductor:publish_order_event:order-status",
		"conductor.event.messageId": pub.Tasks[0].TaskId,
	}
	for k, v := range want {
		if approval[k] != v {
			t.Errorf("approval output %s = %#v, want %#v (output %v)", k, approval[k], v, approval)
		}
	}
}

// TestEventHandlerAPI follows Conductor's e2e EventClientTests and its
// DAO's answers: a handler registered (inactive by default), updated,
// found by its event with activeOnly=false and not with the default,
// removed; a second add is 409, an update or removal of an unknown name
// 404; the cookbook's handlers (one on a kafka: event) register as they
// are; bad handlers are 400 with one line naming the field.
func TestEventHandlerAPI(t *testing.T) {
	ts := newConductorServer(t, nil)
	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	events := client.NewEventHandlerClient(api)
	ctx := context.Background()
	h := model.EventHandler{Name: "test_sdk_java_event_name", Event: "test_sdk_java_event",
		Actions: []model.Action{{Action: "start_workflow", StartWorkflow: &model.StartWorkflow{Name: "sdk_wf", Version: 1}}}}
	if _, err := events.AddEventHandler(ctx, h); err != nil {
		t.Fatal(err)
	}
	if _, err := events.UpdateEventHandler(ctx, h); err != nil {
		t.Fatal(err)
	}
	got, _, err := events.GetEventHandlersForEvent(ctx, "test_sdk_java_event", &client.EventResourceApiGetEventHandlersForEventOpts{})
	if err != nil || len(got) != 0 {
		t.Fatalf("active only: %v (err %v)", got, err)
	}
	code, _, body := ts.do(t, "GET", "/api/event/test_sdk_java_event?activeOnly=false", "")
	var list []model.EventHandler
	if code != 200 || json.Unmarshal([]byte(body), &list) != nil || len(list) != 1 || list[0].Name != h.Name || list[0].Event != h.Event {
		t.Fatalf("GET by event: %d %s", code, body)
	}
	if code, _, body := ts.do(t, "POST", "/api/event", handlerJSON(t, h)); code != http.StatusConflict ||
		!strings.Contains(body, "EventHandler with name test_sdk_java_event_name already exists!") {
		t.Fatalf("second add: %d %s", code, body)
	}
	if _, err := events.RemoveEventHandler(ctx, h.Name); err != nil {
		t.Fatal(err)
	}
	if code, _, body := ts.do(t, "GET", "/api/event/test_sdk_java_event?activeOnly=false", ""); code != 200 || body != "[]" {
		t.Fatalf("after removal: %d %s", code, body)
	}
	if code, _, body := ts.do(t, "DELETE", "/api/event/test_sdk_java_event_name", ""); code != 404 ||
		!strings.Contains(body, "EventHandler with name test_sdk_java_event_name not found!") {
		t.Fatalf("removal of an unknown handler: %d %s", code, body)
	}
	if code, _, _ := ts.do(t, "PUT", "/api/event", handlerJSON(t, h)); code != 404 {
		t.Fatalf("update of an unknown handler: %d", code)
	}
	for _, f := range []string{"start_workflow_handler.json", "complete_wait_handler.json"} {
		if code, _, body := ts.do(t, "POST", "/api/event", string(readConductorFile(t, f))); code != 200 {
			t.Fatalf("%s: %d %s", f, code, body)
		}
	}
	code, _, body = ts.do(t, "GET", "/api/event/kafka:order-approvals", "")
	if code != 200 || !strings.Contains(body, `"complete_order_approval"`) || !strings.Contains(body, `"expandInlineJSON":false`) {
		t.Fatalf("GET kafka:order-approvals: %d %s", code, body)
	}
	code, _, body = ts.do(t, "GET", "/api/event", "")
	if code != 200 || !strings.Contains(body, "start_fulfillment_on_order_ready") || !strings.Contains(body, "complete_order_approval") {
		t.Fatalf("GET all: %d %s", code, body)
	}

	bad := []struct{ name, body, field string }{
		{"no name", `{"event":"conductor:a:b","actions":[{"action":"start_workflow","start_workflow":{"name":"x"}}]}`, "name: Missing event handler name"},
		{"no event", `{"name":"h","actions":[{"action":"start_workflow","start_workflow":{"name":"x"}}]}`, "event: Missing event location"},
		{"no actions", `{"name":"h","event":"conductor:a:b","actions":[]}`, "actions: No actions specified"},
		{"unknown action", `{"name":"h","event":"conductor:a:b","actions":[{"action":"send_mail"}]}`, `actions[0].action: unknown action "send_mail"`},
		{"action without its arguments", `{"name":"h","event":"conductor:a:b","actions":[{"action":"complete_task"}]}`, "actions[0].complete_task: missing"},
		{"task without target", `{"name":"h","event":"conductor:a:b","actions":[{"action":"fail_task","fail_task":{"taskRefName":"x"}}]}`, "actions[0].fail_task: give taskId, or workflowId and taskRefName"},
		{"bad condition", `{"name":"h","event":"conductor:a:b","condition":"$.a ==","actions":[{"action":"start_workflow","start_workflow":{"name":"x"}}]}`, "condition: "},
		{"unknown evaluator", `{"name":"h","event":"conductor:a:b","evaluatorType":"python","actions":[{"action":"start_workflow","start_workflow":{"name":"x"}}]}`, `evaluatorType: unknown evaluator "python"`},
		{"secret reference", `{"name":"h","event":"conductor:a:b","actions":[{"action":"start_workflow","start_workflow":{"name":"x","input":{"k":"${workflow.secrets.api_key}"}}}]}`, "actions[0].start_workflow.input: a secret reference"},
		{"update_workflow_variables without variables", `{"name":"h","event":"conductor:a:b","actions":[{"action":"update_workflow_variables","update_workflow_variables":{"workflowId":"x"}}]}`, "actions[0].update_workflow_variables.variables: missing"},
		{"update_workflow_variables without workflowId", `{"name":"h","event":"conductor:a:b","actions":[{"action":"update_workflow_variables","update_workflow_variables":{"variables":{"a":1}}}]}`, "actions[0].update_workflow_variables.workflowId: missing"},
		{"start_agent", `{"name":"h","event":"conductor:a:b","actions":[{"action":"start_agent","start_agent":{}}]}`, "actions[0].action: start_agent is not supported"},
		{"actions not a list", `{"name":"h","event":"conductor:a:b","actions":"start_workflow"}`, "EventHandler: wrong JSON type at actions"},
		{"active not a bool", `{"name":"h","event":"conductor:a:b","active":"yes","actions":[{"action":"start_workflow","start_workflow":{"name":"x"}}]}`, "EventHandler: wrong JSON type at active: want bool, got string"},
		{"name not a file name", `{"name":"../x","event":"conductor:a:b","actions":[{"action":"start_workflow","start_workflow":{"name":"x"}}]}`, "name: event handler name"},
	}
	for _, c := range bad {
		code, _, body := ts.do(t, "POST", "/api/event", c.body)
		var e struct{ Message string }
		_ = json.Unmarshal([]byte(body), &e)
		if code != 400 || !strings.HasPrefix(e.Message, c.field) || strings.Contains(e.Message, "\n") {
			t.Errorf("%s: %d %s (want 400 naming %q)", c.name, code, body, c.field)
		}
	}
}

func handlerJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestEventHandlerListRegistration: POST /api/event takes a list of
// handlers too (Orkes; its JavaScript SDK sends one), all or none: a list
// with a bad or an existing handler stores none of them;
// GET /api/event/handler/{name} reads one back (404 when missing).
func TestEventHandlerListRegistration(t *testing.T) {
	ts := newConductorServer(t, nil)
	h := func(name string) string {
		return `{"name":"` + name + `","event":"conductor:a:b","actions":[{"action":"start_workflow","start_workflow":{"name":"x"}}]}`
	}
	if code, _, body := ts.do(t, "POST", "/api/event", "["+h("one")+","+h("two")+"]"); code != 200 {
		t.Fatalf("a list: %d %s", code, body)
	}
	for _, c := range []struct {
		name, body string
		code       int
	}{
		{"an existing one in the list", "[" + h("three") + "," + h("two") + "]", 409},
		{"a bad one in the list", "[" + h("three") + `,{"name":"four"}]`, 400},
		{"the same name twice", "[" + h("three") + "," + h("three") + "]", 409},
		{"an empty list", "[]", 400},
	} {
		if code, _, body := ts.do(t, "POST", "/api/event", c.body); code != c.code {
			t.Errorf("%s: %d %s, want %d", c.name, code, body, c.code)
		}
	}
	if code, _, _ := ts.do(t, "GET", "/api/event/handler/three", ""); code != 404 {
		t.Errorf("a handler of a refused list was stored: %d", code)
	}
	code, _, body := ts.do(t, "GET", "/api/event/handler/two", "")
	var got map[string]any
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil || got["name"] != "two" || got["event"] != "conductor:a:b" {
		t.Errorf("GET handler/two: %d %s", code, body)
	}
}
