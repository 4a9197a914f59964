package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// A SWITCH a rerun resets in place (another branch's, FAILED before the
// rerun task: its script threw on its input) runs with its stored input,
// as Conductor's finalizeRerun leaves a reset record's inputData: its case
// is evaluated on the input it had, not on the rerun's new workflowInput.
// One whose input reads a secret is resolved again (its stored input holds
// the reference, never the value), with the new workflowInput.
func TestRerunResetSwitchEvaluatesItsKeptInput(t *testing.T) {
	for name, tc := range map[string]struct {
		params, status, sw, selected string
	}{
		"kept input":  {`{"k":"${workflow.input.k}"}`, engine.StatusFailed, engine.TaskFailed, ""},
		"secret read": {`{"k":"${workflow.input.k}","s":"${workflow.secrets.api_token}"}`, engine.StatusCompleted, engine.TaskCompleted, "a"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			def := `{"name":"w","tasks":[{"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[
			  [{"name":"sw","taskReferenceName":"sw","type":"SWITCH","evaluatorType":"javascript",
			    "expression":"if ($.k == 'bad') { throw 'no case'; } ($.s || 'x').charAt(0) == '$' ? 'unresolved' : $.k","inputParameters":` + tc.params + `,
			    "decisionCases":{"a":[{"name":"echo","taskReferenceName":"ca","inputParameters":{}}]}}],
			  [{"name":"echo","taskReferenceName":"x","inputParameters":{}}]]},
			  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["x"]}]}`
			res := h.run(def, `{"k":"bad"}`)
			v := viewRun(t, h.e, res.RunID)
			byRef := map[string]taskView{}
			for _, tk := range v.Tasks {
				byRef[tk.Ref] = tk
			}
			if res.Status != engine.StatusFailed || byRef["sw"].Status != engine.TaskFailed || byRef["x"].TaskID == "" {
				t.Fatalf("first run %s %q, tasks %+v", res.Status, res.Reason, v.Tasks)
			}
			swID := byRef["sw"].TaskID
			rr, err := h.e.RerunWith(context.Background(), res.RunID, engine.RerunOptions{FromTaskID: byRef["x"].TaskID, WorkflowInput: json.RawMessage(`{"k":"a"}`)})
			if err != nil {
				t.Fatal(err)
			}
			v = viewRun(t, h.e, res.RunID)
			byRef = map[string]taskView{}
			for _, tk := range v.Tasks {
				byRef[tk.Ref] = tk
			}
			sw := byRef["sw"]
			if rr.Status != tc.status || sw.TaskID != swID || sw.Status != tc.sw {
				t.Fatalf("rerun %s %q; sw %s %s (id kept %v), want run %s, sw %s", rr.Status, rr.Reason, sw.Status, sw.Reason, sw.TaskID == swID, tc.status, tc.sw)
			}
			if tc.selected == "" {
				if sw.Input["k"] != "bad" || byRef["ca"].TaskID != "" {
					t.Errorf("sw's input %v, ca %+v: want its kept input (k bad) and no case", sw.Input, byRef["ca"])
				}
			} else if sw.Output["selectedCase"] != tc.selected || byRef["ca"].Status != engine.TaskCompleted {
				t.Errorf("sw's output %v, ca %+v: want case %s taken", sw.Output, byRef["ca"], tc.selected)
			}
			doc, _, _ := h.runs.Load(context.Background(), res.RunID)
			if strings.Contains(string(doc), token) {
				t.Errorf("the stored run holds the secret's value")
			}
		})
	}
}
