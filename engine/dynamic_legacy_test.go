package engine_test

import (
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// legacyForkDef is a FORK_JOIN_DYNAMIC in Conductor's older form: the
// input member dynamicForkJoinTasksParam names holds a
// DynamicForkJoinTaskList, here taken from the workflow's input.
func legacyForkDef(where string) string {
	fork := `{"name":"dyn","taskReferenceName":"dyn","type":"FORK_JOIN_DYNAMIC","dynamicForkJoinTasksParam":"dynamicTasks",
	  "inputParameters":{"dynamicTasks":"${workflow.input.list}"}},
	 {"name":"join","taskReferenceName":"join","type":"JOIN"}`
	if where == "loop" {
		return `{"name":"legacy_fork","tasks":[{"name":"l","taskReferenceName":"l","type":"DO_WHILE","loopCondition":"false","loopOver":[` + fork + `]}]}`
	}
	return `{"name":"legacy_fork","tasks":[` + fork + `]}`
}

// ForkJoinDynamicTaskMapper.getDynamicForkJoinTasksAndInput: each entry
// of dynamicTasks is a task named taskName, referenced referenceName, of
// its type (SIMPLE when not given), its input its inputParameters; the
// FORK lists them in forkedTasks and the JOIN waits on them.
func TestDynamicForkOlderFormRunsItsTasks(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(legacyForkDef("top"), `{"list":{"dynamicTasks":[
	  {"taskName":"echo","referenceName":"xdt1","input":{"k1":"v1"}},
	  {"taskName":"echo","workflowName":null,"referenceName":"xdt2","type":"SIMPLE","input":{"k2":"v2"}},
	  {"taskName":"sv","referenceName":"xdt3","type":"SET_VARIABLE","input":{"seen":true}}]}}`)
	v := viewRun(t, h.e, res.RunID)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("run %s %q", res.Status, res.Reason)
	}
	checkTasks(t, v.Tasks, "FORK:COMPLETED", "echo:COMPLETED", "echo:COMPLETED", "SET_VARIABLE:COMPLETED", "JOIN:COMPLETED")
	refs := byRef(v.Tasks)
	if got := refs["xdt1"].Input["k1"]; got != "v1" {
		t.Errorf("xdt1 input %v", refs["xdt1"].Input)
	}
	if got := refs["xdt2"].Input["k2"]; got != "v2" {
		t.Errorf("xdt2 input %v", refs["xdt2"].Input)
	}
	if got, _ := v.Tasks[0].Input["forkedTasks"].([]any); len(got) != 3 || got[0] != "xdt1" || got[2] != "xdt3" {
		t.Errorf("FORK forkedTasks %v", v.Tasks[0].Input["forkedTasks"])
	}
	if got, _ := refs["join"].Input["joinOn"].([]any); len(got) != 3 {
		t.Errorf("JOIN joinOn %v", refs["join"].Input["joinOn"])
	}
	if h.calls["echo"].Load() != 2 {
		t.Errorf("echo ran %d times", h.calls["echo"].Load())
	}
}

// A missing or null list: the mapper's TerminateWorkflowException, naming
// the member and the fork's input, fails the run. Under a loopOver (where
// registration does not check the fork) a fork that gives no member at all
// is read as the older form too, and fails the same way, naming null.
func TestDynamicForkOlderFormWithoutTasksFailsTheRun(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(legacyForkDef("top"), `{}`)
	want := "Dynamic tasks could not be created. The value of dynamicTasks from task's input {dynamicTasks=null} has no dynamic tasks to be scheduled"
	if res.Status != engine.StatusFailed || res.Reason != want {
		t.Fatalf("run %s %q, want FAILED %q", res.Status, res.Reason, want)
	}
	res = h.run(`{"name":"w","tasks":[{"name":"l","taskReferenceName":"l","type":"DO_WHILE","loopCondition":"false","loopOver":[
	  {"name":"dyn","taskReferenceName":"dyn","type":"FORK_JOIN_DYNAMIC","inputParameters":{"x":1}},
	  {"name":"join","taskReferenceName":"join","type":"JOIN"}]}]}`, `{}`)
	want = "Dynamic tasks could not be created. The value of null from task's input {x=1} has no dynamic tasks to be scheduled"
	if res.Status != engine.StatusFailed || res.Reason != want {
		t.Fatalf("under a loopOver: run %s %q, want FAILED %q", res.Status, res.Reason, want)
	}
	// What Jackson cannot read as the list throws out of Conductor's
	// decide (the run would stay RUNNING); the run fails naming it.
	for in, part := range map[string]string{
		`{"list":[1]}`:                                    "the value of input 'dynamicTasks' is an array",
		`{"list":{"dynamicTasks":"x"}}`:                   "dynamicTasks of input 'dynamicTasks' is a string",
		`{"list":{"dynamicTasks":[{"input":7}]}}`:         "dynamicTasks[0].input of input 'dynamicTasks' is a number",
		`{"list":{"dynamicTasks":[{"referenceName":1}]}}`: "dynamicTasks[0].referenceName of input 'dynamicTasks' is a number",
	} {
		res := h.run(legacyForkDef("loop"), in)
		if res.Status != engine.StatusFailed || !strings.Contains(res.Reason, part) {
			t.Errorf("input %s: run %s %q, want FAILED with %q", in, res.Status, res.Reason, part)
		}
	}
}
