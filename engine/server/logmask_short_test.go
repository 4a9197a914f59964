package server_test

import (
	"bytes"
	"log/slog"
	"net/url"
	"strings"
	"testing"
	"time"
)

// An EVENT task publishes a message with a `_secrets` subtree to the
// server's own queue; the message leaves as its stored output does, the
// subtree's leaves "***". An event handler starts a run with the whole
// message as input: that run's input has a `_secrets` subtree whose
// leaves are the redaction marker. Nothing warns about a value too short
// to mask (the marker is no value: runsecrets registers no "***"), and
// nothing is written to Go's default logger: a run's masker warns about a
// value that is too short through the server's log
// (engine.WithMaskerLogger).
func TestEventMessageMaskedSecretsNotRegistered(t *testing.T) {
	var def bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&def, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	ts := newConductorServer(t, nil)
	putSecret(t, ts.store, "evt_tok", "tokEvent5Gh7Jk9Lm1")
	putSecret(t, ts.store, "evt_short", "abc")
	if code, _, body := ts.do(t, "POST", "/api/metadata/workflow", `{"name":"evt_target","version":1,"schemaVersion":2,"tasks":[
	 {"name":"keep","taskReferenceName":"keep","type":"SET_VARIABLE","inputParameters":{"got":"${workflow.input}"}}]}`); code != 200 {
		t.Fatalf("register: %d %s", code, body)
	}
	if code, _, body := ts.do(t, "POST", "/api/event", `{"name":"evt_handler","event":"conductor:evt_pub:evt_sink","active":true,"actions":[
	 {"action":"start_workflow","start_workflow":{"name":"evt_target","version":1,"input":{"all":"${$}"}}}]}`); code != 200 {
		t.Fatalf("event handler: %d %s", code, body)
	}
	id := ts.registerStart(t, `{"name":"evt_pub","version":1,"schemaVersion":2,"tasks":[
	 {"name":"pub","taskReferenceName":"pub","type":"EVENT","sink":"conductor:evt_sink","inputParameters":{
	   "_secrets":{"m":"${workflow.secrets.evt_tok}"}}}]}`, "evt_pub")
	waitRun(t, ts, id, "COMPLETED")
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, _, body := ts.do(t, "GET", "/api/workflow/search?size=10&query="+url.QueryEscape("workflowType=evt_target"), "")
		if strings.Contains(body, `"status":"COMPLETED"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the event handler's run did not complete: %s", body)
		}
	}
	if strings.Contains(def.String(), "too short") {
		t.Errorf("Go's default logger got: %s", def.String())
	}
	if strings.Contains(ts.logs.String(), "too short") {
		t.Errorf("the server log warns about a short value: %s", ts.logs.String())
	}

	// A value that is too short does warn: in the server's log.
	id = ts.registerStart(t, `{"name":"evt_short","version":1,"schemaVersion":2,"tasks":[
	 {"name":"s","taskReferenceName":"s","type":"SET_VARIABLE","inputParameters":{"k":"${workflow.secrets.evt_short}"}}]}`, "evt_short")
	waitRun(t, ts, id, "COMPLETED")
	if !strings.Contains(ts.logs.String(), "too short to mask") || !strings.Contains(ts.logs.String(), `"length":3`) {
		t.Errorf("the server log has no warning about the 3-byte value: %s", ts.logs.String())
	}
	if def.Len() > 0 {
		t.Errorf("Go's default logger got: %s", def.String())
	}
}
