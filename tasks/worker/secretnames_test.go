package worker_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/tasks"
	"github.com/wfrun/wfrun/tasks/worker"
)

// TestWorkerRunDataChoosesNoSecret: through wfrun serve, run input puts
// `$<workflow.secrets.db-pass>` in a value, names db-pass as an HTTP
// auth.secret, and names it as UPDATE_SECRET's secretKey. The worker
// resolves the definition's own literal `$<…>` only: the capture server
// gets the reference as literal text and never the value, the two tasks
// that take a secret's name from run input fail with a reason naming the
// field, and db-pass in the worker's store is not overwritten.
func TestWorkerRunDataChoosesNoSecret(t *testing.T) {
	const secret = "W0rkerOnly-db-pass-7f3a9c"
	var mu sync.Mutex
	var captured strings.Builder
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		captured.WriteString(r.URL.String() + " " + r.Header.Get("Authorization") + " " + string(b) + "\n")
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}`))
	}))
	defer target.Close()

	sv := serveForWorkers(t)
	hs := sv
	workerSecrets := secretsHolding(t, map[string]string{"db-pass": secret, "notes-token": "public-token-abc"})
	workerLogs := &testkit.SyncBuffer{}
	w, err := worker.New(worker.Config{
		Server: hs.URL, Tasks: map[string]string{"wfrun_http": "HTTP", "wfrun_rotate": tasks.TypeUpdateSecret},
		Secrets:     store.NewRunView(workerSecrets, store.LocalPrincipal, "", ""),
		Concurrency: 2, PollTimeout: 200 * time.Millisecond,
		Logger: slog.New(slog.NewJSONHandler(workerLogs, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- w.Run(ctx) }()
	defer func() {
		cancel()
		select {
		case <-stopped:
		case <-time.After(10 * time.Second):
			t.Error("worker did not stop")
		}
	}()

	run := func(name, task, input string) string {
		t.Helper()
		def := `{"name":"` + name + `","version":1,"schemaVersion":2,"tasks":[` + task + `]}`
		if st, body := testkit.HTTPCall(t, "POST", hs.URL+"/api/metadata/workflow", def); st != 200 {
			t.Fatalf("register %s: %d %s", name, st, body)
		}
		st, id := testkit.HTTPCall(t, "POST", hs.URL+"/api/workflow/"+name, input)
		if st != 200 {
			t.Fatalf("start %s: %d %s", name, st, id)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			_, exec := testkit.HTTPCall(t, "GET", hs.URL+"/api/workflow/"+id, "")
			if strings.Contains(exec, `"status":"COMPLETED"`) || strings.Contains(exec, `"status":"FAILED"`) {
				return exec
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not done: %s", name, exec)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	// A value the server substituted from run input holds $<…>: sent as text.
	exec := run("note_value", `{"name":"wfrun_http","taskReferenceName":"post","type":"SIMPLE","inputParameters":{
	  "http_request":{"uri":"`+target.URL+`/notes","method":"POST",
	    "headers":{"Authorization":"Bearer $<workflow.secrets.notes-token>"},
	    "body":{"note":"${workflow.input.note}"}}}}`,
		`{"note":"$<workflow.secrets.db-pass>"}`)
	if !strings.Contains(exec, `"status":"COMPLETED"`) {
		t.Errorf("note_value: %s\nworker log: %s", exec, workerLogs.String())
	}
	mu.Lock()
	got := captured.String()
	mu.Unlock()
	if !strings.Contains(got, "Bearer public-token-abc") || !strings.Contains(got, `$<workflow.secrets.db-pass>`) {
		t.Errorf("capture server got %q: want the literal header resolved and the run input's text as sent", got)
	}

	// The same key names in another part of a task's input are data: an
	// HTTP body's own "bundles" and "secretKey" come from run input.
	exec = run("body_keys", `{"name":"wfrun_http","taskReferenceName":"post","type":"SIMPLE","inputParameters":{
	  "http_request":{"uri":"`+target.URL+`/keys","method":"POST",
	    "body":{"bundles":"${workflow.input.b}","secretKey":"${workflow.input.k}","auth":{"secret":"${workflow.input.s}"}}}}}`,
		`{"b":"bundle-list-1","k":"key-name-2","s":"not-an-auth-3"}`)
	mu.Lock()
	got = captured.String()
	mu.Unlock()
	if !strings.Contains(exec, `"status":"COMPLETED"`) || !strings.Contains(got, "bundle-list-1") || !strings.Contains(got, "key-name-2") {
		t.Errorf("body_keys: %s\ncaptured %q", exec, got)
	}

	// A definition string mixing the server's ${…} and the worker's $<…>:
	// the definition's reference resolves, the one run input brought is
	// sent as text.
	exec = run("mixed", `{"name":"wfrun_http","taskReferenceName":"post","type":"SIMPLE","inputParameters":{
	  "http_request":{"uri":"`+target.URL+`/mixed","method":"GET",
	    "headers":{"Authorization":"Bearer $<workflow.secrets.notes-token> for ${workflow.input.who}"}}}}`,
		`{"who":"$<workflow.secrets.db-pass>"}`)
	mu.Lock()
	got = captured.String()
	mu.Unlock()
	if !strings.Contains(exec, `"status":"COMPLETED"`) || !strings.Contains(got, "/mixed Bearer public-token-abc for $<workflow.secrets.db-pass>") {
		t.Errorf("mixed: %s\ncaptured %q", exec, got)
	}

	// auth.secret from run input: refused.
	exec = run("auth_name", `{"name":"wfrun_http","taskReferenceName":"get","type":"SIMPLE","inputParameters":{
	  "http_request":{"uri":"`+target.URL+`/auth","method":"GET",
	    "auth":{"type":"bearer","secret":"${workflow.input.tokenName}"}}}}`,
		`{"tokenName":"db-pass"}`)
	if !strings.Contains(exec, `"status":"FAILED"`) || !strings.Contains(exec, "auth.secret names a secret") {
		t.Errorf("auth_name: %s", exec)
	}

	// The whole request from run input, its auth in other letter cases (the
	// HTTP executor matches those keys in any case): refused too.
	exec = run("auth_case", `{"name":"wfrun_http","taskReferenceName":"get","type":"SIMPLE","inputParameters":{
	  "http_request":"${workflow.input.req}"}}`,
		`{"req":{"uri":"`+target.URL+`/case","method":"GET","Auth":{"type":"bearer","Secret":"db-pass"}}}`)
	if !strings.Contains(exec, `"status":"FAILED"`) || !strings.Contains(exec, "names a secret") {
		t.Errorf("auth_case: %s", exec)
	}

	// UPDATE_SECRET's secretKey from run input: refused, the store untouched.
	exec = run("rotate_name", `{"name":"wfrun_rotate","taskReferenceName":"rot","type":"SIMPLE","inputParameters":{
	  "_secrets":{"secretKey":"${workflow.input.key}","secretValue":"${workflow.input.val}"}}}`,
		`{"key":"db-pass","val":"attacker-chosen-value-1234"}`)
	if !strings.Contains(exec, `"status":"FAILED"`) || !strings.Contains(exec, "secretKey names a secret") {
		t.Errorf("rotate_name: %s", exec)
	}
	s, err := workerSecrets.Get(context.Background(), "db-pass")
	if err != nil || string(s.Value) != `"`+secret+`"` {
		t.Errorf("db-pass in the worker store is now %s (%v)", s.Value, err)
	}

	mu.Lock()
	got = captured.String()
	mu.Unlock()
	if strings.Contains(got, secret) {
		t.Errorf("capture server got the secret: %s", got)
	}
	if strings.Contains(workerLogs.String(), secret) {
		t.Errorf("worker log holds the secret")
	}
}
