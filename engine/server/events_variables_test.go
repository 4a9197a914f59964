package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestEventHandlerUpdateVariables: Orkes' update_workflow_variables action
// sets a waiting run's variables from the message (appendArray gathers a
// variable's values over messages, as the conductor e2e handler asserts
// on an array's size), the run reads them afterwards, and a `_secrets`
// member is sealed where the run is stored and shown as "***", as every
// variable write is.
func TestEventHandlerUpdateVariables(t *testing.T) {
	es := newEventServer(t, false)
	es.mustAs(t, "", "POST", "/api/metadata/workflow", emitDef)
	es.mustAs(t, "", "POST", "/api/metadata/workflow", `{"name":"vars_gate","version":1,"schemaVersion":2,
	  "tasks":[{"name":"gate","taskReferenceName":"gate","type":"WAIT"}],
	  "outputParameters":{"by":"${workflow.variables.updatedBy}","note":"${workflow.variables.note}","cred":"${workflow.variables.cred}"}}`)
	es.mustAs(t, "", "POST", "/api/event", `{"name":"vars","event":"conductor:emit_action:vars","active":true,"actions":[
	  {"action":"update_workflow_variables","update_workflow_variables":{"workflowId":"${waiter}","variables":{"updatedBy":"${who}"},"appendArray":true}},
	  {"action":"update_workflow_variables","update_workflow_variables":{"workflowId":"${waiter}","variables":{"note":"${who} was here","cred":{"_secrets":{"token":"${who}-token-0451"}}}}}]}`)
	waiter := es.mustAs(t, "", "POST", "/api/workflow", `{"name":"vars_gate"}`)
	es.waitTasks(t, waiter)
	for _, who := range []string{"ann", "bob"} {
		es.mustAs(t, "", "POST", "/api/workflow", `{"name":"emit_action","input":{"q":"vars","who":"`+who+`","waiter":"`+waiter+`"}}`)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			var doc map[string]any
			_ = json.Unmarshal([]byte(es.mustAs(t, "", "GET", "/api/workflow/"+waiter, "")), &doc)
			vars, _ := doc["variables"].(map[string]any)
			if vars["note"] == who+" was here" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s's message the variables are %v", who, vars)
			}
		}
	}
	es.mustAs(t, "", "POST", "/api/tasks/"+waiter+"/gate/COMPLETED", `{}`)
	doc := es.waitRun(t, "", waiter)
	out, _ := doc["output"].(map[string]any)
	by, _ := json.Marshal(out["by"])
	if doc["status"] != "COMPLETED" || string(by) != `["ann","bob"]` || out["note"] != "bob was here" {
		t.Errorf("output %v (%v)", out, doc["status"])
	}
	view := es.mustAs(t, "", "GET", "/api/workflow/"+waiter, "")
	stored, _, err := es.runs.Load(context.Background(), waiter)
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"view": view, "stored run": string(stored)} {
		if strings.Contains(text, "ann-token-0451") || strings.Contains(text, "bob-token-0451") {
			t.Errorf("the %s holds the _secrets value: %s", what, text)
		}
	}
	if !strings.Contains(view, `"cred":{"_secrets":"***"}`) {
		t.Errorf("the view does not show the _secrets value as ***: %s", view)
	}
	var execs []map[string]any
	_ = json.Unmarshal([]byte(es.mustAs(t, "", "GET", "/api/event/execution/vars", "")), &execs)
	if len(execs) != 4 {
		t.Errorf("%d executions, want 4: %v", len(execs), execs)
	}
	for _, x := range execs {
		if x["status"] != "COMPLETED" || x["action"] != "update_workflow_variables" {
			t.Errorf("execution %v", x)
		}
	}
	if b, _ := json.Marshal(execs); strings.Contains(string(b), "ann-token-0451") || strings.Contains(string(b), "bob-token-0451") {
		t.Errorf("an execution record holds the _secrets value: %s", b)
	}
}

// TestEventHandlerUpdateVariablesNeedsBothRights: update_workflow_variables
// needs the rights terminate_workflow needs, of the handler's owner and of
// the message's publisher: bob's message naming admin's run changes none
// of its variables (the action fails naming bob's missing scope); admin's
// own message sets them.
func TestEventHandlerUpdateVariablesNeedsBothRights(t *testing.T) {
	es := newPublishersServer(t)
	es.mustAs(t, "admin", "POST", "/api/event", `{"name":"orders_vars","event":"conductor:orders:q","active":true,
	  "actions":[{"action":"update_workflow_variables","update_workflow_variables":{"workflowId":"${target}","variables":{"flag":"${who}"}}}]}`)
	victim := es.mustAs(t, "admin", "POST", "/api/workflow", `{"name":"vault","workflowDef":{"name":"vault","version":1,"schemaVersion":2,"tasks":[
	  {"name":"w","taskReferenceName":"w","type":"WAIT"}]}}`)
	es.waitTasks(t, victim)
	publishOrders(t, es, "bob", `{"target":"`+victim+`","who":"bob"}`)
	line := es.waitLog(t, `"handler":"orders_vars"`, `"status":"FAILED"`)
	if !strings.Contains(line, "publisher bob lacks scope workflows:read:vault") {
		t.Errorf("bob's message: %s", line)
	}
	publishOrders(t, es, "admin", `{"target":"`+victim+`","who":"admin"}`)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var doc map[string]any
		_ = json.Unmarshal([]byte(es.mustAs(t, "admin", "GET", "/api/workflow/"+victim, "")), &doc)
		vars, _ := doc["variables"].(map[string]any)
		if vars["flag"] == "admin" {
			break
		}
		if vars["flag"] != nil || time.Now().After(deadline) {
			t.Fatalf("variables %v", vars)
		}
	}
}
