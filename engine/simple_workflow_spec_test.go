package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// patchedHarnessDef loads a harness definition and applies patch to it, as
// a spec does with metadataService.updateWorkflowDef.
func patchedHarnessDef(t *testing.T, e *engine.Engine, file string, patch func(map[string]any)) *engine.Definition {
	t.Helper()
	b, err := os.ReadFile(conductorDir + "/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	patch(m)
	b, _ = json.Marshal(m)
	d, err := e.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func taskDefRetries(name string, retries, delay int) *engine.TaskDef {
	rt := int64(120)
	return &engine.TaskDef{Name: name, Description: name, OwnerEmail: "test@harness.com", RetryCount: &retries,
		RetryDelaySeconds: &delay, TimeoutSeconds: 120, ResponseTimeoutSeconds: &rt}
}

// failingWorker fails its first n calls with reason, then answers out.
func failingWorker(n int, reason, out string) engine.WorkerFunc {
	var mu sync.Mutex
	calls := 0
	return func(context.Context, json.RawMessage) (json.RawMessage, error) {
		mu.Lock()
		defer mu.Unlock()
		calls++
		if calls <= n {
			return nil, errors.New(reason)
		}
		return json.RawMessage(out), nil
	}
}

const simpleWF = "simple_workflow_1_integration_test.json"

// SimpleWorkflowSpec "Test simple workflow terminal error condition": the
// workflow's outputParameters get validationErrors (the spec's
// updateWorkflowDef); restarting the run while it runs is refused
// (ConflictException there, ErrStillRunning here); integration_task_1
// (retryCount 1) ends FAILED_WITH_TERMINAL_ERROR with output, so it is not
// retried and the run FAILS with Conductor's reason, its output computed
// from the failed task's output.
func TestConductorSimpleWorkflowTerminalError(t *testing.T) {
	defs := harnessTaskDefs(t)
	if err := defs.Put(taskDefRetries("integration_task_1", 1, 0)); err != nil {
		t.Fatal(err)
	}
	polled := make(chan struct{})
	answer := make(chan struct{})
	e := harnessEngine(t, nil, engine.WithTaskDefs(defs),
		engine.WithRemoteWorker(func(ctx context.Context, rt engine.RemoteTask) tasks.Result {
			close(polled)
			<-answer
			return tasks.Result{Status: tasks.FailedTerminal,
				Reason: "NON TRANSIENT ERROR OCCURRED: An integration point required to complete the task is down",
				Output: json.RawMessage(`{"TERMINAL_ERROR":"Integration endpoint down: FOOBAR","ErrorMessage":"There was a terminal error"}`)}
		}))
	d := patchedHarnessDef(t, e, simpleWF, func(m map[string]any) {
		m["outputParameters"].(map[string]any)["validationErrors"] = "${t1.output.ErrorMessage}"
	})
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(context.Background(), d, json.RawMessage(`{"param1":"p1 value","param2":"p2 value"}`),
			engine.WithRunID("terminal"), engine.WithCorrelationID("unit_test_1"))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	<-polled
	if _, err := e.Restart(context.Background(), "terminal", false); !errors.Is(err, engine.ErrStillRunning) {
		t.Fatalf("restart of a running run: %v", err)
	}
	close(answer)
	<-done
	wf := viewRun(t, e, "terminal")
	if wf.Status != engine.StatusFailed {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:FAILED_WITH_TERMINAL_ERROR")
	t1 := wf.Tasks[0]
	want := "Task " + t1.TaskID + " failed with status: FAILED and reason: 'NON TRANSIENT ERROR OCCURRED: An integration point required to complete the task is down'"
	if wf.Reason != want {
		t.Fatalf("reason %q, want %q", wf.Reason, want)
	}
	if wf.Output["o1"] != "p1 value" || wf.Output["validationErrors"] != "There was a terminal error" || t1.RetryCount != 0 {
		t.Fatalf("output %v, t1 retryCount %d", wf.Output, t1.RetryCount)
	}
	if fmt.Sprint(wf.FailedRefs, wf.FailedNames) != "[t1] [integration_task_1]" {
		t.Fatalf("failedReferenceTaskNames %v, failedTaskNames %v", wf.FailedRefs, wf.FailedNames)
	}
}

// SimpleWorkflowSpec "Test Simple workflow restart without using the latest
// definition" (integration_task_1 without retries fails; restart from the
// start runs both tasks again) and "Test non restartable simple workflow"
// (the same with "restartable": false and the spec's name; once the run
// has COMPLETED, restarting it is refused: NotFoundException there,
// ErrNotRestartable here).
func TestConductorSimpleWorkflowRestart(t *testing.T) {
	for _, restartable := range []bool{true, false} {
		t.Run(fmt.Sprint("restartable=", restartable), func(t *testing.T) {
			defs := harnessTaskDefs(t)
			if err := defs.Put(taskDefRetries("integration_task_1", 0, 0)); err != nil {
				t.Fatal(err)
			}
			e := harnessEngine(t, nil, engine.WithTaskDefs(defs),
				engine.WithWorker("integration_task_1", failingWorker(1, "failed..", `{"op":"task1.done"}`)),
				engine.WithWorker("integration_task_2", echoWorker(`{}`)))
			d := patchedHarnessDef(t, e, simpleWF, func(m map[string]any) {
				if !restartable {
					m["name"], m["restartable"] = "integration_test_wf_non_restartable", false
				}
			})
			res := startRun(t, e, d, `{"param1":"p1 value","param2":"p2 value"}`)
			wf := viewRun(t, e, res.RunID)
			if wf.Status != engine.StatusFailed {
				t.Fatalf("%s %q", wf.Status, wf.Reason)
			}
			checkTasks(t, wf.Tasks, "integration_task_1:FAILED")
			if _, err := e.Restart(context.Background(), res.RunID, true); err != nil {
				t.Fatal(err)
			}
			wf = viewRun(t, e, res.RunID)
			if wf.Status != engine.StatusCompleted || wf.Output["o3"] != "task1.done" {
				t.Fatalf("after restart: %s %q output %v", wf.Status, wf.Reason, wf.Output)
			}
			checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "integration_task_2:COMPLETED")
			_, err := e.Restart(context.Background(), res.RunID, true)
			if restartable && err != nil {
				t.Fatalf("restart of a completed restartable run: %v", err)
			}
			if !restartable && !errors.Is(err, engine.ErrNotRestartable) {
				t.Fatalf("restart of a completed non-restartable run: %v", err)
			}
		})
	}
}

// SimpleWorkflowSpec "Test simple workflow with task retries":
// integration_task_2 (retryCount 3, retryDelaySeconds 2) fails twice, then
// completes: three records linked by retriedTaskId; t1's input is the
// workflow's input.
func TestConductorSimpleWorkflowTaskRetries(t *testing.T) {
	defs := harnessTaskDefs(t)
	if err := defs.Put(taskDefRetries("integration_task_2", 3, 2)); err != nil {
		t.Fatal(err)
	}
	var t1in map[string]any
	e := harnessEngine(t, nil, engine.WithTaskDefs(defs),
		engine.WithWorker("integration_task_1", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			_ = json.Unmarshal(in, &t1in)
			return json.Marshal(map[string]any{"op": fmt.Sprintf("task1.output -> %v.%v", t1in["p1"], t1in["p2"])})
		}),
		engine.WithWorker("integration_task_2", failingWorker(2, "failure...0", `{}`)))
	d := harnessDef(t, e, simpleWF)
	wf := viewRun(t, e, startRun(t, e, d, `{"param1":"p1 value","param2":"p2 value"}`, engine.WithCorrelationID("integration_test_1")).RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	if t1in["p1"] != "p1 value" || t1in["p2"] != "p2 value" {
		t.Fatalf("t1 input %v", t1in)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "integration_task_2:FAILED", "integration_task_2:FAILED", "integration_task_2:COMPLETED")
	if wf.Tasks[2].RetriedTaskID != wf.Tasks[1].TaskID || wf.Tasks[3].RetriedTaskID != wf.Tasks[2].TaskID {
		t.Fatalf("retriedTaskId %q %q", wf.Tasks[2].RetriedTaskID, wf.Tasks[3].RetriedTaskID)
	}
	if fmt.Sprint(wf.FailedRefs, wf.FailedNames) != "[t2] [integration_task_2]" {
		t.Fatalf("failedReferenceTaskNames %v, failedTaskNames %v", wf.FailedRefs, wf.FailedNames)
	}
}

// SimpleWorkflowSpec "Test simple workflow with retry at workflow level":
// integration_task_1 (retryCount 1, no delay) fails twice and the run
// FAILS; a retry schedules a third attempt, which completes, and
// integration_task_2 after it. Every attempt's input p3 (${CPEWF_TASK_ID})
// is its own task id.
func TestConductorSimpleWorkflowRetryAtWorkflowLevel(t *testing.T) {
	defs := harnessTaskDefs(t)
	if err := defs.Put(taskDefRetries("integration_task_1", 1, 0)); err != nil {
		t.Fatal(err)
	}
	e := harnessEngine(t, nil, engine.WithTaskDefs(defs),
		engine.WithWorker("integration_task_1", failingWorker(2, "failure...0", `{}`)),
		engine.WithWorker("integration_task_2", echoWorker(`{}`)))
	d := harnessDef(t, e, simpleWF)
	res := startRun(t, e, d, `{"param1":"p1 value","param2":"p2 value"}`)
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusFailed {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:FAILED", "integration_task_1:FAILED")
	if _, err := e.Restart(context.Background(), res.RunID, false); err != nil {
		t.Fatal(err)
	}
	wf = viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("after retry: %s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:FAILED", "integration_task_1:FAILED", "integration_task_1:COMPLETED", "integration_task_2:COMPLETED")
	for _, tk := range wf.Tasks[:3] {
		if tk.Input["p3"] != tk.TaskID {
			t.Fatalf("task %s input p3 %v", tk.TaskID, tk.Input["p3"])
		}
	}
	if fmt.Sprint(wf.FailedRefs, wf.FailedNames) != "[t1] [integration_task_1]" {
		t.Fatalf("failedReferenceTaskNames %v, failedTaskNames %v", wf.FailedRefs, wf.FailedNames)
	}
}

// SimpleWorkflowSpec "Test if the workflow definitions with and without
// schema version can be registered", translated: registering is parsing
// here, and a run of the definition without schemaVersion (the spec's
// Groovy-built Test_schema_version1) records schemaVersion 2, as Conductor
// stores the definition with 2.
func TestConductorSchemaVersionDefault(t *testing.T) {
	e := harnessEngine(t, nil, harnessWorkers(nil, nil)...)
	for _, def := range []string{
		`{"name":"Test_schema_version1","version":1,"ownerEmail":"test@harness.com","tasks":[{"name":"integration_task_1","taskReferenceName":"t1"}]}`,
		`{"name":"Test_schema_version2","version":1,"schemaVersion":2,"ownerEmail":"test@harness.com","tasks":[{"name":"integration_task_1","taskReferenceName":"t1"}]}`,
	} {
		d, err := e.Parse([]byte(def))
		if err != nil {
			t.Fatal(err)
		}
		res := startRun(t, e, d, `{}`)
		b, _ := e.Show(context.Background(), res.RunID)
		var v struct {
			SchemaVersion int `json:"schemaVersion"`
		}
		_ = json.Unmarshal(b, &v)
		if v.SchemaVersion != 2 || !strings.Contains(string(b), `"COMPLETED"`) {
			t.Fatalf("%s: schemaVersion %d (%s)", d.Name, v.SchemaVersion, b)
		}
	}
}

// A definition without a version is version 1, as Conductor's WorkflowDef
// defaults it; the run shows it.
func TestDefinitionVersionDefault(t *testing.T) {
	e := harnessEngine(t, nil, harnessWorkers(nil, nil)...)
	for def, want := range map[string]int{
		`{"name":"no_version","tasks":[{"name":"integration_task_1","taskReferenceName":"t1"}]}`:            1,
		`{"name":"version_3","version":3,"tasks":[{"name":"integration_task_1","taskReferenceName":"t1"}]}`: 3,
	} {
		d, err := e.Parse([]byte(def))
		if err != nil {
			t.Fatal(err)
		}
		if d.Version != want {
			t.Fatalf("%s: version %d, want %d", d.Name, d.Version, want)
		}
		res := startRun(t, e, d, `{}`)
		b, _ := e.Show(context.Background(), res.RunID)
		var v struct {
			Version int `json:"version"`
		}
		if err := json.Unmarshal(b, &v); err != nil || v.Version != want {
			t.Fatalf("%s: run shows version %d, want %d", d.Name, v.Version, want)
		}
	}
}
