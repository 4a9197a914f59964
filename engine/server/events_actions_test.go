package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// emitDef publishes its input's payload to conductor:<input q>.
const emitDef = `{"name":"emit_action","version":1,"schemaVersion":2,"tasks":[
  {"name":"emit","taskReferenceName":"emit","type":"EVENT","sink":"conductor:${workflow.input.q}",
   "inputParameters":{"waiter":"${workflow.input.waiter}","who":"${workflow.input.who}","taskId":"${workflow.input.taskId}","doc":"${workflow.input.doc}"}}]}`

// TestEventHandlerActions: SimpleActionProcessor's other actions on the
// cookbook's WAIT workflow, each from a message of its own queue:
// fail_task (its reason and output resolved from the payload),
// terminate_workflow (Orkes' action, with its reason), complete_task by
// taskId, and expandInlineJSON (a payload member holding JSON text read
// as JSON).
func TestEventHandlerActions(t *testing.T) {
	es := newEventServer(t, false)
	es.mustAs(t, "", "POST", "/api/metadata/workflow", string(readConductorFile(t, "wait_for_approval_workflow.json")))
	es.mustAs(t, "", "POST", "/api/metadata/workflow", emitDef)
	approvalTask := func(t *testing.T, doc map[string]any) map[string]any {
		t.Helper()
		list, _ := doc["tasks"].([]any)
		for _, it := range list {
			if task := it.(map[string]any); task["referenceTaskName"] == "approval" {
				return task
			}
		}
		t.Fatalf("no approval task in %v", doc)
		return nil
	}
	cases := []struct {
		name, action string
		expand       bool
		status       string
		check        func(t *testing.T, doc, task map[string]any)
	}{
		{"fail_task", `"action":"fail_task","fail_task":{"workflowId":"${waiter}","taskRefName":"approval","reasonForIncompletion":"rejected by ${who}","output":{"by":"${who}"}}`,
			false, "FAILED", func(t *testing.T, doc, task map[string]any) {
				out := task["outputData"].(map[string]any)
				if task["status"] != "FAILED" || out["by"] != "bob" || out["reasonForIncompletion"] != "rejected by bob" {
					t.Errorf("approval: %v %v", task["status"], out)
				}
				// SimpleActionProcessor sets the task's reason, not only its output.
				if r, _ := task["reasonForIncompletion"].(string); r != "rejected by bob" {
					t.Errorf("approval's reasonForIncompletion %q, want %q", r, "rejected by bob")
				}
			}},
		{"terminate_workflow", `"action":"terminate_workflow","terminate_workflow":{"workflowId":"${waiter}","terminationReason":"stopped by ${who}"}`,
			false, "TERMINATED", func(t *testing.T, doc, task map[string]any) {
				if r, _ := doc["reasonForIncompletion"].(string); !strings.Contains(r, "stopped by bob") {
					t.Errorf("reason %q", r)
				}
			}},
		{"complete_task by taskId", `"action":"complete_task","complete_task":{"taskId":"${taskId}","output":{"by":"${who}"}}`,
			false, "COMPLETED", func(t *testing.T, doc, task map[string]any) {
				out := task["outputData"].(map[string]any)
				if out["by"] != "bob" || out["taskId"] != task["taskId"] {
					t.Errorf("approval output %v", out)
				}
			}},
		{"expandInlineJSON", `"action":"complete_task","complete_task":{"workflowId":"${waiter}","taskRefName":"approval","output":{"approved":"${doc.approved}","level":"${doc.levels[1]}"}}`,
			true, "COMPLETED", func(t *testing.T, doc, task map[string]any) {
				out := task["outputData"].(map[string]any)
				if out["approved"] != true || out["level"] != float64(2) {
					t.Errorf("approval output %v", out)
				}
			}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := "q" + string(rune('0'+i))
			expand := ""
			if c.expand {
				expand = `,"expandInlineJSON":true`
			}
			es.mustAs(t, "", "POST", "/api/event", `{"name":"h`+q+`","event":"conductor:emit_action:`+q+`","active":true,"actions":[{`+c.action+expand+`}]}`)
			waiter := es.mustAs(t, "", "POST", "/api/workflow", `{"name":"wait_for_order_approval","input":{"orderId":"o"}}`)
			es.waitTasks(t, waiter)
			var view map[string]any
			_ = json.Unmarshal([]byte(es.mustAs(t, "", "GET", "/api/workflow/"+waiter+"?includeTasks=true", "")), &view)
			input, _ := json.Marshal(map[string]any{"q": q, "waiter": waiter, "who": "bob", "taskId": approvalTask(t, view)["taskId"],
				"doc": `{"approved":true,"levels":[1,2]}`})
			es.mustAs(t, "", "POST", "/api/workflow", `{"name":"emit_action","input":`+string(input)+`}`)
			doc := es.waitRun(t, "", waiter)
			if doc["status"] != c.status {
				t.Fatalf("waiter %v, want %s (%v)", doc["status"], c.status, doc["reasonForIncompletion"])
			}
			c.check(t, doc, approvalTask(t, doc))
		})
	}
}

