package engine_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// WorkflowAndTaskConfigurationSpec "Test workflow with no tasks": a
// definition without tasks, started inline, completes at once with no
// task. Conductor's decider ends it with "No tasks found to be executed"
// and no output, whatever its outputParameters say.
func TestConductorWorkflowWithNoTasks(t *testing.T) {
	for _, tc := range []struct{ name, def string }{
		{"spec", ""},
		{"empty list and outputParameters", `{"name":"empty_out","schemaVersion":2,"tasks":[],"outputParameters":{"a":"${workflow.input.a}"}}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := harnessEngine(t, nil)
			var d *engine.Definition
			if tc.def == "" {
				d = harnessDef(t, e, "transcribed/empty_workflow.json")
			} else {
				var err error
				if d, err = e.Parse([]byte(tc.def)); err != nil {
					t.Fatal(err)
				}
			}
			res := startRun(t, e, d, `{"a":1}`, engine.WithCorrelationID("empty_workflow"))
			wf := viewRun(t, e, res.RunID)
			if wf.Status != engine.StatusCompleted || len(wf.Tasks) != 0 || wf.CorrelationID != "empty_workflow" {
				t.Fatalf("%s with %d tasks, correlationId %q", wf.Status, len(wf.Tasks), wf.CorrelationID)
			}
			if wf.Reason != "No tasks found to be executed" || len(wf.Output) != 0 || res.Status != engine.StatusCompleted {
				t.Fatalf("reason %q, output %v, result %s", wf.Reason, wf.Output, res.Status)
			}
			// Registering it is what Conductor's metadata validation refuses.
			if err := engine.CheckRegistrable(d); !errors.Is(err, engine.ErrInvalidDefinition) {
				t.Fatalf("CheckRegistrable: %v", err)
			}
		})
	}
}

// A SUB_WORKFLOW's inline workflowDefinition without tasks is started as
// any other: the child completes at once and the parent goes on.
func TestSubWorkflowInlineWithNoTasks(t *testing.T) {
	const def = `{"name":"parent_of_empty","version":1,"schemaVersion":2,"tasks":[
	 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"empty_child","version":1,
	   "workflowDefinition":{"name":"empty_child","version":1,"schemaVersion":2,"tasks":[]}}},
	 {"name":"after","taskReferenceName":"after","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}}]}`
	e := harnessEngine(t, nil)
	d, err := e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	if err := engine.CheckRegistrable(d); err != nil {
		t.Fatalf("CheckRegistrable: %v", err)
	}
	wf := viewRun(t, e, startRun(t, e, d, `{}`).RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "SUB_WORKFLOW:COMPLETED", "INLINE:COMPLETED")
	child := viewRun(t, e, wf.Tasks[0].SubWorkflowID)
	if child.Status != engine.StatusCompleted || len(child.Tasks) != 0 || child.Reason != "No tasks found to be executed" {
		t.Fatalf("child %s with %d tasks, reason %q", child.Status, len(child.Tasks), child.Reason)
	}
}

// Conductor ends a workflow without tasks through its terminate path, which
// starts the definition's failureWorkflow whatever the status: the run is
// COMPLETED and its output names the failure run, whose input says
// failureStatus COMPLETED and the reason.
func TestWorkflowWithNoTasksStartsFailureWorkflow(t *testing.T) {
	e := harnessEngine(t, nil)
	d, err := e.Parse([]byte(`{"name":"empty_with_fw","version":1,"schemaVersion":2,"failureWorkflow":"failure_workflow","tasks":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	wf := viewRun(t, e, startRun(t, e, d, `{"a":1}`).RunID)
	id, _ := wf.Output["conductor.failure_workflow"].(string)
	if wf.Status != engine.StatusCompleted || len(wf.Output) != 1 || id == "" {
		t.Fatalf("%s, output %v", wf.Status, wf.Output)
	}
	fw := waitRun(t, e, id)
	if fw.Input["failureStatus"] != "COMPLETED" || fw.Input["reason"] != "No tasks found to be executed" || fw.Input["workflowId"] != wf.WorkflowID {
		t.Fatalf("failure run input %v", fw.Input)
	}
}

// START_WORKFLOW validates its StartWorkflowRequest as Conductor's start
// endpoint does: an inline workflowDef without tasks fails the task.
func TestStartWorkflowWithNoTasksFails(t *testing.T) {
	e := harnessEngine(t, nil)
	d := harnessDef(t, e, "workflow_that_starts_another_workflow.json")
	wf := viewRun(t, e, startRun(t, e, d, `{"startWorkflow":{"name":"empty_wf","workflowDef":{"name":"empty_wf","schemaVersion":2,"tasks":[]}}}`).RunID)
	if wf.Status != engine.StatusFailed || len(wf.Tasks) != 1 || wf.Tasks[0].Status != engine.TaskFailed ||
		!strings.Contains(wf.Tasks[0].Reason, "WorkflowTask list cannot be empty") {
		t.Fatalf("%s %q, tasks %+v", wf.Status, wf.Reason, wf.Tasks)
	}
}
