package engine_test

import "testing"

// A FORK as a case's first task: each branch's share of the case's
// mapping ends with its first task's input or when the branch returns. A
// first task that fails on its input (an optional task whose secret is
// missing) ends its share too, so the later task of another branch, mapped
// in a later decide, reads the SWITCH. (An empty branch, which Conductor's
// ForkJoinTaskMapper cannot map, fails the run: fork_empty_branch_test.go.)
func TestForkAsCaseFirstTaskEveryBranchEndsItsShare(t *testing.T) {
	for name, b0 := range map[string]string{
		"optional task whose secret is missing": `[{"name":"echo","taskReferenceName":"b0","optional":true,"inputParameters":{"s":"${workflow.secrets.fork_case_share_missing}"}}]`,
		"plain branch":                          `[{"name":"echo","taskReferenceName":"b0","inputParameters":{}}]`,
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			def := `{"name":"w","tasks":[{"name":"o","taskReferenceName":"o","type":"SWITCH","evaluatorType":"value-param","expression":"k","inputParameters":{"k":"a"},
			  "decisionCases":{"a":[
			    {"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[` + b0 + `,
			      [{"name":"echo","taskReferenceName":"b1","inputParameters":{"p":"${o.output.selectedCase}"}},
			       {"name":"echo","taskReferenceName":"b1next","inputParameters":{"p":"${o.output.selectedCase}"}}]]},
			    {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["b1next"]}]}}]}`
			for range 3 {
				res := h.run(def, `{}`)
				v := viewRun(t, h.e, res.RunID)
				in := map[string]map[string]any{}
				for _, tk := range v.Tasks {
					in[tk.Ref] = tk.Input
				}
				if res.Status != "COMPLETED" || in["b1next"] == nil {
					t.Fatalf("run %s %q, inputs %v", res.Status, res.Reason, in)
				}
				if p, ok := in["b1"]["p"]; !ok || p != nil {
					t.Errorf("b1's input %v, want p null (mapped with the FORK)", in["b1"])
				}
				if in["b1next"]["p"] != "a" {
					t.Errorf("b1next's input %v, want p a", in["b1next"])
				}
			}
		})
	}
}
