package server_test

import (
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestServerMasksRunResolvedValues: a secret only a run resolved (put in
// the secret store, as `wfrun secret set` does, and read by the run's
// SET_VARIABLE) is masked in the server's log lines (the access log line
// of a correlated-runs lookup by a correlationId holding it), is not
// quoted by the skiptask answer for an unknown reference holding it, and
// is masked in the worker id a poll records (auth off: one principal, so
// poll data masks with every value the process learned). Found by
// TestLeakHuntServeSweep: the server's masker knew only the values of its
// secrets APIs and its credentials.
func TestServerMasksRunResolvedValues(t *testing.T) {
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
	noPieceOf(t, "the server log", ts.logs.String(), value)
	noPieceOf(t, "the skiptask answer", skip, value)
	noPieceOf(t, "GET /api/tasks/queue/polldata/all", polls, value)
	ts.do(t, "DELETE", "/api/workflow/"+id, "")
}

// TestAccessLogPathWithPlus: a value the server knows (put through the
// Orkes secrets API) that holds a space and a quote, sent as a Taskcluster
// secret name the way the Taskcluster client sends names (url.QueryEscape:
// the space as "+", the quote as %22), leaves no piece in the access log,
// whose decoded path reads "+" for the space (logPath masks every reading).
// Found by TestLeakHuntServeSweep.
func TestAccessLogPathWithPlus(t *testing.T) {
	const value = "tokRepro8Pl5\"Us2 Sp4Ce7Vx9Zq1"
	ts := newConductorServer(t, nil)
	if code, _, body := ts.do(t, "PUT", "/api/secrets/repro_tok", strconv.Quote(value)); code != 200 {
		t.Fatalf("put secret: %d %s", code, body)
	}
	ts.do(t, "GET", "/api/secrets/v1/secret/"+url.QueryEscape(value), "")
	noPieceOf(t, "the server log", ts.logs.String(), value)
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
	noPieceOf(t, "the server log", logs, value)
	for _, want := range []string{`"path":"/v9/a/***"`, `"path":"/v9/b/***"`, `"path":"/v9/c/x+***"`, `"path":"/v9/d/pre%20***/***"`, `"path":"/v9/plain/a+b c"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log has no %s:\n%s", want, strings.ReplaceAll(logs, value, "<value>"))
		}
	}
}
