package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// InlineSubWorkflowFromExpressionSpec: the definitions the spec builds in
// Groovy, transcribed as JSON (testdata/conductor/transcribed, SOURCES.md).
// wf_builder (integration_task_1) returns the sub-workflow definition; the
// SUB_WORKFLOW's workflowDefinition "${wf_builder.output.result}" runs it
// (complex_dynamic_plan_wf is not in the definitions directory). With
// iterations=2, threshold=5: iteration 1 takes the low path (INLINE),
// iteration 2 the high path (integration_task_1 with category "high"); the
// child completes with loopsDone 2, allDone true, and so does the parent.
func TestConductorInlineSubWorkflowFromExpression(t *testing.T) {
	sub, err := os.ReadFile(conductorDir + "/transcribed/complex_dynamic_plan_wf.json")
	if err != nil {
		t.Fatal(err)
	}
	var highInputs []map[string]any
	e := harnessEngine(t, nil, engine.WithWorker("integration_task_1", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		var m map[string]any
		_ = json.Unmarshal(in, &m)
		if m["category"] == "high" {
			highInputs = append(highInputs, m)
			return json.RawMessage(`{"label":"high","done":true}`), nil
		}
		if m["tp1"] != 5.0 || m["tp2"] != 2.0 {
			t.Errorf("wf_builder input %v", m)
		}
		return json.RawMessage(`{"result":` + string(sub) + `}`), nil
	}))
	d := harnessDef(t, e, "transcribed/inline_subwf_expr_parent_wf.json")
	res := startRun(t, e, d, `{"iterations":2,"threshold":5}`, engine.WithCorrelationID("inline-subwf-expr-test"))
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "SUB_WORKFLOW:COMPLETED")
	if wf.Tasks[0].Ref != "wf_builder" {
		t.Fatalf("tasks %+v", wf.Tasks)
	}
	child := viewRun(t, e, wf.Tasks[1].SubWorkflowID)
	if child.Status != engine.StatusCompleted || child.Output["loopsDone"] != 2.0 || child.Output["allDone"] != true {
		t.Fatalf("sub-workflow %s %v", child.Status, child.Output)
	}
	var high int
	for _, tk := range child.Tasks {
		if tk.TaskType == "integration_task_1" && tk.Input["category"] == "high" {
			high++
		}
	}
	if high != 1 || len(highInputs) != 1 || highInputs[0]["product"] != 10.0 {
		t.Fatalf("high-path tasks %d, inputs %v", high, highInputs)
	}
	jsonEq(t, res.Output, `{"loopsDone":2,"allDone":true}`)
}

// A workflowDefinition expression that gives something other than a
// definition fails the task with the reason; one that gives nothing falls
// back to subWorkflowParam.name (SubWorkflowTaskMapper), here a name and
// version without a definition, which SubWorkflow.start's lookup fails
// (FAILED, with its words); one whose definition reads a secret the
// parent's definition does not is refused.
func TestSubWorkflowDefinitionExpressionEdges(t *testing.T) {
	for _, tc := range []struct {
		name, output, wantStatus, wantReason string
	}{
		{"not an object", `{"result":"a text"}`, engine.StatusFailed, "resolved to a string, not a workflow definition"},
		{"absent: by name", `{}`, engine.StatusFailed, `No such workflow defined. name=complex_dynamic_plan_wf, version=1`},
		{"invalid definition", `{"result":{"name":"x","tasks":[{"name":"a","type":"SIMPLE"}]}}`, engine.StatusFailed, "taskReferenceName"},
		{"chosen secret", `{"result":{"name":"x","tasks":[{"name":"a","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1","k":"${workflow.secrets.db_password}"}}]}}`,
			engine.StatusFailed, "references secrets the workflow definition does not (db_password)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := harnessEngine(t, nil, engine.WithWorker("integration_task_1", echoWorker(tc.output)))
			d := harnessDef(t, e, "transcribed/inline_subwf_expr_parent_wf.json")
			res := startRun(t, e, d, `{"iterations":2,"threshold":5}`)
			wf := viewRun(t, e, res.RunID)
			if wf.Status != tc.wantStatus || !strings.Contains(wf.Reason, tc.wantReason) {
				t.Fatalf("%s %q, want %s with %q", wf.Status, wf.Reason, tc.wantStatus, tc.wantReason)
			}
			sub := "SUB_WORKFLOW:FAILED_WITH_TERMINAL_ERROR"
			if tc.name == "absent: by name" {
				sub = "SUB_WORKFLOW:FAILED"
			}
			checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", sub)
		})
	}
}

// DynamicForkTests.testTaskDynamicForkDuplicateReferenceNameOfForkedTasksWhenMultipleFor
// (e2e; the definition built in Java, transcribed): two FORK_JOIN_DYNAMIC
// tasks in the forkTaskName/forkTaskInputs form fork forked_task twice each;
// the second fork's refs carry its own ref so they do not collide with the
// first's, and the run COMPLETES.
func TestConductorTwoIdenticalDynamicForks(t *testing.T) {
	var mu sync.Mutex
	var inputs []map[string]any
	e := harnessEngine(t, nil, engine.WithWorker("forked_task", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
		var m map[string]any
		_ = json.Unmarshal(in, &m)
		mu.Lock()
		defer mu.Unlock()
		inputs = append(inputs, m)
		return json.RawMessage(`{"b":true}`), nil
	}))
	d := harnessDef(t, e, "transcribed/two_identical_dynamic_forks.json")
	res := startRun(t, e, d, `{}`)
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "FORK:COMPLETED", "forked_task:COMPLETED", "forked_task:COMPLETED", "JOIN:COMPLETED",
		"FORK:COMPLETED", "forked_task:COMPLETED", "forked_task:COMPLETED", "JOIN:COMPLETED")
	var refs []string
	for _, tk := range wf.Tasks {
		if tk.TaskType == "forked_task" {
			refs = append(refs, tk.Ref)
			if tk.Input["__index"] == nil || tk.Input["a"] == nil {
				t.Fatalf("forked task input %v", tk.Input)
			}
		}
	}
	if strings.Join(refs, " ") != "_forked_task_0 _forked_task_1 _dynamicFork2_forked_task_0 _dynamicFork2_forked_task_1" {
		t.Fatalf("refs %v", refs)
	}
	join2 := wf.Tasks[7]
	if join2.Output["_dynamicFork2_forked_task_1"] == nil || len(inputs) != 4 {
		t.Fatalf("join2 output %v, inputs %v", join2.Output, inputs)
	}
}

