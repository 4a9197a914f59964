package engine_test

import (
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// WorkflowTaskTypeConstraint.isWaitTaskValid reads a WAIT's duration and
// until as text (toString) when the definition is registered and parses
// the duration, else the until, unless it starts with "${": a number, a
// bool, an object never parses (a duration needs a unit, an until a
// date), so such a definition is refused, as is text that does not start
// with "${" and does not parse. One that starts with "${" is resolved when
// the WAIT starts.
func TestWaitInputsCheckedAtLoad(t *testing.T) {
	def := func(params string) []byte {
		return []byte(`{"name":"w","tasks":[{"name":"wait","taskReferenceName":"wait0","type":"WAIT","inputParameters":` + params + `}]}`)
	}
	for _, c := range []struct{ params, want string }{
		{`{"duration":30}`, `/tasks/0/inputParameters/duration: invalid WAIT duration 30: not text`},
		{`{"duration":true}`, `/tasks/0/inputParameters/duration: invalid WAIT duration true: not text`},
		{`{"duration":{"s":30}}`, `/tasks/0/inputParameters/duration: invalid WAIT duration {"s":30}: not text`},
		{`{"until":1796000000000}`, `/tasks/0/inputParameters/until: invalid WAIT until 1796000000000: not text`},
		{`{"until":["2030-01-01"]}`, `/tasks/0/inputParameters/until: invalid WAIT until ["2030-01-01"]: not text`},
		{`{"duration":"1 ${workflow.input.unit}"}`, `/tasks/0/inputParameters/duration: invalid WAIT duration "1 ${workflow.input.unit}"`},
		{`{"duration":"${workflow.input.d}","until":"someday"}`, `/tasks/0/inputParameters/until: invalid WAIT until "someday"`},
	} {
		_, err := engine.ParseDefinition(def(c.params))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err %v, want %q", c.params, err, c.want)
		}
	}
	for _, params := range []string{
		`{"duration":"${workflow.input.d}"}`,
		`{"until":"${workflow.input.u}"}`,
		`{"duration":null,"until":"2030-01-01 10:00"}`,
		`{"duration":"  ","until":"2030-01-01"}`,
		`{"duration":"1d 2h"}`,
	} {
		if _, err := engine.ParseDefinition(def(params)); err != nil {
			t.Errorf("%s: %v", params, err)
		}
	}
}
