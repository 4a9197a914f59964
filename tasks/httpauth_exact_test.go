package tasks_test

import (
	"errors"
	"testing"

	"github.com/wfrun/wfrun/tasks"
)

// Auth's members are matched exactly: "Secret" is not "secret".
func TestParseAuthMatchesMembersExactly(t *testing.T) {
	for _, raw := range []string{`{"type":"bearer","Secret":"x"}`, `{"TYPE":"bearer","secret":"x"}`} {
		if _, err := tasks.ParseAuth([]byte(raw)); !errors.Is(err, tasks.ErrBadAuth) {
			t.Fatalf("%s: %v", raw, err)
		}
	}
	if a, err := tasks.ParseAuth([]byte(`{"type":"bearer","secret":"x"}`)); err != nil || a.Secret != "x" {
		t.Fatalf("%+v %v", a, err)
	}
}
