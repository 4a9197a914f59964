package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"
)

const rerunDef = `{"name":"rerun_wf","version":1,"schemaVersion":2,"tasks":[
 {"name":"first_task","taskReferenceName":"first","type":"SIMPLE","inputParameters":{"k":"${workflow.input.k}"}},
 {"name":"second_task","taskReferenceName":"second","type":"SIMPLE","inputParameters":{"k":"${workflow.input.k}","auth":"${workflow.secrets.api_key}"}}],
 "outputParameters":{"first":"${first.output.r}","second":"${second.output.r}","seen":"${second.input.k}"}}`

// TestConductorRerunWithReplacementInput: the Go SDK's Rerun with a
// RerunWorkflowRequest. From the second task with taskInput and
// workflowInput: the first task is kept, the second gets exactly taskInput
// (a `${workflow.secrets.*}` in it stays text), the run's input is
// replaced. From the first task with workflowInput only: the first task
// keeps its previous input (Conductor), the second reads the new input,
// where a secret reference is text too, while the secret the definition
// names is still resolved for the worker. The secret value
// is in no stored run; bad requests are 400.
func TestConductorRerunWithReplacementInput(t *testing.T) {
	ts := newConductorServer(t, nil)
	const value = "rerun-secret-value-5150"
	putSecret(t, ts.store, "api_key", value)
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", rerunDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	ctx := context.Background()
	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	wc, tc := client.NewWorkflowClient(api), client.NewTaskClient(api)
	id, _, err := wc.StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "rerun_wf", Version: 1, Input: map[string]any{"k": "v1"}})
	if err != nil {
		t.Fatal(err)
	}
	// work polls name and answers r; it returns the polled input.
	work := func(name, r string) map[string]any {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			got, _, err := tc.BatchPoll(ctx, name, &client.TaskResourceApiBatchPollOpts{Count: optional.NewInt32(1), Timeout: optional.NewInt32(200)})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) == 0 {
				continue
			}
			if _, _, err := tc.UpdateTask(ctx, &model.TaskResult{WorkflowInstanceId: id, TaskId: got[0].TaskId, Status: "COMPLETED",
				OutputData: map[string]any{"r": r}}); err != nil {
				t.Fatal(err)
			}
			return got[0].InputData
		}
		t.Fatalf("nothing to poll for %s", name)
		return nil
	}
	ended := func() runDoc {
		t.Helper()
		return ts.waitRun(t, id, "COMPLETED", func(d runDoc) bool { return d.Status == "COMPLETED" })
	}
	work("first_task", "f1")
	if in := work("second_task", "s1"); in["auth"] != value || in["k"] != "v1" {
		t.Fatalf("second task's input: %v", in)
	}
	d := ended()
	second := d.Tasks[1].TaskID

	ref := "${workflow.secrets.api_key}"
	if _, _, err := wc.Rerun(ctx, model.RerunWorkflowRequest{ReRunFromWorkflowId: id, ReRunFromTaskId: second,
		TaskInput: map[string]any{"k": "replaced", "auth": ref}, WorkflowInput: map[string]any{"k": "v2 " + ref}}, id); err != nil {
		t.Fatal(err)
	}
	// Read at once, as the rerun answered: the task is reset in place,
	// SCHEDULED with its id and the taskInput, as Conductor's rerunWF
	// writes it with the RUNNING status.
	var now struct {
		Status string `json:"status"`
		Tasks  []struct {
			TaskID    string         `json:"taskId"`
			Status    string         `json:"status"`
			StartTime int64          `json:"startTime"`
			EndTime   int64          `json:"endTime"`
			Input     map[string]any `json:"inputData"`
			Output    map[string]any `json:"outputData"`
		} `json:"tasks"`
	}
	if st, _, body := ts.do(t, "GET", "/api/workflow/"+id, ""); st != 200 || json.Unmarshal([]byte(body), &now) != nil {
		t.Fatalf("get after the rerun: %d %s", st, body)
	}
	if now.Status != "RUNNING" || len(now.Tasks) != 2 || now.Tasks[1].TaskID != second || now.Tasks[1].Status != "SCHEDULED" ||
		now.Tasks[1].StartTime != 0 || now.Tasks[1].EndTime != 0 || len(now.Tasks[1].Output) != 0 ||
		now.Tasks[1].Input["k"] != "replaced" || now.Tasks[1].Input["auth"] != ref {
		t.Fatalf("right after the rerun: %+v, want RUNNING with %s SCHEDULED, reset, with the taskInput", now, second)
	}
	in := work("second_task", "s2")
	if b, _ := json.Marshal(in); string(b) != `{"auth":"${workflow.secrets.api_key}","k":"replaced"}` {
		t.Fatalf("rerun task's input: %s, want exactly the taskInput", b)
	}
	d = ended()
	if len(d.Tasks) != 2 || d.Tasks[1].TaskID != second {
		t.Fatalf("the rerun task's id: %+v, want %s kept (Conductor)", d.Tasks, second)
	}
	if d.Tasks[0].Output["r"] != "f1" || d.Output["second"] != "s2" || d.Output["seen"] != "replaced" {
		t.Fatalf("after the rerun from the second task: %+v", d)
	}
	w, _, err := wc.GetExecutionStatus(ctx, id, &client.WorkflowResourceApiGetExecutionStatusOpts{IncludeTasks: optional.NewBool(false)})
	if err != nil || w.Input["k"] != "v2 "+ref {
		t.Fatalf("run input after the rerun: %v %v", w.Input, err)
	}

	if _, _, err := wc.Rerun(ctx, model.RerunWorkflowRequest{ReRunFromWorkflowId: id, ReRunFromTaskId: d.Tasks[0].TaskID,
		WorkflowInput: map[string]any{"k": "v3 " + ref}}, id); err != nil {
		t.Fatal(err)
	}
	// Conductor keeps the rerun task's input; the later ones read the new one.
	if in := work("first_task", "f3"); in["k"] != "v1" {
		t.Fatalf("first task after a rerun with workflowInput: %v, want its previous input", in)
	}
	if in := work("second_task", "s3"); in["k"] != "v3 "+ref || in["auth"] != value {
		t.Fatalf("second task after a rerun with workflowInput: %v", in)
	}
	d = ended()
	if len(d.Tasks) != 2 || d.Output["first"] != "f3" || d.Output["seen"] != "v3 "+ref {
		t.Fatalf("after the rerun from the first task: %+v", d)
	}
	_, _, body := ts.do(t, "GET", "/api/workflow/"+id, "")
	raw, _, _ := ts.runs.Load(ctx, id)
	if strings.Contains(body, value) || strings.Contains(string(raw), value) {
		t.Fatalf("the secret value is in the run")
	}

	for _, bad := range []struct{ body, msg string }{
		{`{"taskInput":{"k":"x"}}`, "reRunFromTaskId"},
		{`{"reRunFromTaskId":"` + second + `","taskInput":[1]}`, "taskInput must be a JSON object"},
		{`{"workflowInput":"text"}`, "workflowInput must be a JSON object"},
	} {
		if st, _, body := ts.do(t, "POST", "/api/workflow/"+id+"/rerun", bad.body); st != 400 || !strings.Contains(body, bad.msg) {
			t.Errorf("rerun %s: %d %s, want 400 about %q", bad.body, st, body, bad.msg)
		}
	}
}