// SubWorkflowSpec "Test terminating a subworkflow terminates parent
// workflow": the child, terminated by a client while its task runs, is
// TERMINATED with the client's reason and its task CANCELED; the parent's
// SUB_WORKFLOW task is CANCELED and the parent TERMINATED, its reason
// carrying the child's (SubWorkflow.updateTaskStatus, DeciderService.retry).
func TestConductorTerminatingSubWorkflowTerminatesParent(t *testing.T) {
	polled := make(chan struct{}, 1)
	e := harnessEngine(t, nil,
		engine.WithWorker("integration_task_1", echoWorker(`{"op":"task1.done"}`)),
		engine.WithWorker("simple_task_in_sub_wf", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			polled <- struct{}{}
			<-ctx.Done()
			return nil, ctx.Err()
		}))
	d := harnessDef(t, e, "workflow_with_sub_workflow_1_integration_test.json")
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(context.Background(), d, json.RawMessage(`{"param1":"p1 value","param2":"p2 value","subwf":"sub_workflow"}`),
			engine.WithRunID("parent-1"), engine.WithCorrelationID("wf_with_subwf_test_1"))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	<-polled
	wf := waitTasks(t, e, "parent-1", "integration_task_1:COMPLETED", "SUB_WORKFLOW:IN_PROGRESS")
	subID := wf.Tasks[1].SubWorkflowID
	const reason = "terminating from a test case"
	if err := e.Terminate(context.Background(), subID, reason); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res == nil || res.Status != engine.StatusTerminated {
		t.Fatalf("parent %+v", res)
	}
	sub := viewRun(t, e, subID)
	if sub.Status != engine.StatusTerminated || sub.Reason != reason {
		t.Fatalf("sub-workflow %s %q", sub.Status, sub.Reason)
	}
	checkTasks(t, sub.Tasks, "simple_task_in_sub_wf:CANCELED")
	wf = viewRun(t, e, "parent-1")
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "SUB_WORKFLOW:CANCELED")
	if !strings.Contains(wf.Reason, reason) || !strings.Contains(wf.Tasks[1].Reason, "Sub workflow sub_workflow.1/"+subID+" failure reason: "+reason) {
		t.Fatalf("parent reason %q, task reason %q", wf.Reason, wf.Tasks[1].Reason)
	}
}

// A SUB_WORKFLOW record's inputData is what Conductor's
// SubWorkflowTaskMapper writes: subWorkflowName and subWorkflowVersion as
// resolved, the task's input under workflowInput, and the mapper's other
// members (null here). The child's input is workflowInput.
func TestSubWorkflowRecordInput(t *testing.T) {
	e := harnessEngine(t, nil, harnessWorkers(nil, nil)...)
	d := harnessDef(t, e, "workflow_with_sub_workflow_1_integration_test.json")
	res := startRun(t, e, d, `{"param1":"p1 value","param2":"p2 value","subwf":"sub_workflow"}`)
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "SUB_WORKFLOW:COMPLETED")
	in := wf.Tasks[1].Input
	b, _ := json.Marshal(in["workflowInput"])
	if in["subWorkflowName"] != "sub_workflow" || in["subWorkflowVersion"] != 1.0 ||
		string(b) != `{"param1":"p1 value","param2":"p2 value","subwf":null}` {
		t.Fatalf("inputData %v", in)
	}
	for _, k := range []string{"priority", "subWorkflowTaskToDomain", "subWorkflowDefinition", "idempotencyKey", "idempotencyStrategy"} {
		if v, ok := in[k]; !ok || v != nil {
			t.Fatalf("inputData.%s = %v (present %v), want null", k, v, ok)
		}
	}
	child := viewRun(t, e, wf.Tasks[1].SubWorkflowID)
	if child.Input["param1"] != "p1 value" || child.Input["subWorkflowName"] != nil {
		t.Fatalf("child input %v", child.Input)
	}

	// An inline definition: its name, no version.
	d, err := e.Parse([]byte(`{"name":"parent","tasks":[{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW",
	  "subWorkflowParam":{"workflowDefinition":{"name":"inline_child","version":3,"tasks":[{"name":"i","taskReferenceName":"i","type":"INLINE",
	    "inputParameters":{"evaluatorType":"javascript","expression":"$.x","x":"${workflow.input.x}"}}]}},
	  "inputParameters":{"x":"${workflow.input.x}"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	wf = viewRun(t, e, startRun(t, e, d, `{"x":7}`).RunID)
	in = wf.Tasks[0].Input
	if wf.Status != engine.StatusCompleted || in["subWorkflowName"] != "inline_child" || in["subWorkflowVersion"] != nil ||
		in["workflowInput"].(map[string]any)["x"] != 7.0 {
		t.Fatalf("%s %q inputData %v", wf.Status, wf.Reason, in)
	}
}
