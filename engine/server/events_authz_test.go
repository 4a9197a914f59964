package server_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/tasks"
)

// publishersYAML: bob may start orders and bob_* things; carol may start
// orders and deploy, and read orders runs, but holds no secret.
const publishersYAML = `
applications:
  - keyId: admin
    keySecret: admin-secret-0123456789
    scopes: ["*"]
  - keyId: bob
    keySecret: bob-secret-0123456789
    scopes: ["workflows:start:orders", "metadata:write:bob_*", "workflows:start:bob_wf"]
  - keyId: carol
    keySecret: carol-secret-0123456789
    scopes: ["workflows:start:orders", "workflows:start:deploy", "workflows:read:orders"]
`

func newPublishersServer(t *testing.T) *eventServer {
	t.Helper()
	return newAuthEventServer(t, publishersYAML, "admin", "bob", "carol")
}

// newAuthEventServer is an eventServer with the applications of yaml,
// each key's secret being "<key>-secret-0123456789".
func newAuthEventServer(t *testing.T, yaml string, keys ...string) *eventServer {
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
	cfg, err := server.ParseAuthConfig([]byte(yaml), "test")
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(st, server.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))), server.WithConductor(dir, engOpts...), server.WithAuth(cfg))
	if err != nil {
		t.Fatal(err)
	}
	hs := serveTest(t, srv)
	es := &eventServer{conductorServer: &conductorServer{testServer: &testServer{Server: hs, srv: srv, store: st, logs: logs}, runs: runs},
		dir: dir, tokens: map[string]string{}}
	for _, k := range keys {
		_, _, body := es.do(t, "POST", "/api/token", `{"keyId":"`+k+`","keySecret":"`+k+`-secret-0123456789"}`)
		var tok struct{ Token string }
		if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
			t.Fatalf("token of %s: %s", k, body)
		}
		es.tokens[k] = tok.Token
	}
	return es
}

// publishOrders starts, as who, an inline "orders" run whose EVENT task
// publishes input to conductor:orders:q.
func publishOrders(t *testing.T, es *eventServer, who, input string) string {
	t.Helper()
	return es.mustAs(t, who, "POST", "/api/workflow", `{"name":"orders","workflowDef":{"name":"orders","version":1,"schemaVersion":2,"tasks":[
	  {"name":"e","taskReferenceName":"e","type":"EVENT","sink":"conductor:q","inputParameters":`+input+`}]}}`)
}

// TestEventHandlerActsWithThePublishersRights: a handler's action needs
// the rights of its owner and of the message's publisher. Bob, who may
// start orders but not read admin's vault run, publishes the run's id to
// a queue whose handler (admin's) terminates the run the message names:
// the action fails naming bob's missing scope, the run goes on. The same
// message published by admin terminates it.
func TestEventHandlerActsWithThePublishersRights(t *testing.T) {
	es := newPublishersServer(t)
	es.mustAs(t, "admin", "POST", "/api/event", `{"name":"orders_cleanup","event":"conductor:orders:q","active":true,
	  "actions":[{"action":"terminate_workflow","terminate_workflow":{"workflowId":"${target}","terminationReason":"by handler"}}]}`)
	victim := es.mustAs(t, "admin", "POST", "/api/workflow", `{"name":"vault","workflowDef":{"name":"vault","version":1,"schemaVersion":2,"tasks":[
	  {"name":"w","taskReferenceName":"w","type":"WAIT"}]}}`)
	es.waitTasks(t, victim)
	if code, out := es.as(t, "bob", "DELETE", "/api/workflow/"+victim, ""); code != 404 {
		t.Fatalf("bob terminating directly: %d %s", code, out)
	}
	publishOrders(t, es, "bob", `{"target":"`+victim+`"}`)
	line := es.waitLog(t, `"handler":"orders_cleanup"`, `"status":"FAILED"`)
	if !strings.Contains(line, "publisher bob lacks scope workflows:read:vault") || !strings.Contains(line, `"publisher":"bob"`) {
		t.Errorf("bob's message: %s", line)
	}
	var doc map[string]any
	_ = json.Unmarshal([]byte(es.mustAs(t, "admin", "GET", "/api/workflow/"+victim, "")), &doc)
	if doc["status"] != "RUNNING" {
		t.Fatalf("bob's message through admin's handler ended admin's run: %v", doc["status"])
	}
	publishOrders(t, es, "admin", `{"target":"`+victim+`"}`)
	if doc := es.waitRun(t, "admin", victim); doc["status"] != "TERMINATED" {
		t.Errorf("admin's own message: run %v, want TERMINATED", doc["status"])
	}
}

