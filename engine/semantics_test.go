package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// The tests in this file run Conductor test-harness definitions
// (testdata/conductor, unmodified; SOURCES.md) and assert what the
// harness's own Spock specs assert for them.

const conductorDir = "../testdata/conductor"

// runView is the part of a run document the specs look at.
type runView struct {
	WorkflowID    string         `json:"workflowId"`
	Status        string         `json:"status"`
	Reason        string         `json:"reasonForIncompletion"`
	CorrelationID string         `json:"correlationId"`
	Input         map[string]any `json:"input"`
	Output        map[string]any `json:"output"`
	Tasks         []taskView     `json:"tasks"`
	FailedRefs    []string       `json:"failedReferenceTaskNames"`
	FailedNames   []string       `json:"failedTaskNames"`
}

type taskView struct {
	TaskID        string         `json:"taskId"`
	Ref           string         `json:"referenceTaskName"`
	TaskType      string         `json:"taskType"`
	Status        string         `json:"status"`
	Reason        string         `json:"reasonForIncompletion"`
	Seq           int            `json:"seq"`
	RetryCount    int            `json:"retryCount"`
	RetriedTaskID string         `json:"retriedTaskId"`
	Iteration     int            `json:"iteration"`
	SubWorkflowID string         `json:"subWorkflowId"`
	Input         map[string]any `json:"inputData"`
	Output        map[string]any `json:"outputData"`
}

