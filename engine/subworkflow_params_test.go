package engine_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// subWorkflowParamsDef builds a parent with one inline SUB_WORKFLOW whose
// subWorkflowParam carries extra (JSON members).
func subWorkflowParamsDef(extra string) string {
	return `{"name":"params_parent","version":1,"schemaVersion":2,"tasks":[
	 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","inputParameters":{"x":"${workflow.input.x}"},
	  "subWorkflowParam":{"name":"params_child",` + extra + `"workflowDefinition":{"name":"params_child","version":3,"schemaVersion":2,"tasks":[
	   {"name":"set","taskReferenceName":"set","type":"SET_VARIABLE","inputParameters":{"v":"${workflow.input.x}"}}]}}}]}`
}

// The SUB_WORKFLOW record's inputData, as Conductor's SubWorkflowTaskMapper
// writes it: subWorkflowDefinition is the inline definition (version
// null); priority, subWorkflowTaskToDomain, idempotencyKey and
// idempotencyStrategy are the resolved subWorkflowParam members (wfrun
// shows them, it has no domains, priorities or idempotent starts).
func TestSubWorkflowRecordShowsItsParams(t *testing.T) {
	e := harnessEngine(t, nil)
	d, err := e.Parse([]byte(subWorkflowParamsDef(`"priority":"${workflow.input.prio}","taskToDomain":{"*":"${workflow.input.domain}"},
	  "idempotencyKey":"order-${workflow.input.x}","idempotencyStrategy":"RETURN_EXISTING",`)))
	if err != nil {
		t.Fatal(err)
	}
	res := startRun(t, e, d, `{"x":"42","prio":7,"domain":"blue"}`)
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	in := wf.Tasks[0].Input
	def, _ := in["subWorkflowDefinition"].(map[string]any)
	if in["subWorkflowName"] != "params_child" || in["subWorkflowVersion"] != nil || def["name"] != "params_child" || def["version"] != 3.0 {
		t.Fatalf("name, version, definition: %v", in)
	}
	b, _ := json.Marshal(map[string]any{"p": in["priority"], "d": in["subWorkflowTaskToDomain"], "k": in["idempotencyKey"], "s": in["idempotencyStrategy"], "w": in["workflowInput"]})
	if string(b) != `{"d":{"*":"blue"},"k":"order-42","p":7,"s":"RETURN_EXISTING","w":{"x":"42"}}` {
		t.Fatalf("record input members %s", b)
	}

	// The inline child's input is marked dynamic (SubWorkflow.start; e2e
	// SubWorkflowInlineTests); a child found by name is not.
	child := viewRun(t, e, wf.Tasks[0].SubWorkflowID)
	if meta, _ := child.Input["_systemMetadata"].(map[string]any); meta["dynamic"] != true || child.Input["x"] != "42" {
		t.Fatalf("inline child's input %v", child.Input)
	}
	s := newThreeLevel(t)
	if mid := viewRun(t, s.e, s.mid); mid.Input["_systemMetadata"] != nil || mid.Input["param1"] != "p1 value" {
		t.Fatalf("registered child's input %v", mid.Input)
	}

	// Absent, they are null (and so is subWorkflowDefinition for a child
	// found by name).
	d, err = e.Parse([]byte(subWorkflowParamsDef(``)))
	if err != nil {
		t.Fatal(err)
	}
	wf = viewRun(t, e, startRun(t, e, d, `{"x":"1"}`).RunID)
	for _, k := range []string{"priority", "subWorkflowTaskToDomain", "idempotencyKey", "idempotencyStrategy"} {
		if v, ok := wf.Tasks[0].Input[k]; !ok || v != nil {
			t.Fatalf("%s: %v (present %v), want null", k, v, ok)
		}
	}

	// A priority that resolves out of range fails the task with the reason.
	d, err = e.Parse([]byte(subWorkflowParamsDef(`"priority":"${workflow.input.prio}",`)))
	if err != nil {
		t.Fatal(err)
	}
	wf = viewRun(t, e, startRun(t, e, d, `{"x":"1","prio":"high"}`).RunID)
	if wf.Status != engine.StatusFailed || wf.Tasks[0].Status != engine.TaskFailedTerminal || !strings.Contains(wf.Tasks[0].Reason, "subWorkflowParam.priority resolved to a string") {
		t.Fatalf("%s %s %q", wf.Status, wf.Tasks[0].Status, wf.Tasks[0].Reason)
	}
}

// Bad subWorkflowParam members are validation errors naming their place.
func TestSubWorkflowParamsValidation(t *testing.T) {
	e := harnessEngine(t, nil)
	for _, tc := range []struct{ extra, want string }{
		{`"idempotencyStrategy":"SOMETIMES",`, `/tasks/0/subWorkflowParam/idempotencyStrategy: unknown idempotencyStrategy "SOMETIMES"`},
		{`"priority":100,`, `/tasks/0/subWorkflowParam/priority: priority 100: want an integer from 0 to 99`},
		{`"priority":"urgent",`, `/tasks/0/subWorkflowParam/priority: priority must be an integer from 0 to 99 or an expression`},
		{`"idempotencyKey":"${workflow.secrets.api_token}",`, `/tasks/0/subWorkflowParam: priority, taskToDomain and idempotencyKey cannot come from a secret`},
		{`"taskToDomain":{"*":3},`, `taskToDomain`},
	} {
		_, err := e.Parse([]byte(subWorkflowParamsDef(tc.extra)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.extra, err, tc.want)
		}
	}
}
