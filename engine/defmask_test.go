package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks"
)

// A definition that does not parse is refused with an error quoting what
// it refuses; where a user pasted the value of a secret the definition
// names (as a task type, as the NAME of a reference, valid or not as a
// name, in any spelling of the reference), the refusal shows "***".
func TestMaskDefinitionError(t *testing.T) {
	const value = "Zq7Kp2Lm9Xw4Rt6Yb3Nc"
	const odd = "tok-Zq7+Kp2/Lm9 Xw4Rt"
	e, err := engine.New(engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
			return interpolate.MapSecrets{
				"api_key":   json.RawMessage(`"` + value + `"`),
				"odd.key":   json.RawMessage(`"` + odd + `"`),
				"creds":     json.RawMessage(`{"user":"deployer","token":"` + value + `x"}`),
				"unrelated": json.RawMessage(`"never-named-here"`),
			}
		}))
	if err != nil {
		t.Fatal(err)
	}
	local := engine.Principal{Name: "local", Scopes: []string{"*"}}
	for _, c := range []struct{ what, def, secret string }{
		{"a value as the task type", `{"name":"p","version":1,"tasks":[{"name":"t","taskReferenceName":"t","type":"` + value + `",
		  "inputParameters":{"k":"${workflow.secrets.api_key}"}}]}`, value},
		{"a value as a reference's name, not a valid name", `{"name":"p","version":1,"tasks":[{"name":"t","taskReferenceName":"t","type":"INLINE",
		  "inputParameters":{"k":"$<workflow.secrets['odd.key']>","evaluatorType":"javascript","expression":"1","oops":"${workflow.secrets.` + odd + `}"}}]}`, odd},
		{"a JSON secret's field as the task type", `{"name":"p","version":1,"tasks":[{"name":"t","taskReferenceName":"t","type":"` + value + `x",
		  "inputParameters":{"k":"${workflow.secrets.creds.token}"}}]}`, value + "x"},
	} {
		d, perr := e.Parse([]byte(c.def))
		if perr == nil {
			t.Fatalf("%s: parsed: %+v", c.what, d)
		}
		if !strings.Contains(perr.Error(), c.secret) {
			t.Fatalf("%s: the refusal does not quote the value; the test needs another shape: %s", c.what, perr)
		}
		got := e.MaskDefinitionError(context.Background(), []byte(c.def), perr, local, "", "")
		if strings.Contains(got.Error(), c.secret) || !strings.Contains(got.Error(), "***") {
			t.Errorf("%s: %s", c.what, strings.ReplaceAll(got.Error(), c.secret, "<VALUE>"))
		}
		if !errorsIsSame(got, perr) {
			t.Errorf("%s: the masked error lost its chain", c.what)
		}
	}
	// A definition that names no secret: nothing is read, the error stays.
	def := `{"name":"p","version":1,"tasks":[{"name":"t","taskReferenceName":"t","type":"NOPE"}]}`
	_, perr := e.Parse([]byte(def))
	if got := e.MaskDefinitionError(context.Background(), []byte(def), perr, local, "", ""); got != perr {
		t.Errorf("unchanged error expected: %v", got)
	}
}

func errorsIsSame(got, want error) bool {
	for e := got; e != nil; {
		if e == want {
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}