func viewRun(t *testing.T, e *engine.Engine, id string) runView {
	t.Helper()
	b, err := e.Show(context.Background(), id)
	if err != nil {
		t.Fatalf("show %s: %v", id, err)
	}
	var v runView
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// harnessTaskDefs are the test harness's registered task definitions.
func harnessTaskDefs(t *testing.T) *engine.TaskDefs {
	t.Helper()
	defs := engine.NewTaskDefs()
	if err := defs.LoadDir(conductorDir + "/taskdefs"); err != nil {
		t.Fatal(err)
	}
	return defs
}

// harnessEngine: definitions looked up in testdata/conductor, the harness's
// task definitions, the default task registry.
func harnessEngine(t *testing.T, store runstore.Store, opts ...engine.Option) *engine.Engine {
	t.Helper()
	if store == nil {
		store = runstore.NewMemory()
	}
	e, err := engine.New(append([]engine.Option{
		engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithRunStore(store),
		engine.WithDefinitionsDir(conductorDir),
		engine.WithTaskDefs(harnessTaskDefs(t)),
		engine.WithPollInterval(5 * time.Millisecond),
	}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func harnessDef(t *testing.T, e *engine.Engine, file string) *engine.Definition {
	t.Helper()
	b, err := os.ReadFile(conductorDir + "/" + file)
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse(b)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return d
}

// runUntilTimeout runs the harness definition file with timeoutPolicy
// TIME_OUT_WF and timeoutSeconds set (as Conductor's spec sets them), on a
// manual clock; the worker named blocked waits until its context ends. Once
// that worker was called and the engine waits on waiters clock timers, the
// clock moves by advance. It returns the engine and the run's result.
func runUntilTimeout(t *testing.T, file string, timeoutSeconds int, blocked string, waiters int, advance time.Duration,
	input string, opts []engine.Option, runOpts ...engine.RunOption) (*engine.Engine, *engine.Result) {
	t.Helper()
	b, err := os.ReadFile(conductorDir + "/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["timeoutPolicy"], m["timeoutSeconds"] = "TIME_OUT_WF", timeoutSeconds
	b, _ = json.Marshal(m)
	clock := engine.NewManualClock(time.Now())
	polled := make(chan struct{}, 1)
	opts = append(opts, engine.WithClock(clock),
		engine.WithWorker(blocked, func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			polled <- struct{}{}
			<-ctx.Done()
			return nil, ctx.Err()
		}))
	e := harnessEngine(t, nil, opts...)
	d, err := e.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(context.Background(), d, json.RawMessage(input), runOpts...)
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	<-polled
	if err := clock.WaitForWaiters(ctx, waiters); err != nil {
		t.Fatal(err)
	}
	clock.Advance(advance)
	res := <-done
	if res == nil {
		t.FailNow()
	}
	return e, res
}

func startRun(t *testing.T, e *engine.Engine, d *engine.Definition, input string, opts ...engine.RunOption) *engine.Result {
	t.Helper()
	res, err := e.Start(context.Background(), d, json.RawMessage(input), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// waitRun views a run the engine started on its own (a failure workflow,
// a START_WORKFLOW run) once the engine's background runs have ended.
func waitRun(t *testing.T, e *engine.Engine, id string) runView {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := e.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
	return viewRun(t, e, id)
}

func checkTasks(t *testing.T, got []taskView, want ...string) {
	t.Helper()
	var g []string
	for _, tk := range got {
		g = append(g, tk.TaskType+":"+tk.Status)
	}
	if strings.Join(g, " ") != strings.Join(want, " ") {
		t.Fatalf("tasks %v, want %v", g, want)
	}
}

// FailureWorkflowSpec "Test workflow with a task that failed".
func TestConductorFailureWorkflowAfterTerminate(t *testing.T) {
	e := harnessEngine(t, nil)
	d := harnessDef(t, e, "terminate_task_failed_workflow_integration.json")
	res := startRun(t, e, d, `{"a":1}`, engine.WithCorrelationID("testId"))
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusFailed || wf.Reason != "Early exit in terminate" {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "LAMBDA:COMPLETED", "TERMINATE:COMPLETED")
	if wf.Tasks[0].Seq != 1 || wf.Tasks[1].Seq != 2 {
		t.Fatalf("seq %d %d", wf.Tasks[0].Seq, wf.Tasks[1].Seq)
	}
	failedID, _ := wf.Output["conductor.failure_workflow"].(string)
	if failedID == "" {
		t.Fatalf("no failure workflow in output %v", wf.Output)
	}
	fw := waitRun(t, e, failedID)
	if fw.Status != engine.StatusCompleted || fw.CorrelationID != "testId" {
		t.Fatalf("failure run %s correlationId %q", fw.Status, fw.CorrelationID)
	}
	if fw.Input["workflowId"] != res.RunID || fw.Input["failureTaskId"] != wf.Tasks[1].TaskID {
		t.Fatalf("failure run input %v", fw.Input)
	}
	if fw.Input["failureStatus"] != "FAILED" || fw.Input["reason"] != "Early exit in terminate" || fw.Input["a"] != 1.0 {
		t.Fatalf("failure run input %v", fw.Input)
	}
	checkTasks(t, fw.Tasks, "LAMBDA:COMPLETED")
	failed, _ := fw.Input["failedWorkflow"].(map[string]any)
	if failed == nil || failed["workflowId"] != res.RunID || failed["status"] != "FAILED" {
		t.Fatalf("failedWorkflow %v", fw.Input["failedWorkflow"])
	}
}

// FailureWorkflowSpec "Test workflow with a task failed in subworkflow".
func TestConductorFailureWorkflowAfterSubWorkflow(t *testing.T) {
	e := harnessEngine(t, nil)
	d := harnessDef(t, e, "test_task_failed_parent_workflow.json")
	res := startRun(t, e, d, `{"a":1}`)
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusFailed {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "LAMBDA:COMPLETED", "SUB_WORKFLOW:FAILED")
	if wf.Tasks[0].Ref != "lambdaTask1" || wf.Tasks[0].Seq != 1 || wf.Tasks[1].Seq != 2 {
		t.Fatalf("tasks %+v", wf.Tasks)
	}
	sub := viewRun(t, e, wf.Tasks[1].SubWorkflowID)
	if sub.Status != engine.StatusFailed || !strings.Contains(sub.Reason, "Workflow is FAILED by TERMINATE task") {
		t.Fatalf("sub-workflow %s %q", sub.Status, sub.Reason)
	}
	checkTasks(t, sub.Tasks, "LAMBDA:COMPLETED", "TERMINATE:COMPLETED")
	fw := waitRun(t, e, wf.Output["conductor.failure_workflow"].(string))
	if fw.Status != engine.StatusCompleted || fw.CorrelationID != wf.CorrelationID {
		t.Fatalf("failure run %s %q", fw.Status, fw.CorrelationID)
	}
	if fw.Input["workflowId"] != res.RunID || fw.Input["failureTaskId"] != wf.Tasks[1].TaskID || fw.Input["failedWorkflow"] == nil {
		t.Fatalf("failure run input %v", fw.Input)
	}
	checkTasks(t, fw.Tasks, "LAMBDA:COMPLETED")
}

// The failed run copied into the failure run's input is masked: a `_secrets`
// value of the failed run never appears in the failure run, stored or shown.
func TestFailureWorkflowInputIsMasked(t *testing.T) {
	store := runstore.NewMemory()
	e := harnessEngine(t, store)
	d := harnessDef(t, e, "terminate_task_failed_workflow_integration.json")
	const secret = "tok-5e8c1d9f-secret"
	res := startRun(t, e, d, `{"a":1,"_secrets":{"token":"`+secret+`"},"copy":"`+secret+`"}`)
	wf := viewRun(t, e, res.RunID)
	id := wf.Output["conductor.failure_workflow"].(string)
	waitRun(t, e, id)
	stored, _, err := store.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	view, _ := e.Show(context.Background(), id)
	for name, doc := range map[string][]byte{"stored": stored, "shown": view} {
		if bytes.Contains(doc, []byte(secret)) || bytes.Contains(doc, []byte("tok-5e8c")) {
			t.Fatalf("%s failure run holds the secret: %s", name, doc)
		}
	}
	fw := viewRun(t, e, id)
	failed := fw.Input["failedWorkflow"].(map[string]any)
	in := failed["input"].(map[string]any)
	if in["_secrets"] != "***" || in["copy"] != "***" {
		t.Fatalf("failedWorkflow input %v", in)
	}
}

// WorkflowAndTaskConfigurationSpec "Test simple workflow with task time out
// configuration": integration_task_1 redefined with retryCount 1,
// timeoutSeconds 1, responseTimeoutSeconds 1, retryDelaySeconds 0,
// timeoutPolicy RETRY; a worker that never answers. The clock is moved, not
// waited for.
func TestConductorTaskTimeoutRetry(t *testing.T) {
	defs := harnessTaskDefs(t)
	one, zero := 1, 0
	rt := int64(1)
	if err := defs.Put(&engine.TaskDef{Name: "integration_task_1", Description: "integration_task_1", OwnerEmail: "test@harness.com",
		RetryCount: &one, TimeoutSeconds: 1, ResponseTimeoutSeconds: &rt, RetryDelaySeconds: &zero, TimeoutPolicy: "RETRY"}); err != nil {
		t.Fatal(err)
	}
	clock := engine.NewManualClock(time.Now())
	polled := make(chan struct{}, 4)
	e := harnessEngine(t, nil, engine.WithTaskDefs(defs), engine.WithClock(clock),
		engine.WithWorker("integration_task_1", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			polled <- struct{}{}
			<-ctx.Done() // polled, never answered
			return nil, ctx.Err()
		}))
	d := harnessDef(t, e, "simple_workflow_1_integration_test.json")
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(context.Background(), d, json.RawMessage(`{"param1":"p1 value","param2":"p2 value","failureWfName":"FanInOutTest"}`))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for attempt := 0; attempt < 2; attempt++ {
		select {
		case <-polled:
		case <-ctx.Done():
			t.Fatalf("attempt %d never polled", attempt)
		}
		if err := clock.WaitForWaiters(ctx, 2); err != nil { // timeoutSeconds + responseTimeoutSeconds
			t.Fatal(err)
		}
		clock.Advance(3 * time.Second)
	}
	res := <-done
	if res == nil {
		t.FailNow()
	}
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusTimedOut {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:TIMED_OUT", "integration_task_1:TIMED_OUT")
	if wf.Tasks[1].RetryCount != 1 || wf.Tasks[1].RetriedTaskID != wf.Tasks[0].TaskID {
		t.Fatalf("retry record %+v", wf.Tasks[1])
	}
	if !strings.HasPrefix(wf.Tasks[0].Reason, "Task timed out after 1 seconds") {
		t.Fatalf("task reason %q", wf.Tasks[0].Reason)
	}
	// failureWorkflow "$workflow.input.failureWfName" names FanInOutTest
	// (fork_join_integration_test.json): a run of it is started.
	fid, _ := wf.Output["conductor.failure_workflow"].(string)
	if fw := viewRun(t, e, fid); fw.Input["workflowId"] != res.RunID || fw.Input["failureStatus"] != engine.StatusTimedOut {
		t.Fatalf("failure run %s input %v", fw.Status, fw.Input)
	}
	stop, cancelStop := context.WithCancel(context.Background())
	cancelStop() // its workers never answer here
	_ = e.WaitStarted(stop)
}

// WorkflowAndTaskConfigurationSpec "Test workflow timeout configurations":
// integration_test_wf3 with timeoutPolicy TIME_OUT_WF and timeoutSeconds 5
// (the spec sets both on the registered definition).
func TestConductorWorkflowTimeout(t *testing.T) {
	// The workflow's deadline and the task's two timeouts (120 s each).
	e, res := runUntilTimeout(t, "simple_workflow_3_integration_test.json", 5, "integration_task_1", 3, 6*time.Second,
		`{"param1":"p1 value","param2":"p2 value","failureWfName":"FanInOutTest"}`, nil)
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusTimedOut || !strings.HasPrefix(wf.Reason, "Workflow timed out after 6 seconds. Timeout configured as 5 seconds.") {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:CANCELED")
}

// WorkflowAndTaskConfigurationSpec "test workflow with input template
// parsing".
func TestConductorWorkflowInputTemplate(t *testing.T) {
	e := harnessEngine(t, nil, engine.WithWorker("integration_task_1", func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`{"op":"task1.done"}`), nil
	}))
	d := harnessDef(t, e, "simple_workflow_1_input_template_integration_test.json")
	res := startRun(t, e, d, `{"param3":"external string"}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", res.Status, res.Reason)
	}
	jsonEq(t, res.Output, `{"output":"task1.done","param3":"external string","param2":["list","of","strings"],"param1":{"nested_object":{"nested_key":"nested_value"}}}`)
}
