package worker_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/tasks/worker"
)

// TestWorkerResolvesOnlyItsOwnSecrets: wfrun serve runs a workflow whose
// SIMPLE task carries `Authorization: Bearer $<workflow.secrets.x>`; only
// the worker's store holds x. The worker resolves it, the HTTP target gets
// the value, and the server sees it nowhere: not in its stores, its
// responses or its logs.
func TestWorkerResolvesOnlyItsOwnSecrets(t *testing.T) {
	const value = "worker-only-VALUE-9d2c"
	var gotAuth sync.Map
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth.Store(r.Header.Get("Authorization"), true)
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"auth": r.Header.Get("Authorization"),
			"_secrets": map[string]string{"session": "session-from-target-77"}})
	}))
	defer target.Close()

	// The server side: its own (empty) secret store and run store.
	sv := serveForWorkers(t)
	serverSecrets, runs, serverLogs := sv.Secrets, sv.Runs, sv.Logs
	hs := sv

	// The worker side: the only store that holds x.
	workerSecrets := secretsHolding(t, map[string]string{"x": value})
	workerLogs := &testkit.SyncBuffer{}
	w, err := worker.New(worker.Config{
		Server: hs.URL, Tasks: map[string]string{"wfrun_http": "HTTP"},
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

	def := `{"name":"remote_secret","version":1,"schemaVersion":2,"tasks":[
	  {"name":"wfrun_http","taskReferenceName":"call","type":"SIMPLE","inputParameters":{
	    "http_request":{"uri":"` + target.URL + `","method":"GET","headers":{"Authorization":"Bearer $<workflow.secrets.x>"}},
	    "literal":"$${kept}"}}],
	  "outputParameters":{"auth":"${call.output.response.body.auth}","session":"${call.output.response.body._secrets}"}}`
	if st, body := testkit.HTTPCall(t, "POST", hs.URL+"/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	st, id := testkit.HTTPCall(t, "POST", hs.URL+"/api/workflow/remote_secret", `{}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	var exec string
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, exec = testkit.HTTPCall(t, "GET", hs.URL+"/api/workflow/"+id, "")
		if strings.Contains(exec, `"status":"COMPLETED"`) || strings.Contains(exec, `"status":"FAILED"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not done: %s", exec)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(exec, `"status":"COMPLETED"`) {
		t.Fatalf("run: %s\nworker log: %s", exec, workerLogs.String())
	}
	if _, ok := gotAuth.Load("Bearer " + value); !ok {
		t.Errorf("the HTTP target did not get the resolved secret")
	}
	// What the server stored and shows: the reference and "***", never the value.
	if !strings.Contains(exec, `"Authorization":"Bearer $<workflow.secrets.x>"`) || !strings.Contains(exec, `"auth":"Bearer ***"`) {
		t.Errorf("execution: %s", exec)
	}
	if strings.Contains(exec, "session-from-target-77") || strings.Contains(exec, `"_secrets"`) && !strings.Contains(exec, `"session":null`) {
		t.Errorf("_secrets of the worker output reached the server: %s", exec)
	}
	stored, _, err := runs.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	names, err := serverSecrets.List(context.Background(), store.ListOptions{})
	if err != nil || len(names.Names) != 0 {
		t.Errorf("server store holds %v", names)
	}
	for what, text := range map[string]string{"execution": exec, "stored run": string(stored), "server log": serverLogs.String(), "worker log": workerLogs.String()} {
		if strings.Contains(text, value) || strings.Contains(text, "session-from-target-77") {
			t.Errorf("%s contains a secret value:\n%s", what, text)
		}
	}
	cancel()
	select {
	case err := <-stopped:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("worker did not stop")
	}
}
