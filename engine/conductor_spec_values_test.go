package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// recordingWorker answers out and keeps the input of each of its calls.
type recordingWorker struct {
	mu     sync.Mutex
	inputs []map[string]any
}

func (w *recordingWorker) worker(fails int, reason, out string) engine.WorkerFunc {
	return func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		var m map[string]any
		_ = json.Unmarshal(in, &m)
		w.mu.Lock()
		w.inputs = append(w.inputs, m)
		n := len(w.inputs)
		w.mu.Unlock()
		if n <= fails {
			return nil, fmt.Errorf("%s", reason)
		}
		return json.RawMessage(out), nil
	}
}

func (w *recordingWorker) calls() []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]map[string]any(nil), w.inputs...)
}

// hasInput checks that in holds each member of want.
func hasInput(t *testing.T, what string, in map[string]any, want map[string]any) {
	t.Helper()
	for k, v := range want {
		if !reflect.DeepEqual(in[k], v) {
			t.Fatalf("%s: input %s = %v, want %v (input %v)", what, k, in[k], v, in)
		}
	}
}

// SimpleWorkflowSpec "Test simple workflow completion": what the test of
// TestConductorSimpleWorkflowSpec does not look at, integration_task_2's
// input as polled (tp1 the workflow's param1, tp2 task 1's output op) and
// as recorded; the run's output has o3.
func TestConductorSimpleWorkflowCompletionInputs(t *testing.T) {
	t2 := &recordingWorker{}
	e := harnessEngine(t, nil,
		engine.WithWorker("integration_task_1", echoWorker(`{"op":"task1.done"}`)),
		engine.WithWorker("integration_task_2", t2.worker(0, "", `{}`)))
	d := harnessDef(t, e, simpleWF)
	wf := viewRun(t, e, startRun(t, e, d, `{"param1":"p1 value","param2":"p2 value"}`, engine.WithCorrelationID("unit_test_1")).RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "integration_task_2:COMPLETED")
	want := map[string]any{"tp1": "p1 value", "tp2": "task1.done"}
	calls := t2.calls()
	if len(calls) != 1 {
		t.Fatalf("integration_task_2 called %d times", len(calls))
	}
	hasInput(t, "polled integration_task_2", calls[0], want)
	hasInput(t, "integration_task_2's record", wf.Tasks[1].Input, want)
	if wf.Output["o3"] != "task1.done" {
		t.Fatalf("output %v", wf.Output)
	}
}

// SimpleWorkflowSpec "Test simple workflow with task retries": each of the
// three attempts of integration_task_2 (retryCount 3, retryDelaySeconds 2,
// as the spec's updateTaskDef sets it) is polled with tp1 "p1 value" and
// tp2 the output integration_task_1 built from its input; the records are
// linked by retriedTaskId.
func TestConductorSimpleWorkflowTaskRetryInputs(t *testing.T) {
	defs := harnessTaskDefs(t)
	if err := defs.Put(taskDefRetries("integration_task_2", 3, 2)); err != nil {
		t.Fatal(err)
	}
	t1, t2 := &recordingWorker{}, &recordingWorker{}
	e := harnessEngine(t, nil, engine.WithTaskDefs(defs),
		engine.WithWorker("integration_task_1", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			var m map[string]any
			_ = json.Unmarshal(in, &m)
			out, _ := json.Marshal(map[string]any{"op": fmt.Sprintf("task1.output -> %v.%v", m["p1"], m["p2"])})
			return t1.worker(0, "", string(out))(ctx, in)
		}),
		engine.WithWorker("integration_task_2", t2.worker(2, "failure...0", `{}`)))
	d := harnessDef(t, e, simpleWF)
	wf := viewRun(t, e, startRun(t, e, d, `{"param1":"p1 value","param2":"p2 value"}`, engine.WithCorrelationID("integration_test_1")).RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "integration_task_2:FAILED", "integration_task_2:FAILED", "integration_task_2:COMPLETED")
	if c := t1.calls(); len(c) != 1 {
		t.Fatalf("integration_task_1 called %d times", len(c))
	} else {
		hasInput(t, "polled integration_task_1", c[0], map[string]any{"p1": "p1 value", "p2": "p2 value"})
	}
	want := map[string]any{"tp1": "p1 value", "tp2": "task1.output -> p1 value.p2 value"}
	calls := t2.calls()
	if len(calls) != 3 {
		t.Fatalf("integration_task_2 called %d times", len(calls))
	}
	for i, in := range calls {
		hasInput(t, fmt.Sprintf("attempt %d of integration_task_2", i+1), in, want)
		hasInput(t, fmt.Sprintf("record of attempt %d", i+1), wf.Tasks[i+1].Input, want)
	}
	if wf.Tasks[2].RetriedTaskID != wf.Tasks[1].TaskID || wf.Tasks[3].RetriedTaskID != wf.Tasks[2].TaskID {
		t.Fatalf("retriedTaskId %q %q", wf.Tasks[2].RetriedTaskID, wf.Tasks[3].RetriedTaskID)
	}
}

