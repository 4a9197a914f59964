package engine_test

import (
	"strconv"
	"testing"
)

// Conductor's SwitchTaskMapper and DecisionTaskMapper map the first task of
// the case taken in the same call (DeciderService.getTasksToBeScheduled),
// against the run as it was before the decide: it does not hold the
// enclosing task yet, so an expression naming it reads null, whatever that
// first task is (a nested SWITCH or DECISION, pre-checked for what its
// cases' mapping may throw or not, or a plain task).
func TestCaseFirstTaskDoesNotSeeTheEnclosingSwitch(t *testing.T) {
	cases := map[string]string{
		"DECISION": `{"name":"n","taskReferenceName":"n","type":"DECISION","caseValueParam":"p","inputParameters":{"p":"${o.output.selectedCase}"},
		  "decisionCases":{"a":[{"name":"echo","taskReferenceName":"saw_a","inputParameters":{}}]},"defaultCase":[{"name":"echo","taskReferenceName":"saw_null","inputParameters":{}}]}`,
		"SWITCH": `{"name":"n","taskReferenceName":"n","type":"SWITCH","evaluatorType":"value-param","expression":"p","inputParameters":{"p":"${o.output.selectedCase}"},
		  "decisionCases":{"a":[{"name":"echo","taskReferenceName":"saw_a","inputParameters":{}}]},"defaultCase":[{"name":"echo","taskReferenceName":"saw_null","inputParameters":{}}]}`,
		// Its cases' mapping may throw: checked before the outer one is complete.
		"SWITCH checked": `{"name":"n","taskReferenceName":"n","type":"SWITCH","evaluatorType":"value-param","expression":"p","inputParameters":{"p":"${o.output.selectedCase}"},
		  "decisionCases":{"a":[{"name":"echo","taskReferenceName":"saw_a","inputParameters":{}}],
		    "z":[{"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn","inputParameters":{"tn":"echo"}}]},
		  "defaultCase":[{"name":"echo","taskReferenceName":"saw_null","inputParameters":{}}]}`,
		"DECISION from input": `{"name":"n","taskReferenceName":"n","type":"DECISION","caseValueParam":"p","inputParameters":{"p":"${o.input.k}"},
		  "decisionCases":{"a":[{"name":"echo","taskReferenceName":"saw_a","inputParameters":{}}]},"defaultCase":[{"name":"echo","taskReferenceName":"saw_null","inputParameters":{}}]}`,
		"task": `{"name":"echo","taskReferenceName":"saw_null","inputParameters":{"p":"${o.output.selectedCase}"}}`,
	}
	for name, inner := range cases {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			def := `{"name":"w","tasks":[{"name":"o","taskReferenceName":"o","type":"SWITCH","evaluatorType":"value-param","expression":"k","inputParameters":{"k":"a"},
			  "decisionCases":{"a":[` + inner + `,{"name":"echo","taskReferenceName":"after","inputParameters":{"p":"${o.output.selectedCase}"}}]}}]}`
			res := h.run(def, `{}`)
			v := viewRun(t, h.e, res.RunID)
			var refs []string
			var first, after map[string]any
			for _, tk := range v.Tasks {
				refs = append(refs, tk.Ref)
				switch tk.Ref {
				case "saw_null":
					first = tk.Input
				case "after":
					after = tk.Input
				}
			}
			if res.Status != "COMPLETED" || first == nil {
				t.Fatalf("run %s %q, tasks %v: want COMPLETED with saw_null", res.Status, res.Reason, refs)
			}
			if name == "task" {
				if p, ok := first["p"]; !ok || p != nil {
					t.Errorf("first task's input p = %v (present %v), want null", p, ok)
				}
			}
			// A later task of the case is mapped in a later decide: it sees
			// the enclosing SWITCH.
			if after == nil || after["p"] != "a" {
				t.Errorf("later task's input %v, want p a", after)
			}
		})
	}
}

