package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
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
func TestWorkerCommandAgainstServe(t *testing.T) {
	cliEnv(t)
	const value = "cli-worker-secret-5521"
	if _, errOut, code := wfrun(t, "", "secret", "set", "target_token", "--value", value); code != 0 {
		t.Fatalf("secret set: %s", errOut)
	}
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
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

	cmd, sc, _ := cliProcess(t, "worker", "--server", hs.URL+"/api", "--task", "wfrun_http=HTTP", "--poll-timeout", "200ms")
	var log strings.Builder
	if waitLine(t, sc, regexp.MustCompile(`"msg":"polling"`), &log) == nil {
		t.Fatalf("worker did not start:\n%s", log.String())
	}
	def := `{"name":"cli_remote","version":1,"schemaVersion":2,"tasks":[{"name":"wfrun_http","taskReferenceName":"call","type":"SIMPLE",
	  "inputParameters":{"http_request":{"uri":"` + target.URL + `","method":"GET","headers":{"Authorization":"Bearer $<workflow.secrets.target_token>"}}}}]}`
	if st, body := testkit.HTTPCall(t, "POST", hs.URL+"/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, id := testkit.HTTPCall(t, "POST", hs.URL+"/api/workflow/cli_remote", `{}`)
	var exec string
	for deadline := time.Now().Add(20 * time.Second); ; {
		_, exec = testkit.HTTPCall(t, "GET", hs.URL+"/api/workflow/"+id+"/status", "")
		if !strings.Contains(exec, "RUNNING") || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(exec, `"COMPLETED"`) {
		t.Fatalf("run: %s", exec)
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
	if _, errOut, code := wfrun(t, "", "worker", "--task", "x=HTTP"); code != 2 || !strings.Contains(errOut, "--server") {
		t.Errorf("worker without --server: %d %s", code, errOut)
	}
	if _, errOut, code := wfrun(t, "", "worker", "--server", hs.URL, "--task", "x=NOPE"); code != 2 || !strings.Contains(errOut, "NOPE") {
		t.Errorf("worker with an unknown type: %d %s", code, errOut)
	}
}