// runVariables is the run's variables, as its document shows them.
func runVariables(t *testing.T, e *engine.Engine, id string) string {
	t.Helper()
	b, err := e.Show(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Variables map[string]any `json:"variables"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(v.Variables)
	return string(got)
}

// WaitTaskSpec "Test workflow with set variable task"
// (set_variable_workflow_integration_test, unmodified): the worker task
// "simple" completes with {ok1: ov1}, SET_VARIABLE sets var, and the run
// waits on its WAIT task with the variable set; once the WAIT is completed
// from outside the run completes, its output the variables.
func TestConductorWaitTaskSpecSetVariable(t *testing.T) {
	e := harnessEngine(t, nil, engine.WithWorker("simple", echoWorker(`{"ok1":"ov1"}`)))
	d := harnessDef(t, e, "set_variable_workflow_integration_test.json")
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(context.Background(), d, json.RawMessage(`{"var":"var_test_value"}`), engine.WithRunID("wait-setvar"))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	wf := waitTasks(t, e, "wait-setvar", "simple:COMPLETED", "SET_VARIABLE:COMPLETED", "WAIT:IN_PROGRESS")
	if wf.Status != engine.StatusRunning || wf.Tasks[0].Output["ok1"] != "ov1" {
		t.Fatalf("%s, simple's output %v", wf.Status, wf.Tasks[0].Output)
	}
	if v := runVariables(t, e, "wait-setvar"); v != `{"var":"var_test_value"}` {
		t.Fatalf("variables while waiting %s", v)
	}
	if _, err := e.CompleteTask(context.Background(), "wait-setvar", "wait0", engine.TaskCompleted, nil); err != nil {
		t.Fatal(err)
	}
	if res := ended(t, done); res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%+v", res)
	}
	wf = viewRun(t, e, "wait-setvar")
	checkTasks(t, wf.Tasks, "simple:COMPLETED", "SET_VARIABLE:COMPLETED", "WAIT:COMPLETED")
	if v := runVariables(t, e, "wait-setvar"); v != `{"var":"var_test_value"}` {
		t.Fatalf("variables %s", v)
	}
	if out, _ := json.Marshal(wf.Output); string(out) != `{"variables":{"var":"var_test_value"}}` {
		t.Fatalf("output %s", out)
	}
}

// FailureWorkflowSpec "Test workflow with a task failed in subworkflow":
// what TestConductorFailureWorkflowAfterSubWorkflow does not look at, the
// failed child's records' seq (1, 2) and its reason.
func TestConductorFailureWorkflowSubWorkflowSeqs(t *testing.T) {
	e := harnessEngine(t, nil)
	d := harnessDef(t, e, "test_task_failed_parent_workflow.json")
	wf := viewRun(t, e, startRun(t, e, d, `{"a":1}`).RunID)
	if wf.Status != engine.StatusFailed {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	sw := byRef(wf.Tasks)["test_task_failed_sub_wf"]
	sub := viewRun(t, e, sw.SubWorkflowID)
	if sub.Status != engine.StatusFailed || !strings.Contains(sub.Reason, "Workflow is FAILED by TERMINATE task") {
		t.Fatalf("child %s %q", sub.Status, sub.Reason)
	}
	checkTasks(t, sub.Tasks, "LAMBDA:COMPLETED", "TERMINATE:COMPLETED")
	seqs(1, 2)(t, e, sub)
	if len(sub.Tasks) != 2 || sub.Tasks[1].Seq != 2 {
		t.Fatalf("child's tasks %+v", sub.Tasks)
	}
	_ = waitRun(t, e, wf.Output["conductor.failure_workflow"].(string))
}

// JsonJQTransformSpec "Test rerun workflow with failed json jq transform
// task" (test_json_jq_transform_wf, unmodified): with in1 and in2 strings
// the jq task FAILS ("Cannot index string with string \"array\""); a rerun
// from that task with the spec's taskInput (the input and the query)
// completes it: one task, its output result {out: [a, b, c, d]} and
// resultList.
func TestConductorJQRerunWithTaskInput(t *testing.T) {
	e := harnessEngine(t, nil)
	d := harnessDef(t, e, "simple_json_jq_transform_integration_test.json")
	res := startRun(t, e, d, `{"in1":"a","in2":"b"}`)
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusFailed {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "JSON_JQ_TRANSFORM:FAILED")
	if r := wf.Tasks[0].Reason; r != `Cannot index string with string "array"` {
		t.Fatalf("reason %q", r)
	}
	taskInput := `{"input":{"in1":{"array":["a","b"]},"in2":{"array":["c","d"]}},
	  "queryExpression":".input as $_ | { out: ($_.in1.array + $_.in2.array) }"}`
	if _, err := e.RerunWith(context.Background(), res.RunID, engine.RerunOptions{FromTaskID: wf.Tasks[0].TaskID,
		TaskInput: json.RawMessage(taskInput)}); err != nil {
		t.Fatal(err)
	}
	wf = viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("after the rerun: %s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "JSON_JQ_TRANSFORM:COMPLETED")
	out := wf.Tasks[0].Output
	if b, _ := json.Marshal(out["result"]); string(b) != `{"out":["a","b","c","d"]}` {
		t.Fatalf("result %s", b)
	}
	if b, _ := json.Marshal(out["resultList"]); string(b) != `[{"out":["a","b","c","d"]}]` {
		t.Fatalf("resultList %s", b)
	}
}

// JsonJQTransformSpec "Test json jq transform task with nested json object
// succeeds" (sequential_json_jq_transform_wf, unmodified, with the spec's
// input): the first task's result carries the input's method and
// transforms; the second runs the requestTransform the first produced.
func TestConductorJQNestedJSONObject(t *testing.T) {
	e := harnessEngine(t, nil)
	d := harnessDef(t, e, "sequential_json_jq_transform_integration_test.json")
	in := map[string]any{
		"method":            "POST",
		"body":              map[string]any{"name": "Beary Beariston", "title": "the Brown Bear"},
		"requestTransform":  `{name: (.body.name + " you are " + .body.title) }`,
		"responseTransform": `{result: "reply: " + .response.body.message}`,
	}
	b, _ := json.Marshal(in)
	wf := viewRun(t, e, startRun(t, e, d, string(b)).RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "JSON_JQ_TRANSFORM:COMPLETED", "JSON_JQ_TRANSFORM:COMPLETED")
	for i, tk := range wf.Tasks {
		if _, ok := tk.Output["resultList"]; !ok {
			t.Fatalf("task %d output %v", i, tk.Output)
		}
	}
	r1, _ := wf.Tasks[0].Output["result"].(map[string]any)
	for _, k := range []string{"method", "requestTransform", "responseTransform"} {
		if r1[k] != in[k] {
			t.Fatalf("result %s = %v, want %v", k, r1[k], in[k])
		}
	}
	r2, _ := wf.Tasks[1].Output["result"].(map[string]any)
	if r2["name"] != "Beary Beariston you are the Brown Bear" {
		t.Fatalf("second result %v", wf.Tasks[1].Output["result"])
	}
}

// InlineSubWorkflowFromExpressionSpec, step by step: wf_builder
// (integration_task_1) waits SCHEDULED; answered with the sub-workflow
// definition, the SUB_WORKFLOW task runs it IN_PROGRESS, the child RUNNING;
// the child's high-path integration_task_1 (category "high", iteration 2)
// waits for its worker; answered, the child completes with loopsDone 2 and
// allDone true, and so does the parent.
func TestConductorInlineSubWorkflowFromExpressionSteps(t *testing.T) {
	sub, err := os.ReadFile(conductorDir + "/transcribed/complex_dynamic_plan_wf.json")
	if err != nil {
		t.Fatal(err)
	}
	runStepCases(t, []stepCase{{name: "inline sub-workflow from an expression", file: "transcribed/inline_subwf_expr_parent_wf.json",
		input: `{"iterations":2,"threshold":5}`, correlationID: "inline-subwf-expr-test", steps: []specStep{
			expect("RUNNING", 1, "0 integration_task_1:SCHEDULED").then(func(t *testing.T, _ *engine.Engine, wf runView) {
				if wf.Tasks[0].Ref != "wf_builder" {
					t.Fatalf("task 0 is %s", wf.Tasks[0].Ref)
				}
			}),
			complete("integration_task_1", `{"result":`+string(sub)+`}`),
			expect("RUNNING", 2, "1 SUB_WORKFLOW:IN_PROGRESS"),
			expectChild("exec", "RUNNING", -1).then(func(t *testing.T, e *engine.Engine, wf runView) {
				// The child waits on the high path's worker task.
				waitFor(t, "the high-path task", func() bool {
					for _, tk := range viewRun(t, e, wf.WorkflowID).Tasks {
						if tk.TaskType == "integration_task_1" && tk.Status == engine.TaskScheduled && tk.Input["category"] == "high" {
							return true
						}
					}
					return false
				})
			}),
			complete("integration_task_1", `{"label":"high","done":true}`),
			expectChild("exec", "COMPLETED", -1).then(func(t *testing.T, _ *engine.Engine, wf runView) {
				if wf.Output["loopsDone"] != 2.0 || wf.Output["allDone"] != true {
					t.Fatalf("child output %v", wf.Output)
				}
			}),
			expect("COMPLETED", 2, "1 SUB_WORKFLOW:COMPLETED"),
		}}})
}
