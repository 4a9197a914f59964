package server_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"
)

// TestConductorSkipTaskSpec runs WorkflowAndTaskConfigurationSpec's "Test
// task skipping in simple workflows" on integration_test_wf3 through wfrun
// serve with the Go SDK (SkipTaskFromWorkflow, polls and updates): t2,
// skipped while integration_task_1 is SCHEDULED, is recorded SKIPPED at
// once and listed first (tasks[0], as the spec asserts); after t1 completes
// t3 is scheduled, then the run completes.
// Skips of a processed task, of a task the definition lacks, with a body
// that is not a SkipTaskRequest, and in an ended run are refused. The
// skip's taskOutput is external input: a `_secrets` leaf in it is shown
// "***" and never stored in clear.
func TestConductorSkipTaskSpec(t *testing.T) {
	ts := newConductorServer(t, nil)
	defs, err := os.ReadFile("../../testdata/conductor/taskdefs/test_harness_taskdefs.json")
	if err != nil {
		t.Fatal(err)
	}
	if st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", string(defs)); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	registerConductorDef(t, ts, "simple_workflow_3_integration_test.json")
	ctx := context.Background()
	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	wc, tc := client.NewWorkflowClient(api), client.NewTaskClient(api)
	start := func() string {
		t.Helper()
		id, _, err := wc.StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "integration_test_wf3", Version: 1,
			CorrelationId: "unit_test_3", Input: map[string]any{"param1": "p1 value", "param2": "p2 value"}})
		if err != nil {
			t.Fatal(err)
		}
		ts.waitRun(t, id, "t1 SCHEDULED", func(d runDoc) bool { return len(d.Tasks) == 1 })
		return id
	}
	pollAndComplete := func(name string, out map[string]any) {
		t.Helper()
		got, _, err := tc.BatchPoll(ctx, name, &client.TaskResourceApiBatchPollOpts{Workerid: optional.NewString("skip.worker"),
			Count: optional.NewInt32(1), Timeout: optional.NewInt32(2000)})
		if err != nil || len(got) != 1 {
			t.Fatalf("poll %s: %+v %v", name, got, err)
		}
		if _, _, err := tc.UpdateTask(ctx, &model.TaskResult{WorkflowInstanceId: got[0].WorkflowInstanceId, TaskId: got[0].TaskId,
			Status: "COMPLETED", OutputData: out}); err != nil {
			t.Fatal(err)
		}
	}

	id := start()
	if _, err := wc.SkipTaskFromWorkflow(ctx, id, "t2", model.SkipTaskRequest{}); err != nil {
		t.Fatal(err)
	}
	d := ts.waitRun(t, id, "t2 SKIPPED", func(d runDoc) bool { return len(d.Tasks) == 2 })
	if d.Status != "RUNNING" || d.Tasks[0].TaskType != "integration_task_2" || d.Tasks[0].Status != "SKIPPED" ||
		d.Tasks[1].TaskType != "integration_task_1" || d.Tasks[1].Status != "SCHEDULED" {
		t.Fatalf("after the skip: %+v", d)
	}
	for _, c := range []struct {
		ref, body string
		want      int
	}{
		{"t1", "", 409},
		{"t2", "", 409},
		{"nope", "", 409},
		{"t3", `{"taskOutput":[1]}`, 400},
		{"t3", `{"taskOutput":`, 400},
	} {
		if st, _, body := ts.do(t, "PUT", "/api/workflow/"+id+"/skiptask/"+c.ref, c.body); st != c.want {
			t.Errorf("skip %s %q: %d %s, want %d", c.ref, c.body, st, body, c.want)
		}
	}
	if st, _, _ := ts.do(t, "PUT", "/api/workflow/no-such-run/skiptask/t2", ""); st != 404 {
		t.Errorf("skip in a missing run: %d", st)
	}
	pollAndComplete("integration_task_1", map[string]any{"op": "task1.done"})
	d = ts.waitRun(t, id, "t3 SCHEDULED", func(d runDoc) bool { return len(d.Tasks) == 3 })
	if d.Status != "RUNNING" || d.Tasks[1].TaskType != "integration_task_1" || d.Tasks[1].Status != "COMPLETED" || d.Tasks[2].TaskType != "integration_task_3" || d.Tasks[2].Status != "SCHEDULED" {
		t.Fatalf("after t1: %+v", d)
	}
	pollAndComplete("integration_task_3", nil)
	d = ts.waitRun(t, id, "COMPLETED", func(d runDoc) bool { return d.Status == "COMPLETED" })
	if len(d.Tasks) != 3 || d.Tasks[2].Status != "COMPLETED" || d.Tasks[0].Status != "SKIPPED" {
		t.Fatalf("at the end: %+v", d)
	}
	if st, _, _ := ts.do(t, "PUT", "/api/workflow/"+id+"/skiptask/t3", ""); st != 409 {
		t.Errorf("skip in an ended run: %d", st)
	}

	// The request's data, with a `_secrets` leaf.
	const value = "skip-through-serve-5521"
	id = start()
	body := `{"taskInput":{"why":"manual"},"taskOutput":{"uuid":"given","_secrets":{"token":"` + value + `"}}}`
	if st, _, resp := ts.do(t, "PUT", "/api/workflow/"+id+"/skiptask/t2", body); st != 200 {
		t.Fatalf("skip with data: %d %s", st, resp)
	}
	d = ts.waitRun(t, id, "t2 SKIPPED", func(d runDoc) bool { return len(d.Tasks) == 2 })
	if d.Tasks[0].Status != "SKIPPED" || d.Tasks[0].Output["uuid"] != "given" || d.Tasks[0].Output["_secrets"] != "***" {
		t.Fatalf("skipped record: %+v", d.Tasks[0])
	}
	_, _, view := ts.do(t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
	stored, _, err := ts.runs.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(view, value) || strings.Contains(string(stored), value) || strings.Contains(ts.logs.String(), value) {
		t.Fatal("the skip's secret value is in the run or the logs")
	}
}