// TestEventHandlerLoopTaskAndDomains: complete_task by a reference inside
// a DO_WHILE completes its latest iteration (SimpleActionProcessor's loop
// case), and start_workflow without a taskToDomain of its own gives the
// started run the publishing run's (the message's taskToDomain).
func TestEventHandlerLoopTaskAndDomains(t *testing.T) {
	es := newEventServer(t, false)
	es.mustAs(t, "", "POST", "/api/metadata/workflow", emitDef)
	es.mustAs(t, "", "POST", "/api/metadata/workflow", `{"name":"gated_loop","version":1,"schemaVersion":2,"tasks":[
	  {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 2",
	   "inputParameters":{"loop":"${loop}"},
	   "loopOver":[{"name":"gate","taskReferenceName":"gate","type":"WAIT"}]}]}`)
	es.mustAs(t, "", "POST", "/api/metadata/workflow", string(readConductorFile(t, "fulfill_order_workflow.json")))
	es.mustAs(t, "", "POST", "/api/event", `{"name":"open_gate","event":"conductor:emit_action:gates","active":true,
	  "actions":[{"action":"complete_task","complete_task":{"workflowId":"${waiter}","taskRefName":"gate","output":{"by":"${who}"}}},
	             {"action":"start_workflow","start_workflow":{"name":"fulfill_order","correlationId":"${who}","input":{"orderId":"${who}"}}}]}`)
	loop := es.mustAs(t, "", "POST", "/api/workflow", `{"name":"gated_loop"}`)
	for i, who := range []string{"first", "second"} {
		waitRef := `"referenceTaskName":"gate__` + string(rune('1'+i)) + `"`
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(es.mustAs(t, "", "GET", "/api/workflow/"+loop+"?includeTasks=true", ""), waitRef); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no %s", waitRef)
			}
		}
		es.mustAs(t, "", "POST", "/api/workflow", `{"name":"emit_action","taskToDomain":{"*":"blue"},"input":{"q":"gates","waiter":"`+loop+`","who":"`+who+`"}}`)
		got := es.correlated(t, "fulfill_order", who)
		for deadline := time.Now().Add(10 * time.Second); len(got) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			got = es.correlated(t, "fulfill_order", who)
		}
		if len(got) != 1 {
			t.Fatalf("fulfill_order for %s: %v", who, got)
		}
		if d, _ := got[0].(map[string]any)["taskToDomain"].(map[string]any); d["*"] != "blue" {
			t.Errorf("taskToDomain of the started run: %v", got[0].(map[string]any)["taskToDomain"])
		}
	}
	doc := es.waitRun(t, "", loop)
	if doc["status"] != "COMPLETED" {
		t.Fatalf("gated_loop: %v", doc["status"])
	}
	by := map[string]any{}
	for _, it := range doc["tasks"].([]any) {
		task := it.(map[string]any)
		if ref, _ := task["referenceTaskName"].(string); strings.HasPrefix(ref, "gate__") {
			by[ref] = task["outputData"].(map[string]any)["by"]
		}
	}
	if by["gate__1"] != "first" || by["gate__2"] != "second" || len(by) != 2 {
		t.Errorf("gate outputs %v", by)
	}
}
