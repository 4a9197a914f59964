package engine_test

import (
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
