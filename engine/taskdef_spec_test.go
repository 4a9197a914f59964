package engine_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// WorkflowAndTaskConfigurationSpec "Test task def template": templated_task's
// definition has an inputTemplate (http_request with expressions over the
// workflow input); the task, configured without inputParameters, gets the
// template resolved as its input. vipStack is '${STACK2}', which Conductor
// resolves from a JVM system property; wfrun never resolves the process's
// environment (SPEC §9), so it reads null here.
func TestConductorTaskDefTemplate(t *testing.T) {
	defs := harnessTaskDefs(t)
	if err := defs.Put(&engine.TaskDef{Name: "templated_task", OwnerEmail: "test@harness.com", InputTemplate: json.RawMessage(`{"http_request":{
	  "method":"GET","vipStack":"${STACK2}","uri":"/get/something",
	  "body":{"inputPaths":["${workflow.input.path1}","${workflow.input.path2}"],"requestDetails":"${workflow.input.requestDetails}","outputPath":"${workflow.input.outputPath}"}}}`)}); err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	e := harnessEngine(t, nil, engine.WithTaskDefs(defs), engine.WithWorker("templated_task", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		_ = json.Unmarshal(in, &got)
		return json.RawMessage(`{}`), nil
	}))
	d, err := e.Parse([]byte(`{"name":"template_workflow","schemaVersion":2,"ownerEmail":"test@harness.com",
	  "tasks":[{"name":"templated_task","type":"SIMPLE","taskReferenceName":"t0"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res := startRun(t, e, d, `{"path1":"file://path1","path2":"file://path2","outputPath":"s3://bucket/outputPath",
	  "requestDetails":{"key1":"value1","key2":42}}`, engine.WithCorrelationID("workflow_taskdef_template"))
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	for name, in := range map[string]map[string]any{"stored": wf.Tasks[0].Input, "worker's": got} {
		b, _ := json.Marshal(in["http_request"])
		want := `{"body":{"inputPaths":["file://path1","file://path2"],"outputPath":"s3://bucket/outputPath","requestDetails":{"key1":"value1","key2":42}},"method":"GET","uri":"/get/something","vipStack":null}`
		if string(b) != want {
			t.Fatalf("%s http_request %s, want %s", name, b, want)
		}
	}
}

// WorkflowAndTaskConfigurationSpec "Test task def created if not exist": a
// SIMPLE task whose name has no task definition runs, its record's
// taskDefName its name.
func TestConductorTaskWithoutTaskDef(t *testing.T) {
	e := harnessEngine(t, nil, engine.WithWorker("task_not_registered", echoWorker(`{}`)))
	d, err := e.Parse([]byte(`{"name":"test_workflow","schemaVersion":2,"ownerEmail":"test@harness.com",
	  "tasks":[{"name":"task_not_registered","type":"SIMPLE","taskReferenceName":"t0"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res := startRun(t, e, d, `{}`, engine.WithCorrelationID("workflow_taskdef_not_registered"))
	b, err := e.Show(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Status string `json:"status"`
		Tasks  []struct {
			TaskDefName string `json:"taskDefName"`
			Status      string `json:"status"`
		} `json:"tasks"`
	}
	_ = json.Unmarshal(b, &v)
	if v.Status != engine.StatusCompleted || len(v.Tasks) != 1 || v.Tasks[0].TaskDefName != "task_not_registered" {
		t.Fatalf("run %s", b)
	}
}
