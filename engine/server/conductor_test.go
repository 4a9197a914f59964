package server_test

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

	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"
	"github.com/conductor-sdk/conductor-go/sdk/worker"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/tasks"
)

type conductorServer struct {
	*testServer
	runs runstore.Store
}

// newConductorServer is a server with the Conductor API over a memory
// secret store and a memory run store (or runs, when given).
func newConductorServer(t *testing.T, runs runstore.Store, opts ...server.Option) *conductorServer {
	t.Helper()
	return newConductorServerWith(t, runs, nil, opts...)
}

// newConductorServerWith is newConductorServer with more engine options
// (a manual clock).
func newConductorServerWith(t *testing.T, runs runstore.Store, more []engine.Option, opts ...server.Option) *conductorServer {
	t.Helper()
	st := memory.New()
	if runs == nil {
		runs = runstore.NewMemory()
	}
	logs := &testkit.SyncBuffer{}
	logger := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	engOpts := []engine.Option{
		engine.WithRunStore(runs),
		engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithSecrets(func(p engine.Principal, project, environment string) interpolate.SecretSource {
			return store.NewRunView(st, store.Principal{Name: p.Name, Scopes: p.Scopes}, project, environment)
		}),
	}
	engOpts = append(engOpts, more...)
	all := append([]server.Option{server.WithLogger(logger), server.WithConductor(t.TempDir(), engOpts...)}, opts...)
	srv, err := server.New(st, all...)
	if err != nil {
		t.Fatal(err)
	}
	hs := serveTest(t, srv)
	return &conductorServer{testServer: &testServer{Server: hs, srv: srv, store: st, logs: logs}, runs: runs}
}

// echoServer answers every request with the Authorization header it got.
func echoServer(t *testing.T) *httptest.Server {
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"auth": r.Header.Get("Authorization")})
	}))
	t.Cleanup(hs.Close)
	return hs
}

func putSecret(t *testing.T, st store.Store, name, value string) {
	t.Helper()
	v, _ := json.Marshal(value)
	if _, err := st.Put(context.Background(), &store.Secret{Name: name, Value: v}); err != nil {
		t.Fatal(err)
	}
}

