package worker_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/tasks"
	"github.com/wfrun/wfrun/tasks/worker"
)

func waitDone(t *testing.T, base, id string) string {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		_, body := testkit.HTTPCall(t, "GET", base+"/api/workflow/"+id, "")
		if !strings.Contains(body, `"status":"RUNNING"`) || time.Now().After(deadline) {
			return body
		}
	}
}

// TestWorkerConcurrencyLimit: 12 tasks against a slow target with
// Concurrency 3: never more than 3 at once, each task run exactly once.
func TestWorkerConcurrencyLimit(t *testing.T) {
	var active, peak, hits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := active.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		hits.Add(1)
		time.Sleep(50 * time.Millisecond)
		active.Add(-1)
		_, _ = io.WriteString(w, `{}`)
	}))
	defer target.Close()
	base := serveForWorkers(t).URL
	w, err := worker.New(worker.Config{Server: base, Tasks: map[string]string{"slow_http": "HTTP"},
		Concurrency: 3, PollTimeout: 100 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = w.Run(ctx) }()
	def := `{"name":"slow","version":1,"schemaVersion":2,"tasks":[{"name":"slow_http","taskReferenceName":"call","type":"SIMPLE",
	  "inputParameters":{"http_request":{"uri":"` + target.URL + `","method":"GET"}}}]}`
	if st, body := testkit.HTTPCall(t, "POST", base+"/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	var ids []string
	for range 12 {
		_, id := testkit.HTTPCall(t, "POST", base+"/api/workflow/slow", `{}`)
		ids = append(ids, id)
	}
	for _, id := range ids {
		if body := waitDone(t, base, id); !strings.Contains(body, `"status":"COMPLETED"`) {
			t.Fatalf("run %s: %s", id, body)
		}
	}
	if p := peak.Load(); p > 3 || p < 2 {
		t.Errorf("peak concurrency %d, want at most 3 (and some overlap)", p)
	}
	if h := hits.Load(); h != 12 {
		t.Errorf("target hit %d times, want 12", h)
	}
}

// TestWorkerUpdateSecret: an UPDATE_SECRET task run by the worker writes
// the new value into the worker's store; the server stores "***" and
// references only.
func TestWorkerUpdateSecret(t *testing.T) {
	const newValue = "rotated-token-AB12CD34"
	sv := serveForWorkers(t)
	base, runs := sv.URL, sv.Runs
	secrets := memory.New()
	w, err := worker.New(worker.Config{Server: base, Tasks: map[string]string{"wfrun_rotate": tasks.TypeUpdateSecret},
		Secrets: store.NewRunView(secrets, store.LocalPrincipal, "", ""), PollTimeout: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = w.Run(ctx) }()
	def := `{"name":"rotate","version":1,"schemaVersion":2,"tasks":[{"name":"wfrun_rotate","taskReferenceName":"rotate","type":"SIMPLE",
	  "inputParameters":{"_secrets":{"secretKey":"api_token","secretValue":"${workflow.input.token}"}}}]}`
	if st, body := testkit.HTTPCall(t, "POST", base+"/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	// The new value arrives as workflow input here only to have one; the
	// server masks nothing it was not told about, so the test checks the
	// worker's store and that the task's output holds no value.
	_, id := testkit.HTTPCall(t, "POST", base+"/api/workflow/rotate", `{"token":"`+newValue+`"}`)
	body := waitDone(t, base, id)
	if !strings.Contains(body, `"status":"COMPLETED"`) {
		t.Fatalf("run: %s", body)
	}
	sec, err := secrets.Get(context.Background(), "api_token")
	if err != nil {
		t.Fatal(err)
	}
	var got string
	if json.Unmarshal(sec.Value, &got); got != newValue {
		t.Errorf("worker store api_token = %s", sec.Value)
	}
	stored, _, err := runs.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tasks []struct {
			OutputData map[string]any `json:"outputData"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(stored, &doc); err != nil || len(doc.Tasks) != 1 {
		t.Fatalf("stored: %s", stored)
	}
	out, _ := json.Marshal(doc.Tasks[0].OutputData)
	if strings.Contains(string(out), newValue) {
		t.Errorf("the task output the server stored holds the value: %s", out)
	}
}
