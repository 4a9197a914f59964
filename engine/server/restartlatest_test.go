package server_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"
)

// TestConductorRestartLatestDefinitionSpec runs SimpleWorkflowSpec's "Test
// Simple workflow restart with the latest definition" through wfrun serve
// with the Go SDK: integration_test_wf v1 fails (integration_task_1's
// definition updated to no retries), v2 with integration_task_20
// (task_added) appended is registered, Restart with UseLatestDefinitions
// runs v2: after tasks 1 and 2 the polled integration_task_20 is
// task_added of this run, and the run completes with three tasks. A
// workflow whose definition was removed is 404 for such a restart.
func TestConductorRestartLatestDefinitionSpec(t *testing.T) {
	ts := newConductorServer(t, nil)
	b, err := os.ReadFile("../../testdata/conductor/taskdefs/test_harness_taskdefs.json")
	if err != nil {
		t.Fatal(err)
	}
	var defs []map[string]any
	if err := json.Unmarshal(b, &defs); err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		if d["name"] == "integration_task_1" {
			d["retryCount"] = 0
		}
	}
	b, _ = json.Marshal(defs)
	if st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", string(b)); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	registerConductorDef(t, ts, "simple_workflow_1_integration_test.json")
	ctx := context.Background()
	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	wc, tc, mc := client.NewWorkflowClient(api), client.NewTaskClient(api), client.NewMetadataClient(api)
	poll := func(name, status string, out map[string]any) model.Task {
		t.Helper()
		got, _, err := tc.BatchPoll(ctx, name, &client.TaskResourceApiBatchPollOpts{Workerid: optional.NewString("task1.integration.worker"),
			Count: optional.NewInt32(1), Timeout: optional.NewInt32(2000)})
		if err != nil || len(got) != 1 {
			t.Fatalf("poll %s: %+v %v", name, got, err)
		}
		if _, _, err := tc.UpdateTask(ctx, &model.TaskResult{WorkflowInstanceId: got[0].WorkflowInstanceId, TaskId: got[0].TaskId,
			Status: model.TaskResultStatus(status), OutputData: out, ReasonForIncompletion: "failed.."}); err != nil {
			t.Fatal(err)
		}
		return got[0]
	}
	id, _, err := wc.StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "integration_test_wf", Version: 1,
		CorrelationId: "integration_test_1", Input: map[string]any{"param1": "p1 value", "param2": "p2 value"}})
	if err != nil {
		t.Fatal(err)
	}
	poll("integration_task_1", "FAILED", nil)
	d := ts.waitRun(t, id, "FAILED", func(d runDoc) bool { return d.Status == "FAILED" })
	if len(d.Tasks) != 1 || d.Tasks[0].Status != "FAILED" || d.Tasks[0].TaskType != "integration_task_1" {
		t.Fatalf("first run: %+v", d)
	}

	wf, _, err := mc.Get(ctx, "integration_test_wf", &client.MetadataResourceApiGetOpts{Version: optional.NewInt32(1)})
	if err != nil {
		t.Fatal(err)
	}
	wf.Tasks = append(wf.Tasks, model.WorkflowTask{Name: "integration_task_20", TaskReferenceName: "task_added", Type_: "SIMPLE"})
	wf.Version = 2
	if _, err := mc.RegisterWorkflowDef(ctx, true, wf); err != nil {
		t.Fatal(err)
	}
	if _, err := wc.Restart(ctx, id, &client.WorkflowResourceApiRestartOpts{UseLatestDefinitions: optional.NewBool(true)}); err != nil {
		t.Fatal(err)
	}
	ts.waitRun(t, id, "RUNNING", func(d runDoc) bool { return d.Status == "RUNNING" })
	poll("integration_task_1", "COMPLETED", map[string]any{"op": "task1.done"})
	poll("integration_task_2", "COMPLETED", nil)
	added := poll("integration_task_20", "COMPLETED", nil)
	if added.WorkflowInstanceId != id || added.ReferenceTaskName != "task_added" {
		t.Fatalf("polled %+v", added)
	}
	d = ts.waitRun(t, id, "COMPLETED", func(d runDoc) bool { return d.Status == "COMPLETED" })
	if len(d.Tasks) != 3 {
		t.Fatalf("at the end: %+v", d.Tasks)
	}
	var v struct {
		Version int `json:"workflowVersion"`
	}
	_, _, body := ts.do(t, "GET", "/api/workflow/"+id, "")
	if json.Unmarshal([]byte(body), &v) != nil || v.Version != 2 {
		t.Fatalf("version: %s", body)
	}

	for _, ver := range []string{"1", "2"} {
		if st, _, body := ts.do(t, "DELETE", "/api/metadata/workflow/integration_test_wf/"+ver, ""); st != 200 {
			t.Fatalf("unregister v%s: %d %s", ver, st, body)
		}
	}
	if st, _, body := ts.do(t, "POST", "/api/workflow/"+id+"/restart?useLatestDefinitions=true", ""); st != 404 {
		t.Fatalf("restart without a definition: %d %s", st, body)
	}
}
