package server_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Reproducers of two leaks of the access log and the server's masker
// (copied from the leak hunt's reproducers, leakhunt_repro_test.go on the
// leak-hunt branch); none prints a value (pieces are shown as <value>).

// lhReproNoValue fails when text holds value or a 12-byte piece of it.
func lhReproNoValue(t *testing.T, what, text, value string) {
	t.Helper()
	for i := 0; i+12 <= len(value); i++ {
		p := value[i : i+12]
		k := strings.Index(text, p)
		if k < 0 {
			continue
		}
		lo, hi := max(0, k-160), min(len(text), k+len(p)+160)
		ex := strings.ReplaceAll(strings.ReplaceAll(text[lo:hi], value, "<value>"), p, "<piece>")
		t.Errorf("%s holds the value (or a piece of it): …%s…", what, strconv.QuoteToASCII(ex))
		return
	}
}

// TestLeakServerMaskerMissesRunResolvedValues: a secret a run resolved
// (put in the secret store, as `wfrun secret set` does, and read by the
// run's SET_VARIABLE: the run's masker holds it and the run's views show
// "***") is not masked in what the server masks with its own masker: the
// access log line of a request that carries it (a correlated-runs lookup
// by a correlationId holding it; middleware.go:94 masks the path with
// s.masker), an error answer that masks (PUT /api/workflow/{id}/skiptask/
// {ref}: conductor_workflow.go:719, s.masker.MaskString), and the
// workerId a poll records (pollWorkerID, conductor_tasks.go:163). The
// server's masker learns only values put or read through the Orkes
// secrets API (orkes_secrets.go:119) and the auth credentials
// (server.go:77); the values runs resolve are registered with each run's
// masker in the engine (runsecrets), never with the server's. Put through
// PUT /api/secrets/{key} instead, the same value is masked in all three.
func TestLeakServerMaskerMissesRunResolvedValues(t *testing.T) {
	const value = "tokRepro3Hj9Pw2Ks5Fd8Ty0"
	ts := newConductorServer(t, nil)
	putSecret(t, ts.store, "repro_tok", value)
	id := ts.registerStart(t, `{"name":"repro_log","version":1,"schemaVersion":2,"tasks":[
	 {"name":"s","taskReferenceName":"s","type":"SET_VARIABLE","inputParameters":{"k":"${workflow.secrets.repro_tok}"}},
	 {"name":"w","taskReferenceName":"w","type":"WAIT","inputParameters":{"duration":"3600 seconds"}}]}`, "repro_log")
	waitRun(t, ts, id, "RUNNING")
	// Control: the run knows the value (its variable shows "***").
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, _, st := ts.do(t, "GET", "/api/workflow/"+id+"/status?includeVariables=true", "")
		if strings.Contains(st, `"k":"***"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("control: the run's variable never showed ***")
		}
	}
	ts.do(t, "GET", "/api/workflow/repro_log/correlated/"+value+"?includeClosed=true", "")
	_, _, skip := ts.do(t, "PUT", "/api/workflow/"+id+"/skiptask/"+value, "")
	ts.do(t, "GET", "/api/tasks/poll/batch/repro_none?workerid="+value+"&count=1&timeout=1", "")
	_, _, polls := ts.do(t, "GET", "/api/tasks/queue/polldata/all", "")
	lhReproNoValue(t, "the server log", ts.logs.String(), value)
	lhReproNoValue(t, "the skiptask answer", skip, value)
	lhReproNoValue(t, "GET /api/tasks/queue/polldata/all", polls, value)
	ts.do(t, "DELETE", "/api/workflow/"+id, "")
}

// TestLeakAccessLogPathWithPlus: a value the server knows (put through
// the Orkes secrets API) that holds a space and a quote, sent as a
// Taskcluster secret name the way the Taskcluster client sends names
// (url.QueryEscape), is written to the access log in pieces: the log
// line masks r.URL.Path (middleware.go:94), the path-decoded text, in
// which the space is "+" and the quote is '"' — neither the value nor one
// of its registered forms (raw; URL-escaped, where the quote is %22) —
// so the pieces of the value on each side of the "+" stay.
func TestLeakAccessLogPathWithPlus(t *testing.T) {
	const value = "tokRepro8Pl5\"Us2 Sp4Ce7Vx9Zq1"
	ts := newConductorServer(t, nil)
	if code, _, body := ts.do(t, "PUT", "/api/secrets/repro_tok", strconv.Quote(value)); code != 200 {
		t.Fatalf("put secret: %d %s", code, body)
	}
	ts.do(t, "GET", "/api/secrets/v1/secret/"+url.QueryEscape(value), "")
	lhReproNoValue(t, "the server log", ts.logs.String(), value)
}

// The access log masks a path in every form a client may send a value in
// (decoded, as sent: QueryEscape's '+' and %22, PathEscape's %20; with '+'
// read as a space) and writes a path that holds no value as it was.
func TestAccessLogPathForms(t *testing.T) {
	const value = "tokForms4Rt6 Yu8\"Io0Pa2"
	ts := newTestServer(t)
	ts.srv.Masker().Register(value)
	for _, p := range []string{
		"/v9/a/" + url.QueryEscape(value),
		"/v9/b/" + url.PathEscape(value),
		"/v9/c/x+" + strings.ReplaceAll(url.PathEscape(value), "%20", "+"),
		"/v9/d/" + url.PathEscape("pre "+value) + "/" + url.QueryEscape(value),
	} {
		ts.do(t, "GET", p, "")
	}
	ts.do(t, "GET", "/v9/plain/a+b%20c", "")
	logs := ts.logs.String()
	lhReproNoValue(t, "the server log", logs, value)
	for _, want := range []string{`"path":"/v9/a/***"`, `"path":"/v9/b/***"`, `"path":"/v9/c/x+***"`, `"path":"/v9/d/pre%20***/***"`, `"path":"/v9/plain/a+b c"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log has no %s:\n%s", want, strings.ReplaceAll(logs, value, "<value>"))
		}
	}
}
