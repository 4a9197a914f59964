package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/tasks"
)

// TestWorkerCommandAgainstServe: `wfrun worker` (a process, its secret in
// its own bolt store) runs the SIMPLE task of a workflow served by
// engine/server, which holds no secret; SIGTERM stops the worker cleanly.
// The worker reads only what its --scope grants: a definition the server
// hands it naming another secret of its store fails, naming the secret, the
// value goes nowhere and the denial is audited.
func TestWorkerCommandAgainstServe(t *testing.T) {
	cliEnv(t)
	const value, other = "cli-worker-secret-5521", "cli-worker-other-8830"
	if _, errOut, code := wfrun(t, "", "secret", "set", "target_token", "--value", value); code != 0 {
		t.Fatalf("secret set: %s", errOut)
	}
	if _, errOut, code := wfrun(t, "", "secret", "set", "prod_db", "--value", other); code != 0 {
		t.Fatalf("secret set: %s", errOut)
	}
	var leaked atomic.Bool
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if strings.Contains(r.Header.Get("Authorization"), other) {
			leaked.Store(true)
		}
		if r.Header.Get("Authorization") != "Bearer "+value {
			w.WriteHeader(http.StatusUnauthorized)
		}
		_, _ = io.WriteString(w, `{"ok":true}`)
	}))
	defer target.Close()
	runs := runstore.NewMemory()
	srv, err := server.New(memory.New(), server.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))),
		server.WithConductor(t.TempDir(), engine.WithRunStore(runs), engine.WithRegistry(tasks.NewDefaultRegistry())))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	cmd, sc, _ := cliProcess(t, "worker", "--server", hs.URL+"/api", "--task", "wfrun_http=HTTP", "--poll-timeout", "200ms",
		"--scope", "secrets:get:target_token")
	var log strings.Builder
	if waitLine(t, sc, regexp.MustCompile(`"msg":"polling"`), &log) == nil {
		t.Fatalf("worker did not start:\n%s", log.String())
	}
	runDef := func(name, secret string) string {
		t.Helper()
		def := `{"name":"` + name + `","version":1,"schemaVersion":2,"tasks":[{"name":"wfrun_http","taskReferenceName":"call","type":"SIMPLE",
		  "inputParameters":{"http_request":{"uri":"` + target.URL + `","method":"GET","headers":{"Authorization":"Bearer $<workflow.secrets.` + secret + `>"}}}}]}`
		if st, body := testkit.HTTPCall(t, "POST", hs.URL+"/api/metadata/workflow", def); st != 200 {
			t.Fatalf("register: %d %s", st, body)
		}
		_, id := testkit.HTTPCall(t, "POST", hs.URL+"/api/workflow/"+name, `{}`)
		var exec string
		for deadline := time.Now().Add(20 * time.Second); ; {
			_, exec = testkit.HTTPCall(t, "GET", hs.URL+"/api/workflow/"+id+"?includeTasks=true", "")
			if !strings.Contains(exec, `"status":"RUNNING"`) || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		return exec
	}
	if exec := runDef("cli_remote", "target_token"); !strings.Contains(exec, `"status":"COMPLETED"`) {
		t.Fatalf("run: %s", exec)
	}
	exec := runDef("cli_steal", "prod_db")
	if !strings.Contains(exec, `"status":"FAILED"`) || !strings.Contains(exec, `lacks scope secrets:get:prod_db`) ||
		strings.Contains(exec, other) || leaked.Load() {
		t.Fatalf("a secret outside the worker's scopes: leaked=%v run: %s", leaked.Load(), exec)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for sc.Scan() {
		log.WriteString(sc.Text() + "\n")
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("worker exit: %v\n%s", err, log.String())
	}
	if strings.Contains(log.String(), value) {
		t.Errorf("worker log leaks the value:\n%s", log.String())
	}
	if out := strings.ReplaceAll(mustRun(t, "", "audit", "ls", "--name", "prod_db", "-o", "json"), `": "`, `":"`); !strings.Contains(out, `"principal":"worker"`) ||
		!strings.Contains(out, `"outcome":"denied"`) || strings.Contains(out, other) {
		t.Errorf("the denied read is not audited: %s", out)
	}
	if _, errOut, code := wfrun(t, "", "worker", "--server", hs.URL, "--task", "x=HTTP", "--scope", "secrets:get:\x01"); code != 2 || !strings.Contains(errOut, "--scope") {
		t.Errorf("worker with a bad scope: %d %s", code, errOut)
	}
	if _, errOut, code := wfrun(t, "", "worker", "--task", "x=HTTP"); code != 2 || !strings.Contains(errOut, "--server") {
		t.Errorf("worker without --server: %d %s", code, errOut)
	}
	if _, errOut, code := wfrun(t, "", "worker", "--server", hs.URL, "--task", "x=NOPE"); code != 2 || !strings.Contains(errOut, "NOPE") {
		t.Errorf("worker with an unknown type: %d %s", code, errOut)
	}
}
