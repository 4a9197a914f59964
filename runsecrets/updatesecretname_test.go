package runsecrets_test

import (
	"strings"
	"testing"
)

// UPDATE_SECRET's _secrets.secretKey is the name of the secret written,
// not a value: Protect registers its secretValue and leaves the name out,
// so the name reads in clear elsewhere in the run; Unseal (a resume)
// registers exactly the same. A secretKey that is no valid name, or one
// without a secretValue beside it, is not that shape: registered.
func TestUpdateSecretNameIsNotAValue(t *testing.T) {
	in := []byte(`{"_secrets":{"secretKey":"rotated_token","secretValue":"brand-new-value-123"},"other":{"_secrets":{"secretKey":"not a name!","secretValue":"x"}},"third":{"_secrets":{"secretKey":"lonely_key_1234"}}}`)
	text := "rotated_token was rotated to brand-new-value-123; not a name! lonely_key_1234"
	want := "rotated_token was rotated to ***; *** ***"
	r := newRun(t, "run-1", nil)
	_, stored, err := r.Protect(in, "/tasks/t1/inputData")
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Text(text); got != want {
		t.Errorf("after Protect: %q, want %q", got, want)
	}
	if strings.Contains(string(stored), "brand-new-value-123") || strings.Contains(string(stored), "rotated_token") {
		t.Errorf("stored form holds the _secrets subtree in clear: %s", stored)
	}
	resumed := newRun(t, "run-1", nil)
	if _, err := resumed.Unseal(stored, "/tasks/t1/inputData"); err != nil {
		t.Fatal(err)
	}
	if got := resumed.Text(text); got != want {
		t.Errorf("after Unseal: %q, want %q", got, want)
	}
}