// waitStatus polls the workflow status until it is terminal.
func waitStatus(t *testing.T, wc client.WorkflowClient, id string, within time.Duration) model.WorkflowState {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		st, _, err := wc.GetWorkflowState(context.Background(), id, true, true)
		if err == nil && st.Status != "" && st.Status != "RUNNING" {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("workflow %s still %q after %s (err %v)", id, st.Status, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestConductorGoSDKSecretNeverStored: a workflow registered and started
// with the Conductor Go SDK calls an HTTP server with
// `Authorization: Bearer ${workflow.secrets.api_key}` (the server echoes
// it) and hands a SIMPLE task to the SDK's TaskRunner worker, which gets
// the secret resolved (Orkes behaviour) and `$<…>` verbatim, and returns
// the value in its output. The run completes; the value is in no response,
// log line or stored record.
func TestConductorGoSDKSecretNeverStored(t *testing.T) {
	const value = "sk-live-TOPSECRET-4242"
	ts := newConductorServer(t, nil)
	putSecret(t, ts.store, "api_key", value)
	echo := echoServer(t)

	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	meta := client.NewMetadataClient(api)
	wc := client.NewWorkflowClient(api)
	ctx := context.Background()
	def := model.WorkflowDef{
		Name: "sdk_secret_flow", Version: 1, SchemaVersion: 2,
		Tasks: []model.WorkflowTask{
			{Name: "call", TaskReferenceName: "call", Type_: "HTTP", InputParameters: map[string]any{
				"http_request": map[string]any{
					"uri": echo.URL + "/whoami", "method": "GET",
					"headers": map[string]any{"Authorization": "Bearer ${workflow.secrets.api_key}"},
				},
			}},
			{Name: "sdk_worker_task", TaskReferenceName: "enrich", Type_: "SIMPLE", InputParameters: map[string]any{
				"token":  "${workflow.secrets.api_key}",
				"echoed": "${call.output.response.body.auth}",
				"remote": "$<workflow.secrets.worker_only>",
				"who":    "${workflow.input.who}",
			}},
		},
		OutputParameters: map[string]any{"echoed": "${call.output.response.body.auth}", "worker": "${enrich.output}"},
	}
	if resp, err := meta.RegisterWorkflowDef(ctx, true, def); err != nil {
		t.Fatalf("RegisterWorkflowDef: %v (status %d)", err, status(resp))
	}
	got, _, err := meta.Get(ctx, "sdk_secret_flow", nil)
	if err != nil || got.Name != "sdk_secret_flow" || len(got.Tasks) != 2 {
		t.Fatalf("metadata Get = %+v, %v", got, err)
	}

	var mu sync.Mutex
	var seen map[string]any
	runner := worker.NewTaskRunnerWithApiClient(api)
	err = runner.StartWorker("sdk_worker_task", func(task *model.Task) (any, error) {
		mu.Lock()
		seen = task.InputData
		mu.Unlock()
		return map[string]any{"received": task.InputData["token"], "ok": true}, nil
	}, 1, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	defer runner.Shutdown("sdk_worker_task")

	id, resp, err := wc.StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "sdk_secret_flow", Version: 1, Input: map[string]any{"who": "ada"}})
	if err != nil || id == "" {
		t.Fatalf("StartWorkflowWithRequest: %q %v (status %d)", id, err, status(resp))
	}
	st := waitStatus(t, wc, id, 20*time.Second)
	if st.Status != "COMPLETED" {
		raw, _ := json.Marshal(st)
		t.Fatalf("status %s: %s", st.Status, raw)
	}
	mu.Lock()
	if seen["token"] != value || seen["remote"] != "$<workflow.secrets.worker_only>" || seen["who"] != "ada" || seen["echoed"] != "Bearer ***" {
		t.Errorf("worker input = %v; want the resolved token, $<…> verbatim, the input, and the masked echo", seen)
	}
	mu.Unlock()

	wf, _, err := wc.GetExecutionStatus(ctx, id, &client.WorkflowResourceApiGetExecutionStatusOpts{})
	if err != nil || wf.Status != "COMPLETED" || len(wf.Tasks) != 2 || wf.Tasks[1].Status != "COMPLETED" {
		t.Fatalf("GetExecutionStatus: %+v %v", wf, err)
	}
	if wf.Output["echoed"] != "Bearer ***" {
		t.Errorf("output echoed = %v, want Bearer ***", wf.Output["echoed"])
	}
	// Raw responses, stored records and logs: the value is nowhere.
	_, _, exec := ts.do(t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
	_, _, stat := ts.do(t, "GET", "/api/workflow/"+id+"/status?includeOutput=true&includeVariables=true", "")
	_, _, search := ts.do(t, "GET", "/api/workflow/search?query=status%3DCOMPLETED", "")
	stored, _, err := ts.runs.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(exec, `"received":"***"`) || !strings.Contains(exec, id) || !strings.Contains(search, id) {
		t.Errorf("execution lacks the masked worker output or the id:\n%s\n%s", exec, search)
	}
	_, _, metrics := ts.do(t, "GET", "/metrics", "")
	for _, want := range []string{`wfrun_runs_total{status="COMPLETED"} 1`, `wfrun_tasks_polled_total{task="sdk_worker_task"} 1`, `wfrun_http_request_duration_seconds_count{route="POST /api/workflow"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for what, text := range map[string]string{"execution": exec, "status": stat, "search": search, "stored run": string(stored), "log": ts.logs.String()} {
		if strings.Contains(text, value) || strings.Contains(text, "TOPSECRET") {
			t.Errorf("%s contains the secret value:\n%s", what, text)
		}
	}
}
