package engine_test

import (
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// A TERMINATE whose termination status, resolved when it runs, is not
// COMPLETED, FAILED or TERMINATED spelled so: Conductor's Terminate.execute
// fails the task FAILED with "given termination status is not valid", and
// the next decision's retry() fails the run naming it. Registration
// refuses an expression status except under a DO_WHILE's loopOver, which
// it does not check, so the task is in a loop. A status resolving to no
// string is left out: Terminate.execute casts it to a String, and the
// ClassCastException goes out of Conductor's decide (not a state of the
// run to match).
func TestTerminateWithAnInvalidStatusFails(t *testing.T) {
	def := func() string {
		return `{"name":"w","tasks":[
		  {"name":"l","taskReferenceName":"l","type":"DO_WHILE","loopCondition":"false","loopOver":[
		    {"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":{"terminationStatus":"${workflow.input.st}","workflowOutput":{"x":1}}}]},
		  {"name":"echo","taskReferenceName":"after","inputParameters":{}}]}`
	}
	for _, st := range []string{`"DONE"`, `"completed"`, `null`} {
		t.Run(st, func(t *testing.T) {
			h := newHarness(t, nil)
			res := h.run(def(), `{"st":`+st+`}`)
			v := viewRun(t, h.e, res.RunID)
			checkTasks(t, v.Tasks, "DO_WHILE:CANCELED", "TERMINATE:FAILED")
			tk := v.Tasks[1]
			if tk.Reason != "given termination status is not valid" {
				t.Fatalf("task reason %q", tk.Reason)
			}
			want := "Task " + tk.TaskID + " failed with status: FAILED and reason: 'given termination status is not valid'"
			if res.Status != engine.StatusFailed || res.Reason != want {
				t.Fatalf("run %s %q, want FAILED %q", res.Status, res.Reason, want)
			}
			if n := h.calls["echo"].Load(); n != 0 {
				t.Fatalf("echo ran %d times", n)
			}
		})
	}
}

// A TERMINATE without a registered definition gets Conductor's ad-hoc one
// (retryCount 0, as for every task type but SIMPLE), and retry() takes the
// WorkflowTask's retryCount over it; TERMINATE is none of the built-in
// types retry() never retries. So a TERMINATE failing on its status with a
// task-level retryCount 1 is retried once before the run fails.
func TestTerminateWithAnInvalidStatusRetried(t *testing.T) {
	def := `{"name":"w","tasks":[
	  {"name":"l","taskReferenceName":"l","type":"DO_WHILE","loopCondition":"false","loopOver":[
	    {"name":"t","taskReferenceName":"t","type":"TERMINATE","retryCount":1,"inputParameters":{"terminationStatus":"${workflow.input.st}"}}]}]}`
	h := newHarness(t, nil)
	res := h.run(def, `{"st":"DONE"}`)
	v := viewRun(t, h.e, res.RunID)
	checkTasks(t, v.Tasks, "DO_WHILE:CANCELED", "TERMINATE:FAILED", "TERMINATE:FAILED")
	last := v.Tasks[2]
	want := "Task " + last.TaskID + " failed with status: FAILED and reason: 'given termination status is not valid'"
	if res.Status != engine.StatusFailed || res.Reason != want {
		t.Fatalf("run %s %q, want FAILED %q", res.Status, res.Reason, want)
	}
}

// Under a DO_WHILE's loopOver Conductor's registration does not check a
// TERMINATE, so a definition with an unknown literal status, or none,
// stands, and the task fails when it runs (Terminate.execute): "given
// termination status is not valid", and the run fails naming it.
func TestTerminateWithAnInvalidLiteralStatusInALoopFails(t *testing.T) {
	for name, in := range map[string]string{"unknown": `{"terminationStatus":"DONE"}`, "none": `{}`} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			res := h.run(`{"name":"w","tasks":[
			  {"name":"l","taskReferenceName":"l","type":"DO_WHILE","loopCondition":"false","loopOver":[
			    {"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":`+in+`}]}]}`, `{}`)
			v := viewRun(t, h.e, res.RunID)
			checkTasks(t, v.Tasks, "DO_WHILE:CANCELED", "TERMINATE:FAILED")
			tk := v.Tasks[1]
			want := "Task " + tk.TaskID + " failed with status: FAILED and reason: 'given termination status is not valid'"
			if tk.Reason != "given termination status is not valid" || res.Status != engine.StatusFailed || res.Reason != want {
				t.Fatalf("task %q, run %s %q, want FAILED %q", tk.Reason, res.Status, res.Reason, want)
			}
		})
	}
}

// A definition a SUB_WORKFLOW's workflowDefinition expression gives is
// taken as it is (SubWorkflowTaskMapper, SubWorkflow.start), without the
// registration's checks: a TERMINATE there may take its status from an
// expression, which it resolves when it runs. (The version is given:
// without one the start would pin the name, which has no definition, and
// be refused, as Conductor's MetadataMapperService refuses it.)
func TestTerminateStatusExpressionInAnExpressionGivenSubWorkflow(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(`{"name":"w","tasks":[
	  {"name":"c","taskReferenceName":"c","type":"SUB_WORKFLOW","inputParameters":{"st":"${workflow.input.st}"},
	   "subWorkflowParam":{"name":"c","version":1,"workflowDefinition":"${workflow.input.def}"}}]}`,
		`{"st":"COMPLETED","def":{"name":"c","tasks":[
		  {"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":{"terminationStatus":"${workflow.input.st}","workflowOutput":{"by":"t"}}},
		  {"name":"echo","taskReferenceName":"after","inputParameters":{}}]}}`)
	v := viewRun(t, h.e, res.RunID)
	if res.Status != engine.StatusCompleted || len(v.Tasks) != 1 {
		t.Fatalf("run %s %q, tasks %+v", res.Status, res.Reason, v.Tasks)
	}
	child := viewRun(t, h.e, v.Tasks[0].SubWorkflowID)
	checkTasks(t, child.Tasks, "TERMINATE:COMPLETED")
	if child.Status != engine.StatusCompleted || child.Output["by"] != "t" {
		t.Fatalf("child %s %v", child.Status, child.Output)
	}
}

// terminate_task_terminated_status_in_do_while_test.json (Conductor's test
// harness, issue #750): a TERMINATE with terminationStatus TERMINATED in
// a DO_WHILE's first iteration ends the run TERMINATED with its
// terminationReason (endExecution), the loop still IN_PROGRESS cancelled
// with it (cancelNonTerminalTasks); the loop goes no further.
func TestConductorTerminateTerminatedInDoWhile(t *testing.T) {
	runSpecCases(t, []specCase{
		{name: "terminate TERMINATED in a do while", file: "terminate_task_terminated_status_in_do_while_test.json",
			input: `{}`, wantStatus: engine.StatusTerminated, wantTasks: []string{"DO_WHILE:CANCELED", "LAMBDA:COMPLETED", "TERMINATE:COMPLETED"},
			check: func(t *testing.T, e *engine.Engine, wf runView) {
				if wf.Reason != "Workflow terminated by TERMINATE task in DO_WHILE loop" {
					t.Fatalf("reason %q", wf.Reason)
				}
				if wf.Tasks[1].Ref != "lambda_ref__1" || wf.Tasks[2].Ref != "terminate_ref__1" {
					t.Fatalf("tasks %+v", wf.Tasks)
				}
			}},
	})
}
