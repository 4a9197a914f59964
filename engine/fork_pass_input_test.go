package engine_test

import (
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// forkPassInputDef forks three branches whose first tasks are synchronous
// system tasks, mapped in one pass: a SET_VARIABLE, an INLINE, and an
// INLINE reading what the other two produce. Its second task reads them
// again, a pass later.
const forkPassInputDef = `{"name":"fork_pass_input","version":1,"schemaVersion":2,"tasks":[
 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
   [{"name":"sv","taskReferenceName":"sv","type":"SET_VARIABLE","inputParameters":{"v":"set"}}],
   [{"name":"a","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'a-out'"}}],
   [{"name":"b","taskReferenceName":"b","type":"INLINE","inputParameters":{"evaluatorType":"javascript",
      "v":"${workflow.variables.v}","a":"${a.output.result}","k":"${workflow.secrets.api_token}","expression":"[$.v, $.a, $.k.length]"}},
    {"name":"c","taskReferenceName":"c","type":"INLINE","inputParameters":{"evaluatorType":"javascript",
      "v":"${workflow.variables.v}","a":"${a.output.result}","expression":"[$.v, $.a]"}}]]},
 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["sv","a","c"]}]}`

// Conductor's decider maps every task of a pass — resolving its input
// (ParametersUtils.getTaskInputV2, in the task mappers) — before
// WorkflowExecutor.decide executes any of the pass's synchronous tasks:
// an INLINE mapped in the same pass as a SET_VARIABLE and another INLINE
// of sibling branches sees neither the variable nor the output (null),
// and the task after it, mapped a pass later, sees both. wfrun resolved a
// synchronous task's input when it ran, after the branches before it in
// the pass had run theirs. The stored input keeps the secret reference;
// the INLINE got its value.
func TestForkPassSynchronousInputResolvedWhenMapped(t *testing.T) {
	h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
	d, err := h.e.Parse([]byte(forkPassInputDef))
	if err != nil {
		t.Fatal(err)
	}
	for run := range 20 { // the branches' goroutines in any order
		res := startRun(t, h.e, d, `{}`)
		wf := viewRun(t, h.e, res.RunID)
		if wf.Status != engine.StatusCompleted {
			t.Fatalf("run %d: %s %q", run, wf.Status, wf.Reason)
		}
		byRef := map[string]taskView{}
		for _, tk := range wf.Tasks {
			byRef[tk.Ref] = tk
		}
		for ref, want := range map[string]string{
			"b": `[null,null,` + jsonLen(token) + `]`,
			"c": `["set","a-out"]`,
		} {
			got, _ := json.Marshal(byRef[ref].Output["result"])
			if string(got) != want {
				t.Fatalf("run %d: %s's result %s, want %s (input %v)", run, ref, got, want, byRef[ref].Input)
			}
		}
		if in := byRef["b"].Input; in["v"] != nil || in["a"] != nil || in["k"] != "${workflow.secrets.api_token}" {
			t.Fatalf("run %d: b's stored input %v", run, in)
		}
	}
}

func jsonLen(s string) string {
	b, _ := json.Marshal(len(s))
	return string(b)
}

// A SWITCH mapped in the pass of a sibling branch's SET_VARIABLE: its
// mapper (SwitchTaskMapper) resolves its input and maps the first task of
// the case it picks, with that task's input, in the same pass, before the
// SET_VARIABLE runs: neither sees the variable. A DO_WHILE mapped in that
// pass maps its first iteration's task as it executes (DoWhile.execute,
// scheduleNextIteration), after the synchronous tasks of the branches
// before it have run and before those after it: the task sees a variable
// set in an earlier branch (l1) and not one set in a later one (l2).
func TestForkPassSwitchCaseAndLoopStartInput(t *testing.T) {
	def := `{"name":"fork_pass_case_loop","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	   [{"name":"sv1","taskReferenceName":"sv1","type":"SET_VARIABLE","inputParameters":{"v1":"set"}}],
	   [{"name":"sw","taskReferenceName":"sw","type":"SWITCH","evaluatorType":"value-param","expression":"sel",
	     "inputParameters":{"sel":"${workflow.variables.v1}"},
	     "decisionCases":{"set":[{"name":"x1","taskReferenceName":"x1","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'set case'"}}]},
	     "defaultCase":[{"name":"x2","taskReferenceName":"x2","type":"INLINE","inputParameters":{"evaluatorType":"javascript",
	       "v1":"${workflow.variables.v1}","expression":"[$.v1]"}}]}],
	   [{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"false","evaluatorType":"javascript",
	     "loopOver":[{"name":"l","taskReferenceName":"l","type":"INLINE","inputParameters":{"evaluatorType":"javascript",
	       "v1":"${workflow.variables.v1}","v2":"${workflow.variables.v2}","expression":"[$.v1, $.v2]"}}]}],
	   [{"name":"sv2","taskReferenceName":"sv2","type":"SET_VARIABLE","inputParameters":{"v2":"set"}}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["sv1","sw","loop","sv2"]}]}`
	h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
	d, err := h.e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	for run := range 20 {
		res := startRun(t, h.e, d, `{}`)
		wf := viewRun(t, h.e, res.RunID)
		if wf.Status != engine.StatusCompleted {
			t.Fatalf("run %d: %s %q", run, wf.Status, wf.Reason)
		}
		byRef := map[string]taskView{}
		for _, tk := range wf.Tasks {
			byRef[tk.Ref] = tk
		}
		if _, ok := byRef["x1"]; ok {
			t.Fatalf("run %d: the SWITCH took the case of a variable set in its pass", run)
		}
		for ref, want := range map[string]string{"x2": `[null]`, "l__1": `["set",null]`} {
			got, _ := json.Marshal(byRef[ref].Output["result"])
			if string(got) != want {
				t.Fatalf("run %d: %s's result %s, want %s (input %v)", run, ref, got, want, byRef[ref].Input)
			}
		}
	}
}
