package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// dynamicTasksOutput is what DynamicForkJoinSpec's first worker returns.
const dynamicTasksOutput = `{"dynamicTasks":[{"name":"integration_task_2","taskReferenceName":"xdt1"},{"name":"integration_task_3","taskReferenceName":"xdt2"}],
  "dynamicTasksInput":{"xdt1":{"k1":"v1"},"xdt2":{"k2":"v2"}}}`

func echoWorker(out string) engine.WorkerFunc {
	return func(context.Context, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(out), nil }
}

// DynamicForkJoinSpec "Test dynamic fork join success flow".
func TestConductorDynamicForkJoin(t *testing.T) {
	inputs := make(chan string, 2)
	seen := func(name string) engine.WorkerFunc {
		return func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			inputs <- name + string(in)
			return json.RawMessage(`{"ok1":"ov1"}`), nil
		}
	}
	e := harnessEngine(t, nil,
		engine.WithWorker("integration_task_1", echoWorker(dynamicTasksOutput)),
		engine.WithWorker("integration_task_2", seen("2")),
		engine.WithWorker("integration_task_3", seen("3")),
		engine.WithWorker("integration_task_4", echoWorker(`{}`)))
	d := harnessDef(t, e, "dynamic_fork_join_integration_test.json")
	res := startRun(t, e, d, `{}`, engine.WithCorrelationID("dynamic_fork_join_workflow"))
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "FORK:COMPLETED", "integration_task_2:COMPLETED",
		"integration_task_3:COMPLETED", "JOIN:COMPLETED", "integration_task_4:COMPLETED")
	join := wf.Tasks[4]
	if join.Ref != "dynamicfanouttask_join" || !reflect.DeepEqual(join.Input["joinOn"], []any{"xdt1", "xdt2"}) {
		t.Fatalf("join %+v", join)
	}
	for _, ref := range []string{"xdt1", "xdt2"} {
		if o, _ := join.Output[ref].(map[string]any); o["ok1"] != "ov1" {
			t.Fatalf("join output %v", join.Output)
		}
	}
	got := map[string]map[string]any{}
	for range 2 {
		s := <-inputs
		m := map[string]any{}
		_ = json.Unmarshal([]byte(s[1:]), &m)
		got[s[:1]] = m
	}
	if got["2"]["k1"] != "v1" || got["3"]["k2"] != "v2" {
		t.Fatalf("forked task inputs %v", got)
	}
	if fork := wf.Tasks[1]; !reflect.DeepEqual(fork.Input["forkedTasks"], []any{"xdt1", "xdt2"}) {
		t.Fatalf("fork input %v", fork.Input)
	}
}

// DynamicForkJoinSpec "Test dynamic fork join failure of dynamic forked task
// flow": integration_task_2 without retries fails; the other forked task and
// the JOIN are cancelled, the JOIN still recording its joinOn.
func TestConductorDynamicForkJoinFailure(t *testing.T) {
	defs := harnessTaskDefs(t)
	zero := 0
	rt := int64(120)
	if err := defs.Put(&engine.TaskDef{Name: "integration_task_2", Description: "integration_task_2", OwnerEmail: "test@harness.com",
		RetryCount: &zero, TimeoutSeconds: 120, ResponseTimeoutSeconds: &rt}); err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	e := harnessEngine(t, nil, engine.WithTaskDefs(defs),
		engine.WithWorker("integration_task_1", echoWorker(dynamicTasksOutput)),
		engine.WithWorker("integration_task_2", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			<-started
			return nil, errors.New("it is a failure..")
		}),
		engine.WithWorker("integration_task_3", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			close(started)
			<-ctx.Done()
			return nil, ctx.Err()
		}))
	d := harnessDef(t, e, "dynamic_fork_join_integration_test.json")
	res := startRun(t, e, d, `{}`)
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusFailed {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "FORK:COMPLETED", "integration_task_2:FAILED",
		"integration_task_3:CANCELED", "JOIN:CANCELED")
	if join := wf.Tasks[4]; join.Ref != "dynamicfanouttask_join" || !reflect.DeepEqual(join.Input["joinOn"], []any{"xdt1", "xdt2"}) {
		t.Fatalf("join %+v", join)
	}
}

// DoWhileSpec "Test DO_WHILE iteration counter is correct at 500 iterations
// (issue #799)": the loop task's own iteration, read as
// ${loopTask['iteration']} by each LAMBDA, and the records' iterations.
func TestConductorDoWhileIteration(t *testing.T) {
	for _, file := range []string{"do_while_iteration_fix_test.json", "do_while_high_iteration_test.json"} {
		t.Run(file, func(t *testing.T) {
			e := harnessEngine(t, nil)
			d := harnessDef(t, e, file)
			res := startRun(t, e, d, `{"loop":500}`)
			wf := viewRun(t, e, res.RunID)
			if wf.Status != engine.StatusCompleted {
				t.Fatalf("%s %q", wf.Status, wf.Reason)
			}
			if len(wf.Tasks) != 501 {
				t.Fatalf("%d tasks", len(wf.Tasks))
			}
			if tk := wf.Tasks[0]; tk.TaskType != "DO_WHILE" || tk.Status != "COMPLETED" || tk.Iteration != 500 {
				t.Fatalf("loop %s %s iteration %d", tk.TaskType, tk.Status, tk.Iteration)
			}
			first, last := wf.Tasks[1], wf.Tasks[500]
			if first.TaskType != "LAMBDA" || first.Iteration != 1 || last.Iteration != 500 || last.Status != "COMPLETED" {
				t.Fatalf("first %+v last %+v", first, last)
			}
			if file == "do_while_iteration_fix_test.json" && (first.Output["result"] != 0.0 || last.Output["result"] != 499.0) {
				t.Fatalf("results %v %v", first.Output["result"], last.Output["result"])
			}
		})
	}
}

