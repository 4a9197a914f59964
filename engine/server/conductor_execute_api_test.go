package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestExecuteWorkflowAsAPI: Orkes' POST /api/workflow/execute/{name}, as
// its generated SDK clients send it (execute_workflow_as_api in the Python
// SDK, ExecuteWorkflowAsAPI in the Go SDK's orkes_v4 client): the body is
// the input, version a query parameter (the latest when absent), requestId,
// waitUntilTaskRef and waitForSeconds headers, X-Idempotency-key and
// X-on-conflict the idempotent start's. The answer is the run's output,
// masked: 200 once the run ended, 206 when it had not. The resolved secret
// is in no answer.
func TestExecuteWorkflowAsAPI(t *testing.T) {
	const value = "as-api-SECRET-value-c41e"
	ts := newConductorServer(t, nil)
	putSecret(t, ts.store, "api_key", value)
	for _, def := range []string{corrFlowDef,
		`{"name":"api_flow","version":1,"schemaVersion":2,"tasks":[{"name":"setv","taskReferenceName":"setv","type":"SET_VARIABLE","inputParameters":{"token":"${workflow.secrets.api_key}"}}],"outputParameters":{"v":1,"t":"${workflow.variables.token}","in":"${workflow.input.a}","id":"${workflow.workflowId}"}}`,
		`{"name":"api_flow","version":2,"schemaVersion":2,"tasks":[{"name":"setv","taskReferenceName":"setv","type":"SET_VARIABLE","inputParameters":{"token":"${workflow.secrets.api_key}"}}],"outputParameters":{"v":2,"t":"${workflow.variables.token}","in":"${workflow.input.a}","id":"${workflow.workflowId}"}}`,
		`{"name":"api_slow","version":1,"schemaVersion":2,"tasks":[{"name":"nobody_polls","taskReferenceName":"w","type":"SIMPLE"}]}`,
	} {
		if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
			t.Fatalf("register: %d %s", st, body)
		}
	}
	var answers []string
	execute := func(path, body string, hdr ...string) (int, map[string]any, string) {
		t.Helper()
		st, ct, raw := ts.do(t, "POST", "/api/workflow/execute/"+path, body, append([]string{"Accept", "application/json"}, hdr...)...)
		answers = append(answers, raw)
		if !strings.HasPrefix(ct, "application/json") {
			t.Errorf("%s: content type %q", path, ct)
		}
		var out map[string]any
		_ = json.Unmarshal([]byte(raw), &out)
		return st, out, raw
	}

	st, out, raw := execute("api_flow", `{"a":"x"}`, "requestId", "r-1")
	if st != 200 || out["v"] != 2.0 || out["t"] != "***" || out["in"] != "x" {
		t.Errorf("latest version: %d %s", st, raw)
	}
	st, out, raw = execute("api_flow?version=1", `{"a":"y"}`, "waitForSeconds", "5")
	if st != 200 || out["v"] != 1.0 || out["in"] != "y" {
		t.Errorf("version 1: %d %s", st, raw)
	}
	// Blocked on its WAIT task, with or without waitUntilTaskRef: not ended.
	for _, hdr := range [][]string{nil, {"waitUntilTaskRef", "setv"}} {
		if st, out, raw := execute("corr_flow", `{}`, hdr...); st != 206 || len(out) != 0 {
			t.Errorf("blocked run %v: %d %s", hdr, st, raw)
		}
	}
	begin := time.Now()
	if st, _, raw := execute("api_slow", ``, "waitForSeconds", "1"); st != 206 || time.Since(begin) < time.Second {
		t.Errorf("wait ran out: %d %s after %v", st, raw, time.Since(begin))
	}
	// An idempotent start: RETURN_EXISTING answers the first run's output,
	// FAIL refuses a second run.
	_, first, _ := execute("api_flow", `{"a":"z"}`, "X-Idempotency-key", "k-1", "X-on-conflict", "RETURN_EXISTING")
	_, again, raw := execute("api_flow", `{"a":"other"}`, "X-Idempotency-key", "k-1", "X-on-conflict", "RETURN_EXISTING")
	if first["id"] == nil || first["id"] != again["id"] || again["in"] != "z" {
		t.Errorf("RETURN_EXISTING: %v then %s", first, raw)
	}
	if st, _, raw := execute("api_flow", `{}`, "X-Idempotency-key", "k-1", "X-on-conflict", "FAIL"); st != 409 {
		t.Errorf("FAIL on a used key: %d %s", st, raw)
	}
	for _, c := range []struct {
		path, body string
		hdr        []string
		status     int
		want       string
	}{
		{"api_flow?version=x", `{}`, nil, 400, "version"},
		{"api_flow", `[1]`, nil, 400, "JSON object"},
		{"api_flow", `{"a":`, nil, 400, "workflow input"},
		{"api_flow", `{}`, []string{"waitForSeconds", "-1"}, 400, "waitForSeconds"},
		{"no_such_flow", `{}`, nil, 404, "no_such_flow"},
		// execute/{name} shares its shape with the {id}/<action> routes.
		{"restart", `{}`, nil, 404, "restart"},
	} {
		if st, _, raw := execute(c.path, c.body, c.hdr...); st != c.status || !strings.Contains(raw, c.want) {
			t.Errorf("%s %s %v: %d %s", c.path, c.body, c.hdr, st, raw)
		}
	}
	answers = append(answers, ts.logs.String())
	for i, text := range answers {
		if strings.Contains(text, value) {
			t.Errorf("answer %d holds the secret value", i)
		}
	}
}
