package server_test

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/conductor-sdk/conductor-go/sdk/model"
)

func subFlow(name string, param map[string]any) string {
	p := map[string]any{"name": "kid_flow", "version": 1}
	for k, v := range param {
		p[k] = v
	}
	return fmt.Sprintf(`{"name":%q,"version":1,"schemaVersion":2,"tasks":[{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":%s}]}`,
		name, mustMarshal(p))
}

// childOf waits for the SUB_WORKFLOW task of run id to have its child.
func (c sdkClients) childOf(t *testing.T, id string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		wf := c.workflow(t, id)
		if len(wf.Tasks) > 0 && wf.Tasks[0].SubWorkflowId != "" {
			return wf.Tasks[0].SubWorkflowId
		}
		if wf.Status != "RUNNING" || time.Now().After(deadline) {
			t.Fatalf("run %s (%s) has no child: %+v", id, wf.Status, wf.Tasks)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSubWorkflowDomainsPriorityIdempotency: a SUB_WORKFLOW child runs with
// its parent's taskToDomain, or its subWorkflowParam's in its place, and
// the param's priority (not the parent's), as Conductor's SubWorkflow task
// starts it; a subWorkflowParam idempotencyKey (an expression) with
// RETURN_EXISTING makes a second parent follow the first one's child, and
// with FAIL fails the second parent's task.
func TestSubWorkflowDomainsPriorityIdempotency(t *testing.T) {
	ts := newConductorServer(t, nil)
	c := newSDK(t, ts.URL, taskFlow("kid_flow", "kid_task"))
	for _, def := range []string{
		subFlow("own_params", map[string]any{"priority": 4, "taskToDomain": map[string]string{"kid_task": "kid"}}),
		subFlow("inherits", nil),
		subFlow("idem_return", map[string]any{"idempotencyKey": "${workflow.input.key}", "idempotencyStrategy": "RETURN_EXISTING"}),
		subFlow("idem_fail", map[string]any{"idempotencyKey": "${workflow.input.key}", "idempotencyStrategy": "FAIL"}),
		subFlow("idem_running", map[string]any{"idempotencyKey": "${workflow.input.key}", "idempotencyStrategy": "FAIL_ON_RUNNING"}),
	} {
		if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
			t.Fatalf("register: %d %s", st, body)
		}
	}
	parentDomains := map[string]string{"kid_task": "adult"}
	for _, tc := range []struct {
		flow     string
		domain   string
		priority int32
	}{
		{"own_params", "kid", 4},
		{"inherits", "adult", 0},
	} {
		id := c.start(t, model.StartWorkflowRequest{Name: tc.flow, Version: 1, Priority: 9, TaskToDomain: parentDomains})
		child := c.childOf(t, id)
		got := c.poll(t, "kid_task", tc.domain, 1, 5*time.Second)
		if len(got) != 1 || got[0].WorkflowInstanceId != child || got[0].Domain != tc.domain || got[0].WorkflowPriority != tc.priority {
			t.Fatalf("%s: poll in %q = %+v", tc.flow, tc.domain, got)
		}
		if wf := c.workflow(t, child); wf.Priority != tc.priority || wf.TaskToDomain["kid_task"] != tc.domain {
			t.Errorf("%s: child priority %d taskToDomain %v", tc.flow, wf.Priority, wf.TaskToDomain)
		}
		c.complete(t, got[0])
		if st := waitStatus(t, c.wf, id, 10*time.Second); st.Status != "COMPLETED" {
			t.Fatalf("%s: parent %s", tc.flow, st.Status)
		}
	}

	first := c.start(t, model.StartWorkflowRequest{Name: "idem_return", Version: 1, Input: map[string]any{"key": "order-7"}})
	second := c.start(t, model.StartWorkflowRequest{Name: "idem_return", Version: 1, Input: map[string]any{"key": "order-7"}})
	child := c.childOf(t, first)
	if other := c.childOf(t, second); other != child {
		t.Fatalf("RETURN_EXISTING: the second parent's child %s, want %s", other, child)
	}
	if wf := c.workflow(t, first); wf.Tasks[0].InputData["idempotencyKey"] != "order-7" || wf.Tasks[0].InputData["idempotencyStrategy"] != "RETURN_EXISTING" {
		t.Errorf("SUB_WORKFLOW inputData %v", wf.Tasks[0].InputData)
	}
	got := c.poll(t, "kid_task", "", 5, 5*time.Second)
	if len(got) != 1 || got[0].WorkflowInstanceId != child {
		t.Fatalf("one child task: %+v", got)
	}
	c.complete(t, got[0])
	for _, id := range []string{first, second} {
		if st := waitStatus(t, c.wf, id, 10*time.Second); st.Status != "COMPLETED" {
			t.Errorf("parent %s: %s", id, st.Status)
		}
	}

	failFirst := c.start(t, model.StartWorkflowRequest{Name: "idem_fail", Version: 1, Input: map[string]any{"key": "order-8"}})
	c.childOf(t, failFirst)
	failSecond := c.start(t, model.StartWorkflowRequest{Name: "idem_fail", Version: 1, Input: map[string]any{"key": "order-8"}})
	if st := waitStatus(t, c.wf, failSecond, 10*time.Second); st.Status != "FAILED" {
		t.Fatalf("FAIL: the second parent is %s", st.Status)
	}
	if wf := c.workflow(t, failSecond); wf.Tasks[0].Status != "FAILED" || !strings.Contains(wf.Tasks[0].ReasonForIncompletion, "order-8") {
		t.Errorf("FAIL: task %s %q", wf.Tasks[0].Status, wf.Tasks[0].ReasonForIncompletion)
	}
	drain := c.poll(t, "kid_task", "", 5, time.Second)
	for _, task := range drain {
		c.complete(t, task)
	}

	// FAIL_ON_RUNNING: refused while the holder runs, a new child once it
	// ended.
	runFirst := c.start(t, model.StartWorkflowRequest{Name: "idem_running", Version: 1, Input: map[string]any{"key": "order-9"}})
	held := c.childOf(t, runFirst)
	runSecond := c.start(t, model.StartWorkflowRequest{Name: "idem_running", Version: 1, Input: map[string]any{"key": "order-9"}})
	if st := waitStatus(t, c.wf, runSecond, 10*time.Second); st.Status != "FAILED" {
		t.Fatalf("FAIL_ON_RUNNING with a running holder: the second parent is %s", st.Status)
	}
	got = c.poll(t, "kid_task", "", 5, 5*time.Second)
	if len(got) != 1 || got[0].WorkflowInstanceId != held {
		t.Fatalf("the holder's task: %+v", got)
	}
	c.complete(t, got[0])
	waitStatus(t, c.wf, runFirst, 10*time.Second)
	runThird := c.start(t, model.StartWorkflowRequest{Name: "idem_running", Version: 1, Input: map[string]any{"key": "order-9"}})
	if child := c.childOf(t, runThird); child == held {
		t.Errorf("FAIL_ON_RUNNING after the holder ended followed it")
	}
}

func mustMarshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// TestStartWorkflowTaskOptions: test-harness's
// workflow_that_starts_another_workflow with a StartWorkflowRequest that
// sets priority and an idempotency key: the started run has the priority
// and, having no taskToDomain of its own, the starter's (Conductor's
// StartWorkflow task); a second starter with the key and RETURN_EXISTING
// completes with the first started run's id; a priority of 100 fails the
// task with Conductor's validation message.
func TestStartWorkflowTaskOptions(t *testing.T) {
	ts := newConductorServer(t, nil)
	def, err := os.ReadFile("../../testdata/conductor/workflow_that_starts_another_workflow.json")
	if err != nil {
		t.Fatal(err)
	}
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", string(def)); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	c := newSDK(t, ts.URL, taskFlow("kid_flow", "kid_task"))
	startReq := func(priority int) map[string]any {
		return map[string]any{"startWorkflow": map[string]any{"name": "kid_flow", "version": 1, "priority": priority,
			"idempotencyKey": "sw-1", "idempotencyStrategy": "RETURN_EXISTING"}}
	}
	started := func(id string) (string, model.WorkflowState) {
		st := waitStatus(t, c.wf, id, 10*time.Second)
		wf := c.workflow(t, id)
		out, _ := wf.Tasks[0].OutputData["workflowId"].(string)
		return out, st
	}
	first, st := started(c.start(t, model.StartWorkflowRequest{Name: "workflow_that_starts_another_workflow", Version: 1,
		Input: startReq(6), TaskToDomain: map[string]string{"kid_task": "sw"}}))
	if st.Status != "COMPLETED" || first == "" {
		t.Fatalf("starter %s, started %q", st.Status, first)
	}
	got := c.poll(t, "kid_task", "sw", 1, 5*time.Second)
	if len(got) != 1 || got[0].WorkflowInstanceId != first || got[0].WorkflowPriority != 6 {
		t.Fatalf("poll in sw = %+v", got)
	}
	if again, st := started(c.start(t, model.StartWorkflowRequest{Name: "workflow_that_starts_another_workflow", Version: 1, Input: startReq(6)})); st.Status != "COMPLETED" || again != first {
		t.Errorf("RETURN_EXISTING starter %s, started %q, want %s", st.Status, again, first)
	}
	id := c.start(t, model.StartWorkflowRequest{Name: "workflow_that_starts_another_workflow", Version: 1, Input: startReq(100)})
	if st := waitStatus(t, c.wf, id, 10*time.Second); st.Status != "FAILED" {
		t.Fatalf("priority 100: starter %s", st.Status)
	}
	if wf := c.workflow(t, id); wf.Tasks[0].ReasonForIncompletion != "startWorkflow validation failed. 'priority' -> priority: 100 should be maximum 99. " {
		t.Errorf("reason %q", wf.Tasks[0].ReasonForIncompletion)
	}
}

// TestDynamicForkChildDomains: a FORK_JOIN_DYNAMIC of sub-workflows
// (forkTaskWorkflow) gives each child the taskToDomain of its fork input,
// as Conductor's ForkJoinDynamicTaskMapper sets it on the generated
// subWorkflowParam; a child whose input has none takes the parent's.
func TestDynamicForkChildDomains(t *testing.T) {
	ts := newConductorServer(t, nil)
	c := newSDK(t, ts.URL, taskFlow("kid_flow", "kid_task"))
	const def = `{"name":"dyn_kids","version":1,"schemaVersion":2,"tasks":[
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN_DYNAMIC","inputParameters":{
	    "forkTaskWorkflow":"kid_flow","forkTaskWorkflowVersion":"1",
	    "forkTaskInputs":[{"taskToDomain":{"kid_task":"fork-dom"},"n":1},{"n":2}]}},
	  {"name":"join","taskReferenceName":"join","type":"JOIN"}]}`
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	id := c.start(t, model.StartWorkflowRequest{Name: "dyn_kids", Version: 1, TaskToDomain: map[string]string{"kid_task": "parent-dom"}})
	for _, domain := range []string{"fork-dom", "parent-dom"} {
		got := c.poll(t, "kid_task", domain, 5, 5*time.Second)
		if len(got) != 1 || got[0].Domain != domain {
			t.Fatalf("poll in %s = %+v", domain, got)
		}
		c.complete(t, got[0])
	}
	if st := waitStatus(t, c.wf, id, 10*time.Second); st.Status != "COMPLETED" {
		t.Fatalf("parent %s", st.Status)
	}
}
