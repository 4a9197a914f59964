package worker_test

import (
	"context"
	"encoding/json"
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
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
	"github.com/wfrun/wfrun/tasks/worker"
)

// A token a worker task receives passes to the run's later tasks through
// the server without the server holding it: the first task's answer
// carries it under `_secrets`, sealed for the run with the workers' key;
// the server stores, resolves and hands over only that; the worker that
// runs the next tasks opens it — inside an Authorization header, and as
// UPDATE_SECRET's new value, which lands in the workers' store. Two
// workers share the key, as processes on two machines would (the store's
// master key); the tasks are polled by either.
func TestWorkerSealedSecretsAcrossTasks(t *testing.T) {
	const token = "issued-token-Jf47Wq82Mz"
	var mu sync.Mutex
	var auths []string
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/token":
			_, _ = io.WriteString(w, `{"_secrets":{"token":"`+token+`"},"expires":3600}`)
		default:
			mu.Lock()
			auths = append(auths, r.Header.Get("Authorization"))
			mu.Unlock()
			// Echoes what it got: the answer must come back masked.
			_, _ = io.WriteString(w, `{"seen":"`+r.Header.Get("Authorization")+`"}`)
		}
	}))
	defer target.Close()
	sv := serveForWorkers(t)
	key, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	workerStore := memory.New()
	logs := &testkit.SyncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for i := 0; i < 2; i++ {
		ring, err := seal.NewKeyring(key)
		if err != nil {
			t.Fatal(err)
		}
		w, err := worker.New(worker.Config{Server: sv.URL, Seal: ring,
			Tasks:       map[string]string{"wfrun_http": tasks.TypeHTTP, "wfrun_rotate": tasks.TypeUpdateSecret},
			Secrets:     store.NewRunView(workerStore, store.Principal{Name: "worker", Scopes: []string{"secrets:set:api_token"}}, "", ""),
			PollTimeout: 100 * time.Millisecond, Logger: slog.New(slog.NewJSONHandler(logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); _ = w.Run(ctx) }()
	}
	def := `{"name":"sealed_chain","version":1,"schemaVersion":2,"tasks":[
	  {"name":"wfrun_http","taskReferenceName":"issue","type":"SIMPLE","inputParameters":{"uri":"` + target.URL + `/token","method":"POST"}},
	  {"name":"wfrun_http","taskReferenceName":"use","type":"SIMPLE","inputParameters":{"uri":"` + target.URL + `/use","method":"GET",
	    "headers":{"Authorization":"Bearer ${issue.output.response.body._secrets.token}"}}},
	  {"name":"wfrun_rotate","taskReferenceName":"store","type":"SIMPLE","inputParameters":{
	    "_secrets":{"secretKey":"api_token","secretValue":"${issue.output.response.body._secrets.token}"}}}],
	  "outputParameters":{"expires":"${issue.output.response.body.expires}","seen":"${use.output.response.body.seen}"}}`
	if st, body := testkit.HTTPCall(t, "POST", sv.URL+"/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	st, id := testkit.HTTPCall(t, "POST", sv.URL+"/api/workflow/sealed_chain", `{}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	exec := waitDone(t, sv.URL, id)
	if !strings.Contains(exec, `"status":"COMPLETED"`) || !strings.Contains(exec, `"output":{"expires":3600,"seen":"Bearer ***"}`) {
		t.Fatalf("run: %s\nworker log: %s", exec, logs.String())
	}
	mu.Lock()
	if len(auths) != 1 || auths[0] != "Bearer "+token {
		t.Errorf("the target got %q", auths)
	}
	mu.Unlock()
	sec, err := workerStore.Get(context.Background(), "api_token")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if json.Unmarshal(sec.Value, &got) != nil || got != token {
		t.Errorf("the workers' store holds %s", sec.Value)
	}
	stored, _, err := sv.Runs.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	for what, text := range map[string]string{"execution": exec, "stored run": string(stored), "server log": sv.Logs.String(), "worker log": logs.String()} {
		if strings.Contains(text, token) || strings.Contains(text, token[4:12]) || strings.Contains(text, token[12:20]) {
			t.Errorf("%s holds the token:\n%s", what, text)
		}
	}
}
