package server_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
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

// TestServeRefusesDefinitionsHoldingASecretsValue: `wfrun serve` takes no
// definition that holds in clear the value of a secret it names — neither
// registered (POST and PUT /api/metadata/workflow) nor inline in a start
// request (POST /api/workflow with workflowDef): each is answered 400 in
// Conductor's error shape, its message naming the secret and the JSON
// pointer, never the value; no byte of the definitions directory, the run
// store's file or the log holds it. The same definition reading the
// secret by reference is registered and runs.
func TestServeRefusesDefinitionsHoldingASecretsValue(t *testing.T) {
	const value = "sk-pasted-Jk7Lm9Nb2Vc4"
	dir := t.TempDir()
	defs, runsFile := filepath.Join(dir, "defs"), filepath.Join(dir, "runs.db")
	runs, err := runstore.OpenBolt(runsFile)
	if err != nil {
		t.Fatal(err)
	}
	st := memory.New()
	putSecret(t, st, "api_key", value)
	logs := &testkit.SyncBuffer{}
	srv, err := server.New(st, server.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))), server.WithConductor(defs,
		engine.WithRunStore(runs),
		engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithSecrets(func(p engine.Principal, project, environment string) interpolate.SecretSource {
			return store.NewRunView(st, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, environment)
		})))
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: serveTest(t, srv), srv: srv, store: st, logs: logs}

	def := func(name, header string) string {
		return `{"name":"` + name + `","version":1,"schemaVersion":2,"ownerEmail":"a@b.c","tasks":[
		  {"name":"wait","taskReferenceName":"w","type":"WAIT","inputParameters":{"tok":"${workflow.secrets.api_key}","headers":{"Authorization":"` + header + `"}}}]}`
	}
	const want = "workflowDef /tasks/0/inputParameters/headers/Authorization holds the value of secret api_key: use ${workflow.secrets.api_key}"
	pasted := def("pasted", "Bearer "+value)
	for _, c := range []struct{ what, method, path, body string }{
		{"registered", "POST", "/api/metadata/workflow", pasted},
		{"registered in a list", "PUT", "/api/metadata/workflow", "[" + pasted + "]"},
		{"inline in a start", "POST", "/api/workflow", `{"name":"pasted","workflowDef":` + pasted + `}`},
	} {
		code, _, body := ts.do(t, c.method, c.path, c.body)
		var e struct {
			Status  int    `json:"status"`
			Message string `json:"message"`
		}
		if code != http.StatusBadRequest || json.Unmarshal([]byte(body), &e) != nil || e.Status != 400 || !strings.Contains(e.Message, want) {
			t.Errorf("%s: %d %s, want 400 saying %q", c.what, code, strings.ReplaceAll(body, value, "<value>"), want)
		}
	}

	// By reference it is registered and runs.
	if code, _, body := ts.do(t, "POST", "/api/metadata/workflow", def("by_ref", "Bearer ${workflow.secrets.api_key}")); code != http.StatusOK {
		t.Fatalf("register by reference: %d %s", code, body)
	}
	if code, _, body := ts.do(t, "POST", "/api/workflow/by_ref", `{}`); code != http.StatusOK {
		t.Fatalf("start by reference: %d %s", code, body)
	}

	ts.assertNoLeak(t, value, value[:8], value[len(value)-8:])
	for _, piece := range []string{value, value[:8], value[len(value)-8:]} {
		_ = filepath.Walk(defs, func(p string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return err
			}
			if b, _ := os.ReadFile(p); strings.Contains(string(b), piece) {
				t.Errorf("%s holds %q of the value", p, piece)
			}
			return nil
		})
		if b, _ := os.ReadFile(runsFile); strings.Contains(string(b), piece) {
			t.Errorf("runs.db holds %q of the value", piece)
		}
	}
}