// TestEventHandlerStartsWithTheIntersection: a run a handler starts
// executes with the scopes both the owner and the publisher hold. Admin's
// handler starts deploy, which sends admin's token to the URL the message
// gives. Bob may not start deploy: nothing starts. Carol may start it but
// holds no secret: the run starts, owned by admin, and fails on the
// secret; the URL gets no request.
func TestEventHandlerStartsWithTheIntersection(t *testing.T) {
	const value = "admin-deploy-token-77aa"
	es := newPublishersServer(t)
	putSecret(t, es.store, "deploy_token", value)
	got := make(chan string, 4)
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Authorization")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{}`))
	}))
	t.Cleanup(evil.Close)
	es.mustAs(t, "admin", "POST", "/api/metadata/workflow", `{"name":"deploy","version":1,"schemaVersion":2,"tasks":[
	  {"name":"call","taskReferenceName":"call","type":"HTTP","inputParameters":{"http_request":{"uri":"${workflow.input.url}","method":"GET",
	    "headers":{"Authorization":"Bearer ${workflow.secrets.deploy_token}"}}}}]}`)
	es.mustAs(t, "admin", "POST", "/api/event", `{"name":"orders_deploy","event":"conductor:orders:q","active":true,
	  "actions":[{"action":"start_workflow","start_workflow":{"name":"deploy","correlationId":"${who}","input":{"url":"${url}"}}}]}`)

	publishOrders(t, es, "bob", `{"who":"bob","url":"`+evil.URL+`"}`)
	line := es.waitLog(t, `"handler":"orders_deploy"`, `"publisher":"bob"`, `"status":"FAILED"`)
	if !strings.Contains(line, "lacks scope workflows:start:deploy") {
		t.Errorf("bob's message: %s", line)
	}
	if n := len(es.correlated(t, "deploy", "bob")); n != 0 {
		t.Errorf("bob's message started %d deploy run(s)", n)
	}

	publishOrders(t, es, "carol", `{"who":"carol","url":"`+evil.URL+`"}`)
	es.waitLog(t, `"handler":"orders_deploy"`, `"publisher":"carol"`, `"status":"COMPLETED"`)
	runs := es.correlated(t, "deploy", "carol")
	if len(runs) != 1 {
		t.Fatalf("carol's message started %v", runs)
	}
	id, _ := runs[0].(map[string]any)["workflowId"].(string)
	doc := es.waitRun(t, "admin", id)
	if doc["status"] != "FAILED" {
		t.Errorf("deploy started for carol: %v %v, want FAILED on the secret", doc["status"], doc["reasonForIncompletion"])
	}
	select {
	case h := <-got:
		t.Errorf("the message's URL got a request (Authorization %q)", strings.ReplaceAll(h, value, "<the token>"))
	default:
	}
	es.assertNoLeak(t, value)
}

// TestEventHandlerOwnerMustReadTheQueue: a handler on conductor:W:Q needs
// its owner to read W's runs: bob, who may not read vault, cannot listen
// to vault's queue (403 naming the scope).
func TestEventHandlerOwnerMustReadTheQueue(t *testing.T) {
	es := newPublishersServer(t)
	code, body := es.as(t, "bob", "POST", "/api/event", `{"name":"bob_spy","event":"conductor:vault:q","active":true,
	  "actions":[{"action":"start_workflow","start_workflow":{"name":"bob_wf","correlationId":"spy","input":{"stolen":"${data}"}}}]}`)
	if code != 403 || !strings.Contains(body, "workflows:read:vault") {
		t.Fatalf("bob registering on vault's queue: %d %s", code, body)
	}
	es.mustAs(t, "bob", "POST", "/api/event", `{"name":"bob_own","event":"conductor:q","active":true,
	  "actions":[{"action":"start_workflow","start_workflow":{"name":"bob_wf","correlationId":"spy","input":{}}}]}`)
}

