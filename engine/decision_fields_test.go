package engine_test

import (
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// A DECISION reads only caseExpression and caseValueParam, as Conductor's
// DecisionTaskMapper does (getEvaluatedCaseValue): a SWITCH's
// evaluatorType and expression on it are ignored, and
// WorkflowTaskTypeConstraint rejects a DECISION that has neither
// caseValueParam nor caseExpression ("caseValueParam or caseExpression
// field is required for taskType: DECISION").
func TestDecisionIgnoresSwitchFields(t *testing.T) {
	dec := func(fields string) string {
		return `{"name":"w","tasks":[{"name":"d","taskReferenceName":"d","type":"DECISION",` + fields + `,
		  "inputParameters":{"k":"${workflow.input.k}"},
		  "decisionCases":{"x":[{"name":"echo","taskReferenceName":"inx","inputParameters":{}}],
		    "y":[{"name":"echo","taskReferenceName":"iny","inputParameters":{}}]}}]}`
	}
	for _, c := range []struct{ name, fields string }{
		{"caseValueParam", `"caseValueParam":"k","evaluatorType":"javascript","expression":"'y'"`},
		{"caseExpression", `"caseExpression":"$.k","evaluatorType":"value-param","expression":"nosuch"`},
		{"unknown evaluatorType", `"caseValueParam":"k","evaluatorType":"python3","expression":"'y'"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			res := h.run(dec(c.fields), `{"k":"x"}`)
			if res.Status != engine.StatusCompleted {
				t.Fatalf("run %s %q", res.Status, res.Reason)
			}
			wf := viewRun(t, h.e, res.RunID)
			if len(wf.Tasks) != 2 || wf.Tasks[1].Ref != "inx" || wf.Tasks[0].Output["caseOutput"].([]any)[0] != "x" {
				t.Fatalf("tasks %+v", wf.Tasks)
			}
		})
	}
	// WorkflowTaskTypeConstraint refuses only a DECISION whose two case
	// fields are null; with a blank caseExpression DecisionTaskMapper
	// takes "" + taskInput.get(caseValueParam): the "null" case.
	for _, fields := range []string{`"caseExpression":""`, `"caseExpression":"  ","caseValueParam":null`, `"caseValueParam":""`} {
		t.Run("blank "+fields, func(t *testing.T) {
			h := newHarness(t, nil)
			res := h.run(`{"name":"w","tasks":[{"name":"d","taskReferenceName":"d","type":"DECISION",`+fields+`,
			  "inputParameters":{"k":"x"},
			  "decisionCases":{"null":[{"name":"echo","taskReferenceName":"isnull","inputParameters":{}}],
			    "x":[{"name":"echo","taskReferenceName":"inx","inputParameters":{}}]},
			  "defaultCase":[{"name":"echo","taskReferenceName":"other","inputParameters":{}}]}]}`, `{}`)
			if res.Status != engine.StatusCompleted {
				t.Fatalf("run %s %q", res.Status, res.Reason)
			}
			wf := viewRun(t, h.e, res.RunID)
			if len(wf.Tasks) != 2 || wf.Tasks[1].Ref != "isnull" || wf.Tasks[0].Output["caseOutput"].([]any)[0] != "null" || wf.Tasks[0].Input["case"] != "null" {
				t.Fatalf("tasks %+v", wf.Tasks)
			}
		})
	}
	t.Run("neither case field", func(t *testing.T) {
		for _, fields := range []string{`"evaluatorType":"javascript","expression":"'y'"`, `"caseExpression":null,"caseValueParam":null`} {
			_, err := engine.ParseDefinition([]byte(dec(fields)))
			if err == nil || !strings.Contains(err.Error(), "/tasks/0: DECISION needs a caseValueParam or a caseExpression") {
				t.Fatalf("%s: err %v", fields, err)
			}
		}
	})
}
