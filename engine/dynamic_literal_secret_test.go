package engine_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// A DYNAMIC task's inputParameters are the input of the task it becomes
// (Conductor's DynamicTaskMapper): the secret names an HTTP, EXEC or
// UPDATE_SECRET task reads or writes by name are literal there too,
// validated and recorded at load (SPEC §4). A literal name runs as it
// would in the task itself.
func TestDynamicTaskLiteralSecretNamesRun(t *testing.T) {
	const apiTok, prodToken, bundleEnv = "Api-token-value-271828", "Prod-api-token-1618033", "bundle-env-value-141421"
	var mu sync.Mutex
	var auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auth = r.Header.Get("Authorization")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer srv.Close()
	cases := []struct{ name, params, tn string }{
		{"http-auth", `"http_request":{"uri":"` + srv.URL + `/a","method":"GET","auth":{"type":"bearer","secret":"api-tok"}}`, "HTTP"},
		{"http-flat-auth", `"uri":"` + srv.URL + `/a","method":"GET","auth":{"type":"bearer","secret":"api-tok"}`, "HTTP"},
		{"update-secret", `"_secrets":{"secretKey":"prod-token","secretValue":"${workflow.input.v}"}`, "UPDATE_SECRET"},
		// The bundle's leaves (DEPLOY_TOKEN, its variable's name) are
		// named by the command by design, as in an EXEC task.
		{"exec-bundle", `"command":["sh","-c","test -n \"$DEPLOY_TOKEN\""],"bundles":["deploy_bundle"]`, "EXEC"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			mu.Lock()
			auth = ""
			mu.Unlock()
			g := newRig(t, "bolt", 2)
			g.put(t, "api-tok", apiTok)
			g.put(t, "prod-token", prodToken)
			g.put(t, "deploy_bundle", map[string]any{"env_vars": []map[string]string{{"name": "DEPLOY_TOKEN", "value": bundleEnv}}})
			e := g.engine(t, rotationRegistry(true))
			d, err := e.Parse([]byte(`{"name":"dyn_literal","version":1,"schemaVersion":2,"tasks":[{"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn",
			 "inputParameters":{"tn":"${workflow.input.tn}",` + c.params + `}}]}`))
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Start(context.Background(), d, json.RawMessage(`{"tn":"`+c.tn+`","v":"New-prod-token-5772156"}`))
			if err != nil {
				t.Fatal(err)
			}
			if c.tn == "EXEC" {
				// EXEC refuses an input member it does not know, the
				// DYNAMIC task's name parameter among them: the run
				// starts, the definition's bundle leaves are not taken
				// for values it holds.
				if strings.Contains(res.Reason, "holds the value") || strings.Contains(res.Reason, "references secrets") {
					t.Fatalf("%s: %s", res.Status, res.Reason)
				}
				return
			}
			if res.Status != engine.StatusCompleted {
				t.Fatalf("%s: %s", res.Status, res.Reason)
			}
			switch c.tn {
			case "HTTP":
				mu.Lock()
				got := auth
				mu.Unlock()
				if got != "Bearer "+apiTok {
					t.Errorf("the server got no bearer token of api-tok")
				}
			case "UPDATE_SECRET":
				s, err := g.secrets.Get(context.Background(), "prod-token")
				if err != nil {
					t.Fatal(err)
				}
				if string(s.Value) != `"New-prod-token-5772156"` {
					t.Errorf("prod-token was not updated")
				}
			}
		})
	}
}

// An expression where a DYNAMIC task's input names a secret read or
// written by name is refused at load, naming the JSON location: run
// input never chooses which secret is used, whatever the task becomes.
func TestDynamicTaskSecretNameExpressionRefusedAtLoad(t *testing.T) {
	cases := []struct{ name, params, at string }{
		{"http_request-auth", `"http_request":{"uri":"http://127.0.0.1:1/","auth":{"type":"bearer","secret":"${workflow.input.which}"}}`, "/tasks/0/inputParameters/http_request/auth/secret"},
		{"flat-auth", `"uri":"http://127.0.0.1:1/","auth":{"type":"bearer","secret":"tok-${workflow.input.which}"}`, "/tasks/0/inputParameters/auth/secret"},
		{"bundle", `"command":["true"],"bundles":["b","${workflow.input.which}"]`, "/tasks/0/inputParameters/bundles/1"},
		{"secretKey", `"_secrets":{"secretKey":"${workflow.input.which}","secretValue":"v"}`, "/tasks/0/inputParameters/_secrets/secretKey"},
		{"secretKey-not-a-string", `"_secrets":{"secretKey":7,"secretValue":"v"}`, "/tasks/0/inputParameters/_secrets/secretKey"},
	}
	h := newHarness(t, nil)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := h.e.Parse([]byte(`{"name":"dyn_expr","version":1,"schemaVersion":2,"tasks":[{"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn",
			 "inputParameters":{"tn":"${workflow.input.tn}",` + c.params + `}}]}`))
			if err == nil {
				t.Fatal("parsed: want a validation error")
			}
			if !strings.Contains(err.Error(), c.at) || !strings.Contains(err.Error(), "literal secret name") {
				t.Errorf("error %q: want it to name %s and a literal secret name", err, c.at)
			}
		})
	}
}
