package runsecrets_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/wfrun/wfrun/runsecrets"
)

// A `_secrets` subtree Protect sealed opens only for its run and at its
// place: copied into another task's output, another member of the same
// output, or another run's record, it does not open, and the error names
// the place and never the value. Where it was sealed, it opens.
func TestSealedSecretsOpenOnlyForTheirRunAndPlace(t *testing.T) {
	const value = "sealed-VALUE-4be1d07c"
	a, b := newRun(t, "run-a", nil), newRun(t, "run-b", nil)
	const ptr = "/tasks/t-1/outputData"
	_, stored, err := a.Protect([]byte(`{"x":{"_secrets":{"k":"`+value+`"}},"y":{}}`), ptr)
	if err != nil {
		t.Fatal(err)
	}
	leaf := gjson.GetBytes(stored, "x._secrets")
	if leaf.Type != gjson.String || strings.Contains(string(stored), value) {
		t.Fatalf("stored: %s", stored)
	}
	if out, err := newRun(t, "run-a", nil).Unseal(stored, ptr); err != nil || gjson.GetBytes(out, "x._secrets.k").Str != value {
		t.Fatalf("where it was sealed: %s, %v", out, err)
	}
	moved, err := sjson.SetRawBytes([]byte(`{"x":{},"y":{}}`), "y._secrets", []byte(leaf.Raw))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, ptr string
		run       *runsecrets.Run
		doc       []byte
	}{
		{"another task's output", "/tasks/t-2/outputData", a, stored},
		{"the task's input", "/tasks/t-1/inputData", a, stored},
		{"another member", ptr, a, moved},
		{"another run", ptr, b, stored},
		{"the run's variables", "/variables", a, stored},
	} {
		out, err := c.run.Unseal(c.doc, c.ptr)
		if !errors.Is(err, runsecrets.ErrSealed) || strings.Contains(err.Error(), value) || strings.Contains(string(out), value) {
			t.Errorf("%s: %s, %v", c.name, out, err)
			continue
		}
		if !strings.Contains(err.Error(), c.ptr) {
			t.Errorf("%s: the error names no place: %v", c.name, err)
		}
	}
}
