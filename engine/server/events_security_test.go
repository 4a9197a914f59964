package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/tasks"
)

// eventServer is a Conductor API server whose definitions directory the
// test knows (handler files can be looked at and damaged).
type eventServer struct {
	*conductorServer
	dir    string
	tokens map[string]string
}

// eventsYAML: ops may register any handler and start the cookbook's
// workflows (and read what it starts); intern may register handlers named
// intern_* and start nothing. Both may read publish_order_event runs (a
// handler's owner must, to listen to their queue).
const eventsYAML = `
applications:
  - keyId: admin
    keySecret: admin-secret-0123456789
    scopes: ["*"]
  - keyId: ops
    keySecret: ops-secret-0123456789
    scopes: ["metadata:write:*", "workflows:start:publish_order_event", "workflows:start:fulfill_order", "workflows:read:publish_order_event"]
  - keyId: intern
    keySecret: intern-secret-0123456789
    scopes: ["metadata:write:intern_*", "workflows:read:publish_order_event"]
`

func newEventServer(t *testing.T, auth bool, extra ...server.Option) *eventServer {
	t.Helper()
	st := memory.New()
	runs := runstore.NewMemory()
	logs := &testkit.SyncBuffer{}
	dir := t.TempDir()
	engOpts := []engine.Option{
		engine.WithRunStore(runs),
		engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithSecrets(func(p engine.Principal, project, environment string) interpolate.SecretSource {
			return store.NewRunView(st, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, environment)
		}),
	}
	opts := []server.Option{server.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))), server.WithConductor(dir, engOpts...)}
	if auth {
		cfg, err := server.ParseAuthConfig([]byte(eventsYAML), "test")
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, server.WithAuth(cfg))
	}
	srv, err := server.New(st, append(opts, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	hs := serveTest(t, srv)
	es := &eventServer{conductorServer: &conductorServer{testServer: &testServer{Server: hs, srv: srv, store: st, logs: logs}, runs: runs},
		dir: dir, tokens: map[string]string{}}
	if auth {
		for _, k := range []string{"admin", "ops", "intern"} {
			_, _, body := es.do(t, "POST", "/api/token", `{"keyId":"`+k+`","keySecret":"`+k+`-secret-0123456789"}`)
			var tok struct{ Token string }
			if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
				t.Fatalf("token of %s: %s", k, body)
			}
			es.tokens[k] = tok.Token
		}
	}
	return es
}

// as sends a request as key who ("" or unknown: no credentials).
func (es *eventServer) as(t *testing.T, who, method, path, body string) (int, string) {
	t.Helper()
	var code int
	var out string
	if tok := es.tokens[who]; tok != "" {
		code, _, out = es.do(t, method, path, body, "X-Authorization", tok)
	} else {
		code, _, out = es.do(t, method, path, body)
	}
	return code, out
}

func (es *eventServer) mustAs(t *testing.T, who, method, path, body string) string {
	t.Helper()
	code, out := es.as(t, who, method, path, body)
	if code != 200 {
		t.Fatalf("%s %s %s: %d %s", who, method, path, code, out)
	}
	return out
}

