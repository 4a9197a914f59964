package server_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// TestStartAnsweringRunNeedsRead: POST /api/workflow/execute (both forms) and
// POST /api/workflow/test answer the run they start, so a caller that may
// start a workflow but could not read the run (the anonymous principal,
// which owns nothing) is refused with 403 naming workflows:read:<name>
// before anything starts; a named caller owns the run it starts and gets it.
func TestStartAnsweringRunNeedsRead(t *testing.T) {
	yaml := strings.Replace(scopesYAML, `anonymousScopes: ["secrets:get:public/*"]`, `anonymousScopes: ["workflows:start:guarded"]`, 1)
	ts := newScopedServerYAML(t, yaml, nil)
	runs := func() int {
		t.Helper()
		st, _, b := ts.as(t, "admin", "GET", "/api/workflow/search?size=1000", "")
		var res struct {
			TotalHits int `json:"totalHits"`
		}
		if err := json.Unmarshal([]byte(b), &res); st != 200 || err != nil {
			t.Fatalf("search: %d %s", st, b)
		}
		return res.TotalHits
	}
	testReq := `{"name":"guarded","workflowDef":` + guardedDef + `,"taskRefToMockOutput":{"hold":[{"output":{"a":1}}],"later":[{"output":{"b":2}}]}}`
	cases := []struct {
		name, path, body string
		samStatus        int    // what sam gets
		samBody          string // in it
	}{
		{"execute", "/api/workflow/execute/guarded/1?waitForSeconds=1", `{}`, http.StatusOK, `"guarded"`},
		{"execute as API", "/api/workflow/execute/guarded?version=1", `{}`, http.StatusPartialContent, `{}`},
		{"test", "/api/workflow/test", testReq, http.StatusOK, `"guarded"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := runs()
			st, _, body := ts.as(t, "anonymous", "POST", c.path, c.body)
			if st != http.StatusForbidden || !strings.Contains(body, "workflows:read:guarded") {
				t.Errorf("anonymous: %d %s, want 403 naming workflows:read:guarded", st, body)
			}
			if after := runs(); after != before {
				t.Errorf("a refused start started a run (%d runs, %d before)", after, before)
			}
			st, _, body = ts.as(t, "sam", "POST", c.path, c.body)
			if st != c.samStatus || !strings.Contains(body, c.samBody) {
				t.Errorf("sam (starts, owns what he starts): %d %s", st, body)
			}
			if after := runs(); after != before+1 {
				t.Errorf("sam's start: %d runs, want %d", after, before+1)
			}
		})
	}
}
