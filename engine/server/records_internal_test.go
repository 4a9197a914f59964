package server

import "testing"

// baseRef strips every loop iteration's suffix: a task of a DO_WHILE
// nested in a DO_WHILE (a__1__2) has the workflowTask of a.
func TestBaseRef(t *testing.T) {
	for in, want := range map[string]string{
		"a": "a", "a__1": "a", "a__1__2": "a", "a__x": "a__x", "a__": "a__", "__1": "__1", "a__1__x": "a__1__x",
	} {
		if got := baseRef(in); got != want {
			t.Errorf("baseRef(%q) = %q, want %q", in, got, want)
		}
	}
}