// TestEventHandlerFileRestoredActsAsNobody: a handler file saved and put
// back after its DELETE, or after a PUT replaced it, acts as nobody: its
// owner's seal belongs to a generation the server no longer has. The
// handler registered again acts.
func TestEventHandlerFileRestoredActsAsNobody(t *testing.T) {
	es := newPublishersServer(t)
	es.mustAs(t, "admin", "POST", "/api/metadata/workflow", `{"name":"vault_out","version":1,"schemaVersion":2,"tasks":[{"name":"w","taskReferenceName":"w","type":"WAIT"}]}`)
	handler := func(corr string) string {
		return `{"name":"a_h","event":"conductor:orders:q","active":true,"condition":"$.c == '` + corr + `'",
		  "actions":[{"action":"start_workflow","start_workflow":{"name":"vault_out","correlationId":"` + corr + `","input":{}}}]}`
	}
	path := filepath.Join(es.dir, "eventhandlers", "a_h.json")
	publish := func(corr string) { publishOrders(t, es, "admin", `{"c":"`+corr+`"}`) }
	restore := func(b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	es.mustAs(t, "admin", "POST", "/api/event", handler("deleted"))
	saved, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	es.mustAs(t, "admin", "DELETE", "/api/event/a_h", "")
	restore(saved)
	es.waitLog(t, "event handler ignored", `"name":"a_h"`)
	publish("deleted")

	// The restored file is there (ownerless): PUT replaces it.
	es.mustAs(t, "admin", "PUT", "/api/event", handler("replaced"))
	saved, err = os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	es.mustAs(t, "admin", "PUT", "/api/event", handler("current"))
	restore(saved)
	publish("replaced")

	// Registered again, the handler acts: the messages before were taken.
	es.mustAs(t, "admin", "PUT", "/api/event", handler("current"))
	publish("current")
	es.waitLog(t, `"handler":"a_h"`, `"status":"COMPLETED"`)
	for _, corr := range []string{"deleted", "replaced"} {
		if n := len(es.correlated(t, "vault_out", corr)); n != 0 {
			t.Errorf("a restored %s handler file started %d run(s)", corr, n)
		}
	}
	if n := len(es.correlated(t, "vault_out", "current")); n != 1 {
		t.Errorf("the current handler started %d run(s), want 1", n)
	}
}

// TestInlineDefinitionCannotShadowARegisteredOne: a start with an inline
// definition under the name of a registered definition needs
// metadata:write on that name (its run would publish to that workflow's
// event queues, be searched by its name): bob may start orders, and an
// inline orders while none is registered, but not once admin registered
// one; admin may. A workflow test still sends the definition it tests.
func TestInlineDefinitionCannotShadowARegisteredOne(t *testing.T) {
	es := newPublishersServer(t)
	publishOrders(t, es, "bob", `{}`)
	es.mustAs(t, "admin", "POST", "/api/metadata/workflow", `{"name":"orders","version":1,"schemaVersion":2,"tasks":[
	  {"name":"e","taskReferenceName":"e","type":"EVENT","sink":"conductor:q","inputParameters":{"fixed":true}}]}`)
	inline := `{"name":"orders","workflowDef":{"name":"orders","version":1,"schemaVersion":2,"tasks":[
	  {"name":"e","taskReferenceName":"e","type":"EVENT","sink":"conductor:q","inputParameters":{"forged":true}}]}}`
	for _, path := range []string{"/api/workflow", "/api/workflow/execute/orders/1"} {
		body := inline
		if path != "/api/workflow" {
			body = `{"workflowDef":` + inline[strings.Index(inline, `{"name":"orders","version"`):len(inline)-1] + `}`
		}
		if code, out := es.as(t, "bob", "POST", path, body); code != 403 || !strings.Contains(out, "metadata:write:orders") {
			t.Errorf("bob's inline orders on %s: %d %s, want 403 naming metadata:write:orders", path, code, out)
		}
	}
	es.mustAs(t, "bob", "POST", "/api/workflow", `{"name":"orders","input":{}}`) // the registered one
	publishOrders(t, es, "admin", `{}`)
	code, out := es.as(t, "carol", "POST", "/api/workflow/test", `{"name":"orders","workflowDef":{"name":"orders","version":1,"schemaVersion":2,"tasks":[
	  {"name":"w","taskReferenceName":"w","type":"WAIT"}]},"taskRefToMockOutput":{"w":[{"output":{"a":1}}]}}`)
	if code != 200 {
		t.Errorf("carol's workflow test of orders: %d %s", code, out)
	}
}
