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

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/tasks/worker"
)

// TestWorkerPollWorkflowTaskForms: a Conductor server's poll carries the
// definition's workflowTask as written (`$<…>` unescaped). The worker
// resolves the literal header, keeps the `$<…>` the server substituted into
// the body as text, and refuses a task whose poll carries no workflowTask
// while its input holds `$<…>`: the capture server never gets the value.
func TestWorkerPollWorkflowTaskForms(t *testing.T) {
	const secret = "cond-VALUE-4e1b"
	var mu sync.Mutex
	var captured strings.Builder
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		captured.WriteString(r.Header.Get("Authorization") + " " + string(b) + "\n")
		mu.Unlock()
		_, _ = io.WriteString(w, `{}`)
	}))
	defer target.Close()

	req := `{"uri":"` + target.URL + `","method":"POST","headers":{"Authorization":"Bearer $<workflow.secrets.x>"},"body":{"note":"$<workflow.secrets.x>"}}`
	tplReq := `{"uri":"` + target.URL + `","method":"POST","headers":{"Authorization":"Bearer $<workflow.secrets.x>"},"body":{"note":"${workflow.input.note}"}}`
	polls := []string{
		`{"taskId":"t1","workflowInstanceId":"w1","taskDefName":"h","inputData":{"http_request":` + req + `},
		  "workflowTask":{"name":"h","type":"SIMPLE","inputParameters":{"http_request":` + tplReq + `}}}`,
		`{"taskId":"t2","workflowInstanceId":"w2","taskDefName":"h","inputData":{"http_request":` + req + `}}`,
	}
	var pmu sync.Mutex
	results := map[string]map[string]any{}
	done := make(chan struct{})
	conductor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/token":
			http.NotFound(w, r)
		case strings.HasPrefix(r.URL.Path, "/api/tasks/poll/batch/"):
			pmu.Lock()
			var out []string
			if len(polls) > 0 {
				out, polls = polls[:1], polls[1:]
			}
			pmu.Unlock()
			_, _ = io.WriteString(w, "["+strings.Join(out, ",")+"]")
		case r.URL.Path == "/api/tasks" && r.Method == http.MethodPost:
			var res map[string]any
			_ = json.NewDecoder(r.Body).Decode(&res)
			pmu.Lock()
			results[res["taskId"].(string)] = res
			if len(results) == 2 {
				close(done)
			}
			pmu.Unlock()
			_, _ = io.WriteString(w, "ok")
		default:
			http.NotFound(w, r)
		}
	}))
	defer conductor.Close()

	secrets := memory.New()
	v, _ := json.Marshal(secret)
	if _, err := secrets.Put(context.Background(), &store.Secret{Name: "x", Value: v}); err != nil {
		t.Fatal(err)
	}
	w, err := worker.New(worker.Config{Server: conductor.URL, Tasks: map[string]string{"h": "HTTP"},
		Secrets:     store.NewRunView(secrets, store.LocalPrincipal, "", ""),
		Concurrency: 1, PollTimeout: 50 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = w.Run(ctx) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("no results")
	}
	pmu.Lock()
	defer pmu.Unlock()
	if st := results["t1"]["status"]; st != "COMPLETED" {
		t.Errorf("t1: %v", results["t1"])
	}
	if st, reason := results["t2"]["status"], results["t2"]["reasonForIncompletion"]; st != "FAILED_WITH_TERMINAL_ERROR" ||
		!strings.Contains(reason.(string), "no workflowTask") {
		t.Errorf("t2: %v", results["t2"])
	}
	mu.Lock()
	got := captured.String()
	mu.Unlock()
	if got != "Bearer "+secret+` {"note":"$<workflow.secrets.x>"}`+"\n" {
		t.Errorf("capture server got %q", got)
	}
}