// waitRun waits until run id is no longer RUNNING and returns its view.
func (es *eventServer) waitRun(t *testing.T, who, id string) map[string]any {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var doc map[string]any
		_ = json.Unmarshal([]byte(es.mustAs(t, who, "GET", "/api/workflow/"+id+"?includeTasks=true", "")), &doc)
		if doc["status"] != "RUNNING" {
			return doc
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s still RUNNING", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// waitTasks waits until run id has a task (its first task is scheduled).
func (es *eventServer) waitTasks(t *testing.T, id string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var doc map[string]any
		_ = json.Unmarshal([]byte(es.mustAs(t, "admin", "GET", "/api/workflow/"+id+"?includeTasks=true", "")), &doc)
		if list, _ := doc["tasks"].([]any); len(list) > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run %s has no task", id)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitLog waits for a log line holding every one of parts.
func (es *eventServer) waitLog(t *testing.T, parts ...string) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, line := range strings.Split(es.logs.String(), "\n") {
			all := true
			for _, p := range parts {
				all = all && strings.Contains(line, p)
			}
			if all {
				return line
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line with %q:\n%s", parts, es.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (es *eventServer) correlated(t *testing.T, workflow, correlationID string) []any {
	t.Helper()
	var list []any
	_ = json.Unmarshal([]byte(es.mustAs(t, "admin", "GET", "/api/workflow/"+workflow+"/correlated/"+correlationID+"?includeClosed=true", "")), &list)
	return list
}

// TestEventHandlerRunsAsItsOwner: a handler's actions run as the principal
// that registered it, with that principal's scopes: intern's handler
// cannot start fulfill_order (403 logged, nothing started), ops's starts
// it and ops owns the run; intern cannot register a handler outside its
// metadata scope, and a handler whose stored file was edited (a start of
// another workflow put in) runs nothing.
func TestEventHandlerRunsAsItsOwner(t *testing.T) {
	es := newEventServer(t, true)
	for _, f := range []string{"fulfill_order_workflow.json", "publish_internal_event_workflow.json"} {
		es.mustAs(t, "admin", "POST", "/api/metadata/workflow", string(readConductorFile(t, f)))
	}
	handler := func(name, corr string) string {
		return `{"name":"` + name + `","event":"conductor:publish_order_event:order-status","active":true,
		  "condition":"$.status == '` + corr + `'",
		  "actions":[{"action":"start_workflow","start_workflow":{"name":"fulfill_order","version":1,"correlationId":"${status}","input":{"orderId":"${orderId}"}}}]}`
	}
	if code, body := es.as(t, "intern", "POST", "/api/event", handler("ops_start", "OPS")); code != 403 || !strings.Contains(body, "metadata:write:ops_start") {
		t.Fatalf("intern registering ops_start: %d %s", code, body)
	}
	es.mustAs(t, "intern", "POST", "/api/event", handler("intern_start", "INTERN"))
	es.mustAs(t, "ops", "POST", "/api/event", handler("ops_start", "OPS"))

	es.mustAs(t, "ops", "POST", "/api/workflow", `{"name":"publish_order_event","input":{"orderId":"o-intern","status":"INTERN"}}`)
	line := es.waitLog(t, `"handler":"intern_start"`, `"status":"FAILED"`)
	if !strings.Contains(line, "lacks scope workflows:start:fulfill_order") || !strings.Contains(line, `"principal":"intern"`) {
		t.Errorf("intern's action: %s", line)
	}
	if got := es.correlated(t, "fulfill_order", "INTERN"); len(got) != 0 {
		t.Errorf("intern's handler started %v", got)
	}

	es.mustAs(t, "ops", "POST", "/api/workflow", `{"name":"publish_order_event","input":{"orderId":"o-ops","status":"OPS"}}`)
	es.waitLog(t, `"handler":"ops_start"`, `"status":"COMPLETED"`)
	got := es.correlated(t, "fulfill_order", "OPS")
	if len(got) != 1 {
		t.Fatalf("ops's handler started %v", got)
	}
	id, _ := got[0].(map[string]any)["workflowId"].(string)
	if doc := es.waitRun(t, "ops", id); doc["status"] != "COMPLETED" { // ops owns it: may read it
		t.Fatalf("fulfill_order: %v", doc["status"])
	}
	if code, _ := es.as(t, "intern", "GET", "/api/workflow/"+id, ""); code == 200 {
		t.Errorf("intern reads ops's run: %d", code)
	}

	// An edited handler file acts as nobody.
	path := filepath.Join(es.dir, "eventhandlers", "ops_start.json")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	edited := strings.Replace(string(b), `'OPS'`, `'EDIT'`, 1)
	if edited == string(b) {
		t.Fatalf("the handler file holds no condition to edit: %s", b)
	}
	if err := os.WriteFile(path, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	es.waitLog(t, "event handler ignored", `"name":"ops_start"`)
	skipped := func() int { return strings.Count(es.logs.String(), `"handler":"intern_start","event"`) }
	before := skipped()
	es.mustAs(t, "ops", "POST", "/api/workflow", `{"name":"publish_order_event","input":{"orderId":"o-edit","status":"EDIT"}}`)
	es.mustAs(t, "ops", "POST", "/api/workflow", `{"name":"publish_order_event","input":{"orderId":"o-ops2","status":"OPS"}}`)
	// intern_start (condition false for both) logs each message it saw:
	// then the edited handler had them too.
	for deadline := time.Now().Add(10 * time.Second); skipped() < before+2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the two messages were not handled:\n%s", es.logs.String())
		}
	}
	for _, corr := range []string{"EDIT", "OPS"} {
		if got := es.correlated(t, "fulfill_order", corr); len(got) != map[string]int{"EDIT": 0, "OPS": 1}[corr] {
			t.Errorf("fulfill_order runs for %s after the edit: %v", corr, got)
		}
	}
}

// TestEventMessageCarriesNoSecret: an EVENT task whose input holds
// ${workflow.secrets.api_key} publishes the reference, never the value; a
// handler that completes a WAIT task with it passes the reference on as
// text: the value is in no response, stored run, handler file or log line.
func TestEventMessageCarriesNoSecret(t *testing.T) {
	const value = "sk-event-SECRET-7781"
	es := newEventServer(t, false)
	putSecret(t, es.store, "api_key", value)
	es.mustAs(t, "", "POST", "/api/metadata/workflow", string(readConductorFile(t, "wait_for_approval_workflow.json")))
	es.mustAs(t, "", "POST", "/api/metadata/workflow", `{"name":"emit_token","version":1,"schemaVersion":2,"tasks":[
	  {"name":"call","taskReferenceName":"call","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"$.t.length","t":"${workflow.secrets.api_key}"}},
	  {"name":"emit","taskReferenceName":"emit","type":"EVENT","sink":"conductor:tokens",
	   "inputParameters":{"waiter":"${workflow.input.waiter}","token":"${workflow.secrets.api_key}","len":"${call.output.result}"}}]}`)
	es.mustAs(t, "", "POST", "/api/event", `{"name":"take_token","event":"conductor:emit_token:tokens","active":true,
	  "condition":"$.token.length > 0",
	  "actions":[{"action":"complete_task","complete_task":{"workflowId":"${waiter}","taskRefName":"approval","output":{"token":"${token}","len":"${len}","msg":"got ${token}"}}}]}`)
	waiter := es.mustAs(t, "", "POST", "/api/workflow", `{"name":"wait_for_order_approval","input":{"orderId":"o-1"}}`)
	es.waitTasks(t, waiter)
	emitter := es.mustAs(t, "", "POST", "/api/workflow", `{"name":"emit_token","input":{"waiter":"`+waiter+`"}}`)
	if doc := es.waitRun(t, "", emitter); doc["status"] != "COMPLETED" {
		t.Fatalf("emit_token: %v %v", doc["status"], doc["reasonForIncompletion"])
	}
	doc := es.waitRun(t, "", waiter)
	if doc["status"] != "COMPLETED" {
		t.Fatalf("wait_for_order_approval: %v", doc["status"])
	}
	approval, _ := doc["output"].(map[string]any)["approval"].(map[string]any)
	if approval["token"] != "${workflow.secrets.api_key}" || approval["msg"] != "got ${workflow.secrets.api_key}" {
		t.Errorf("approval output %v: want the reference as text", approval)
	}
	if approval["len"] != float64(len(value)) {
		t.Errorf("approval len = %v", approval["len"])
	}
	var seen []string
	for _, id := range []string{waiter, emitter} {
		seen = append(seen, es.mustAs(t, "", "GET", "/api/workflow/"+id+"?includeTasks=true", ""))
		raw, _, err := es.runs.Load(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		seen = append(seen, string(raw))
	}
	files, _ := filepath.Glob(filepath.Join(es.dir, "eventhandlers", "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		seen = append(seen, string(b))
	}
	for i, s := range seen {
		if strings.Contains(s, value) {
			t.Errorf("the secret value is in item %d: %s", i, s)
		}
	}
	es.assertNoLeak(t, value)
}