// DecisionTaskSpec "Test simple decision workflow": a legacy DECISION
// (caseValueParam) records its case in inputData.case and, as Conductor's
// DecisionTaskMapper does, its output is caseOutput (not SWITCH's
// evaluationResult).
func TestConductorDecisionCaseOutput(t *testing.T) {
	opts := []engine.Option{}
	for _, n := range []string{"integration_task_1", "integration_task_2", "integration_task_5", "integration_task_20"} {
		opts = append(opts, engine.WithWorker(n, echoWorker(`{}`)))
	}
	e := harnessEngine(t, nil, opts...)
	d := harnessDef(t, e, "simple_decision_task_integration_test.json")
	res := startRun(t, e, d, `{"param1":"p1","param2":"p2","case":"c"}`, engine.WithCorrelationID("decision_workflow"))
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "DECISION:COMPLETED", "integration_task_1:COMPLETED", "integration_task_2:COMPLETED", "integration_task_20:COMPLETED")
	dec := wf.Tasks[0]
	if dec.Input["case"] != "c" || dec.Input["hasChildren"] != "true" || !reflect.DeepEqual(dec.Output, map[string]any{"caseOutput": []any{"c"}}) {
		t.Fatalf("decision input %v output %v", dec.Input, dec.Output)
	}
}

// SubWorkflowSpec "Test retrying a subworkflow where parent workflow timed
// out due to workflowTimeout" (up to the retry): the sub-workflow's name is
// "${workflow.input.subwf}"; the parent (timeoutPolicy TIME_OUT_WF,
// timeoutSeconds 10, as the spec sets them) times out while the child waits
// on its worker: the parent is TIMED_OUT with its SUB_WORKFLOW task
// CANCELED, the child TERMINATED with its task CANCELED.
func TestConductorSubWorkflowParentTimeout(t *testing.T) {
	// The parent's deadline and the child task's response timeout.
	e, res := runUntilTimeout(t, "workflow_with_sub_workflow_1_integration_test.json", 10, "simple_task_in_sub_wf", 2, 11*time.Second,
		`{"param1":"p1 value","param2":"p2 value","subwf":"sub_workflow"}`,
		[]engine.Option{engine.WithWorker("integration_task_1", echoWorker(`{"op":"task1.done"}`))},
		engine.WithCorrelationID("wf_with_subwf_test_1"))
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusTimedOut {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "SUB_WORKFLOW:CANCELED")
	sub := viewRun(t, e, wf.Tasks[1].SubWorkflowID)
	if sub.Status != engine.StatusTerminated || !strings.HasPrefix(sub.Reason, "Parent workflow has been terminated with reason: Workflow timed out") {
		t.Fatalf("sub-workflow %s %q", sub.Status, sub.Reason)
	}
	checkTasks(t, sub.Tasks, "simple_task_in_sub_wf:CANCELED")
}

// A branch that is not joined on fails while a SUB_WORKFLOW after the JOIN
// runs: the parent FAILS and its child is TERMINATED (Conductor cancels every
// non-terminal task of a failed workflow, and SubWorkflow.cancel terminates
// the child), not left RUNNING.
func TestForkBranchFailureTerminatesSubWorkflowAfterJoin(t *testing.T) {
	const def = `{"name":"fork_then_sub","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	   [{"name":"late_failure","taskReferenceName":"fails","type":"SIMPLE","retryCount":0}],
	   [{"name":"quick","taskReferenceName":"quick","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["quick"]},
	 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"child_wf","version":1,
	   "workflowDefinition":{"name":"child_wf","version":1,"schemaVersion":2,"tasks":[
	     {"name":"child_task","taskReferenceName":"child_task","type":"SIMPLE","retryCount":0}]}}}]}`
	childPolled := make(chan struct{})
	e := harnessEngine(t, nil,
		engine.WithWorker("late_failure", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			select {
			case <-childPolled:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return nil, errors.New("the branch fails after the JOIN let the sub-workflow start")
		}),
		engine.WithWorker("child_task", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			close(childPolled)
			<-ctx.Done()
			return nil, ctx.Err()
		}))
	d, err := e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := e.Start(ctx, d, json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusFailed {
		t.Fatalf("parent %s %q", wf.Status, wf.Reason)
	}
	var childID string
	for _, tk := range wf.Tasks {
		if tk.TaskType == "SUB_WORKFLOW" {
			childID = tk.SubWorkflowID
		}
	}
	if childID == "" {
		t.Fatalf("no sub-workflow started: %+v", wf.Tasks)
	}
	sub := viewRun(t, e, childID)
	if sub.Status != engine.StatusTerminated || !strings.HasPrefix(sub.Reason, "Parent workflow has been terminated with reason: ") {
		t.Fatalf("sub-workflow %s %q", sub.Status, sub.Reason)
	}
	checkTasks(t, sub.Tasks, "child_task:CANCELED")
}