// A FORK as a case's first task: ForkJoinTaskMapper maps its branches'
// first tasks in the same call as SwitchTaskMapper maps the FORK, against
// the run before the decide, so none of them sees the enclosing SWITCH
// (a plain task, a nested SWITCH's input and its case's first task), and
// the next task of a branch, mapped in a later decide, does.
func TestForkAsCaseFirstTaskBranchesDoNotSeeTheEnclosingSwitch(t *testing.T) {
	h := newHarness(t, nil)
	def := `{"name":"w","tasks":[{"name":"o","taskReferenceName":"o","type":"SWITCH","evaluatorType":"value-param","expression":"k","inputParameters":{"k":"a"},
	  "decisionCases":{"a":[
	    {"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[
	      [{"name":"echo","taskReferenceName":"b1","inputParameters":{"p":"${o.output.selectedCase}"}},
	       {"name":"echo","taskReferenceName":"b1next","inputParameters":{"p":"${o.output.selectedCase}"}}],
	      [{"name":"n","taskReferenceName":"n","type":"SWITCH","evaluatorType":"value-param","expression":"p","inputParameters":{"p":"${o.output.selectedCase}"},
	        "decisionCases":{"a":[{"name":"echo","taskReferenceName":"saw_a","inputParameters":{}}]},
	        "defaultCase":[{"name":"echo","taskReferenceName":"saw_null","inputParameters":{"p":"${o.output.selectedCase}"}}]}],
	      [{"name":"echo","taskReferenceName":"b3","inputParameters":{"p":"${o.input.k}"}}]]},
	    {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["b1next","n","b3"]},
	    {"name":"echo","taskReferenceName":"after","inputParameters":{"p":"${o.output.selectedCase}"}}]}}]}`
	for range 5 {
		res := h.run(def, `{}`)
		v := viewRun(t, h.e, res.RunID)
		in := map[string]map[string]any{}
		for _, tk := range v.Tasks {
			in[tk.Ref] = tk.Input
		}
		if res.Status != "COMPLETED" || in["saw_null"] == nil || in["saw_a"] != nil {
			t.Fatalf("run %s %q, inputs %v: want COMPLETED through saw_null", res.Status, res.Reason, in)
		}
		// A nested SWITCH's case's first task is mapped in that call too.
		for _, ref := range []string{"b1", "b3", "saw_null"} {
			if p, ok := in[ref]["p"]; !ok || p != nil {
				t.Errorf("%s's input p = %v (present %v), want null", ref, p, ok)
			}
		}
		for _, ref := range []string{"b1next", "after"} {
			if in[ref]["p"] != "a" {
				t.Errorf("%s's input %v, want p a", ref, in[ref])
			}
		}
	}
}

// In a DO_WHILE's later iteration, the case's first task of a SWITCH is
// mapped (WorkflowExecutor.scheduleNextIteration, then SwitchTaskMapper)
// against the run as it was: it holds the previous iteration's SWITCH,
// which is what a reference to the SWITCH reads (ParametersUtils keys a
// loop task by its ref without the iteration), not null.
func TestCaseFirstTaskInALaterIterationSeesThePreviousSwitch(t *testing.T) {
	h := newHarness(t, nil)
	first := func(ref string) string {
		return `{"name":"echo","taskReferenceName":"` + ref + `","inputParameters":{"p":"${o.output.selectedCase}","q":"${o.input.k}"}}`
	}
	def := `{"name":"w","tasks":[{"name":"l","taskReferenceName":"l","type":"DO_WHILE","loopCondition":"$.l.iteration < 3","inputParameters":{"l":"${l}"},"loopOver":[
	  {"name":"o","taskReferenceName":"o","type":"SWITCH","evaluatorType":"value-param","expression":"k","inputParameters":{"k":"${l.output.iteration}"},
	   "decisionCases":{"1":[` + first("c1") + `],"2":[` + first("c2") + `,` + first("c2next") + `],"3":[` + first("c3") + `]}}]}]}`
	res := h.run(def, `{}`)
	v := viewRun(t, h.e, res.RunID)
	in := map[string]map[string]any{}
	for _, tk := range v.Tasks {
		in[tk.Ref] = tk.Input
	}
	if res.Status != "COMPLETED" || len(in) != 8 {
		t.Fatalf("run %s %q, inputs %v", res.Status, res.Reason, in)
	}
	if p, ok := in["c1__1"]["p"]; !ok || p != nil || in["c1__1"]["q"] != nil {
		t.Errorf("first iteration's case task input %v, want p and q null", in["c1__1"])
	}
	// A later task of the case is mapped in a later decide: it sees its
	// own iteration's SWITCH.
	for ref, want := range map[string]float64{"c2__2": 1, "c3__3": 2, "c2next__2": 2} {
		if in[ref]["p"] != strconv.Itoa(int(want)) || in[ref]["q"] != want {
			t.Errorf("%s's input %v, want p %q and q %v", ref, in[ref], strconv.Itoa(int(want)), want)
		}
	}
}
