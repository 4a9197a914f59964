package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/settings"
)

// TestTaskRecordsIsolationGroup: a task definition's isolationGroupId and
// executionNameSpace are on the task records Conductor's mappers put them
// on, read through the Go SDK (GetWorkflow, GetTask): an HTTP task both,
// FORK, INLINE, WAIT and JOIN tasks the isolation group only, a SIMPLE task
// neither; a task whose name has no definition has neither. The HTTP
// task's secret is in nothing the SDK reads.
func TestTaskRecordsIsolationGroup(t *testing.T) {
	const value = "isolation-SECRET-value-0d4a"
	ts := newConductorServer(t, nil)
	putSecret(t, ts.store, "api_key", value)
	echo := echoServer(t)
	taskDefs := `[
	  {"name":"http_t","isolationGroupId":"g-http","executionNameSpace":"ns-http"},
	  {"name":"inline_t","isolationGroupId":"g-inline","executionNameSpace":"ns-inline"},
	  {"name":"wait_t","isolationGroupId":"g-wait","executionNameSpace":"ns-wait"},
	  {"name":"join_t","isolationGroupId":"g-join","executionNameSpace":"ns-join"},
	  {"name":"fork_t","isolationGroupId":"g-fork","executionNameSpace":"ns-fork"},
	  {"name":"simple_t","isolationGroupId":"g-simple","executionNameSpace":"ns-simple","responseTimeoutSeconds":600}]`
	if st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", taskDefs); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	def := `{"name":"isolated","version":1,"schemaVersion":2,"tasks":[
	  {"name":"fork_t","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[
	    [{"name":"http_t","taskReferenceName":"call","type":"HTTP","inputParameters":{"http_request":{"uri":"` + echo.URL + `","method":"GET","headers":{"Authorization":"Bearer ${workflow.secrets.api_key}"}}}}],
	    [{"name":"inline_t","taskReferenceName":"calc","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1+1"}}],
	    [{"name":"undefined_t","taskReferenceName":"calc2","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"2"}}]]},
	  {"name":"join_t","taskReferenceName":"j","type":"JOIN","joinOn":["call","calc","calc2"]},
	  {"name":"wait_t","taskReferenceName":"hold","type":"WAIT"},
	  {"name":"simple_t","taskReferenceName":"work","type":"SIMPLE"}]}`
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	id := startByName(t, ts, "isolated")
	heldAt(t, ts, id, "hold")
	if st, _, body := ts.do(t, "POST", "/api/tasks/"+id+"/COMPLETED/signal", `{}`); st != 200 {
		t.Fatalf("signal: %d %s", st, body)
	}
	ts.waitRun(t, id, "work scheduled", func(d runDoc) bool { return len(d.Tasks) == 7 })
	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	ctx := context.Background()
	wf, _, err := client.NewWorkflowClient(api).GetExecutionStatus(ctx, id, &client.WorkflowResourceApiGetExecutionStatusOpts{})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"f": "g-fork/-", "call": "g-http/ns-http", "calc": "g-inline/-", "calc2": "-/-", "j": "g-join/-",
		"hold": "g-wait/-", "work": "-/-",
	}
	tc := client.NewTaskClient(api)
	for _, task := range wf.Tasks {
		got := or(task.IsolationGroupId) + "/" + or(task.ExecutionNameSpace)
		if w, ok := want[task.ReferenceTaskName]; !ok || got != w {
			t.Errorf("%s (%s): %s, want %s", task.ReferenceTaskName, task.TaskType, got, w)
		}
		one, _, err := tc.GetTask(ctx, task.TaskId)
		if err != nil || or(one.IsolationGroupId)+"/"+or(one.ExecutionNameSpace) != got {
			t.Errorf("GetTask %s: %+v, %v", task.ReferenceTaskName, one, err)
		}
		if raw, _ := json.Marshal(one); strings.Contains(string(raw), value) {
			t.Errorf("task %s holds the secret value", task.ReferenceTaskName)
		}
	}
	if len(wf.Tasks) != len(want) {
		t.Errorf("%d tasks, want %d", len(wf.Tasks), len(want))
	}
}

func or(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
