package engine_test

import (
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// WorkflowTaskTypeConstraint refuses at registration a SWITCH or DECISION
// whose decisionCases are missing or empty, and a SWITCH without an
// evaluatorType, or with one but without an expression (absent or null; a
// given empty string passes it).
func TestSwitchAndDecisionFieldsRequired(t *testing.T) {
	const cases = `"decisionCases":{"a":[{"name":"echo","taskReferenceName":"e","inputParameters":{}}]}`
	def := func(typ, fields string) string {
		return `{"name":"w","tasks":[{"name":"s","taskReferenceName":"s","type":"` + typ + `","inputParameters":{"k":"a"},` + fields + `}]}`
	}
	for _, c := range []struct{ typ, fields, want string }{
		{"SWITCH", `"expression":"k",` + cases, `/tasks/0/evaluatorType: SWITCH "s" needs an evaluatorType`},
		{"SWITCH", `"evaluatorType":null,"expression":"k",` + cases, `/tasks/0/evaluatorType: SWITCH "s" needs an evaluatorType`},
		{"SWITCH", `"evaluatorType":"value-param",` + cases, `/tasks/0/expression: SWITCH "s" needs an expression`},
		{"SWITCH", `"evaluatorType":"value-param","expression":null,` + cases, `/tasks/0/expression: SWITCH "s" needs an expression`},
		{"SWITCH", `"evaluatorType":"value-param","expression":"k"`, `/tasks/0/decisionCases: SWITCH "s" needs decisionCases with at least one case`},
		{"SWITCH", `"evaluatorType":"value-param","expression":"k","decisionCases":{}`, `/tasks/0/decisionCases: SWITCH "s" needs decisionCases with at least one case`},
		{"SWITCH", `"evaluatorType":"value-param","expression":"k","decisionCases":null,"defaultCase":[{"name":"echo","taskReferenceName":"e","inputParameters":{}}]`, `/tasks/0/decisionCases: SWITCH "s" needs decisionCases with at least one case`},
		{"DECISION", `"caseValueParam":"k"`, `/tasks/0/decisionCases: DECISION "s" needs decisionCases with at least one case`},
		{"DECISION", `"caseValueParam":"k","decisionCases":{}`, `/tasks/0/decisionCases: DECISION "s" needs decisionCases with at least one case`},
	} {
		_, err := engine.ParseDefinition([]byte(def(c.typ, c.fields)))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %s: err %v, want %q", c.typ, c.fields, err, c.want)
		}
	}
	// A case whose list is empty is a case.
	for _, d := range []string{
		def("SWITCH", `"evaluatorType":"value-param","expression":"k","decisionCases":{"a":[]}`),
		def("DECISION", `"caseValueParam":"k","decisionCases":{"a":[]}`),
	} {
		if _, err := engine.ParseDefinition([]byte(d)); err != nil {
			t.Errorf("%s: %v", d, err)
		}
	}
}
