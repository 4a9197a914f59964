package server_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestStartByNameWithoutBody: POST /api/workflow/{name} with no input (an
// empty body, blanks, or JSON null) is Conductor's 500 "Required request
// body is missing", not retryable, and starts nothing; an explicit {} starts
// the run.
func TestStartByNameWithoutBody(t *testing.T) {
	ts := newConductorServer(t, nil)
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	for _, body := range []string{"", " \n", "null"} {
		st, ct, got := ts.do(t, "POST", "/api/workflow/one_simple?correlationId=nobody", body)
		var shape struct {
			Status    int    `json:"status"`
			Message   string `json:"message"`
			Retryable *bool  `json:"retryable"`
		}
		if st != 500 || ct != "application/json" || json.Unmarshal([]byte(got), &shape) != nil || shape.Status != 500 ||
			!strings.HasPrefix(shape.Message, "Required request body is missing: ") || shape.Retryable == nil || *shape.Retryable {
			t.Errorf("body %q: %d %s %s; want 500, not retryable, request body missing", body, st, ct, got)
		}
	}
	if st, _, got := ts.do(t, "GET", "/api/workflow/one_simple/correlated/nobody?includeClosed=true", ""); st != 200 || got != "[]" {
		t.Errorf("runs started without a body: %d %s; want none", st, got)
	}
	if st, ct, id := ts.do(t, "POST", "/api/workflow/one_simple", "{}"); st != 200 || !strings.HasPrefix(ct, "text/plain") || id == "" {
		t.Errorf("start with {}: %d %s %q", st, ct, id)
	}
}
