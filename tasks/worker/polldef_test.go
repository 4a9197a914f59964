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
	"github.com/wfrun/wfrun/tasks"
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

// pollOnce serves polls (Conductor Task JSON) to a worker running kinds
// with secret x = value, and returns the results it posted, by taskId.
func pollOnce(t *testing.T, kinds map[string]string, value string, polls ...string) map[string]map[string]any {
	t.Helper()
	results, _ := pollOnceWith(t, nil, kinds, value, polls...)
	return results
}

// pollOnceWith is pollOnce with the worker's registry (nil: the default)
// that also returns the worker's log.
func pollOnceWith(t *testing.T, reg *tasks.Registry, kinds map[string]string, value string, polls ...string) (map[string]map[string]any, string) {
	t.Helper()
	secrets := memory.New()
	v, _ := json.Marshal(value)
	if _, err := secrets.Put(context.Background(), &store.Secret{Name: "x", Value: v}); err != nil {
		t.Fatal(err)
	}
	return pollWith(t, worker.Config{Tasks: kinds, Registry: reg, Secrets: store.NewRunView(secrets, store.LocalPrincipal, "", "")}, polls...)
}

// pollWith serves polls (Conductor Task JSON, each to a poll of its
// taskDefName) to a worker configured as cfg (its Server, Concurrency,
// PollTimeout and Logger set here), and returns the results it posted, by
// taskId, and its log.
func pollWith(t *testing.T, cfg worker.Config, polls ...string) (map[string]map[string]any, string) {
	t.Helper()
	logs := &testkit.SyncBuffer{}
	var mu sync.Mutex
	results := map[string]map[string]any{}
	want := strings.Count(strings.Join(polls, ""), `"taskId"`)
	done := make(chan struct{})
	conductor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/tasks/poll/batch/"):
			name := strings.TrimPrefix(r.URL.Path, "/api/tasks/poll/batch/")
			mu.Lock()
			var out []string
			for i, p := range polls {
				if strings.Contains(p, `"taskDefName":"`+name+`"`) {
					out = []string{p}
					polls = append(polls[:i:i], polls[i+1:]...)
					break
				}
			}
			mu.Unlock()
			_, _ = io.WriteString(w, "["+strings.Join(out, ",")+"]")
		case r.URL.Path == "/api/tasks" && r.Method == http.MethodPost:
			var res map[string]any
			_ = json.NewDecoder(r.Body).Decode(&res)
			mu.Lock()
			results[res["taskId"].(string)] = res
			if len(results) == want {
				close(done)
			}
			mu.Unlock()
			_, _ = io.WriteString(w, "ok")
		default:
			http.NotFound(w, r)
		}
	}))
	defer conductor.Close()
	cfg.Server, cfg.Concurrency, cfg.PollTimeout = conductor.URL, 1, 50*time.Millisecond
	cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
	w, err := worker.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel() // before conductor.Close, which waits for the polls
	stopped := make(chan struct{})
	go func() { _ = w.Run(ctx); close(stopped) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("no results")
	}
	cancel()
	<-stopped
	mu.Lock()
	defer mu.Unlock()
	return results, logs.String()
}

// TestWorkerNoSecretInProgramText: a definition's literal `$<…>` in an
// INLINE expression or a jq queryExpression is refused, as the engine
// refuses it: the value never becomes code, and nothing the worker posts
// holds it or a piece of it.
func TestWorkerNoSecretInProgramText(t *testing.T) {
	const value = "Zq_tok-9f8e7d6c5b4a"
	js := `{"evaluatorType":"javascript","expression":"var s = \"$<workflow.secrets.x>\"; s.split(\"\").join(\" \")"}`
	jq := `{"queryExpression":".x | \"$<workflow.secrets.x>\"","x":1}`
	results := pollOnce(t, map[string]string{"js": "INLINE", "jq": "JSON_JQ_TRANSFORM"}, value,
		`{"taskId":"t1","workflowInstanceId":"w1","taskDefName":"js","inputData":`+js+`,"workflowTask":{"inputParameters":`+js+`}}`,
		`{"taskId":"t2","workflowInstanceId":"w2","taskDefName":"jq","inputData":`+jq+`,"workflowTask":{"inputParameters":`+jq+`}}`)
	for id, field := range map[string]string{"t1": "expression", "t2": "queryExpression"} {
		res := results[id]
		reason, _ := res["reasonForIncompletion"].(string)
		if res["status"] != "FAILED_WITH_TERMINAL_ERROR" || !strings.Contains(reason, field+": a secret reference must not be part of program text") {
			t.Errorf("%s: %v", id, res)
		}
		b, _ := json.Marshal(res)
		if strings.Contains(string(b), "Zq_tok") || strings.Contains(string(b), "9f8e7d6c5b4a") || strings.Contains(string(b), "Z q _ t") {
			t.Errorf("%s: the result holds the secret: %s", id, b)
		}
	}
}

// TestWorkerRegistersNumberSecrets: a number under `_secrets` of a task's
// output is registered like a string: its copy elsewhere reaches the
// server masked.
func TestWorkerRegistersNumberSecrets(t *testing.T) {
	in := `{"evaluatorType":"javascript","expression":"(function(){ return {\"_secrets\": {\"pin\": 987654321, \"s\": \"strleaf-1122\"}, \"copy\": 987654321, \"copys\": \"strleaf-1122\"}; })()"}`
	results := pollOnce(t, map[string]string{"js": "INLINE"}, "unused-value",
		`{"taskId":"t1","workflowInstanceId":"w1","taskDefName":"js","inputData":`+in+`,"workflowTask":{"inputParameters":`+in+`}}`)
	b, _ := json.Marshal(results["t1"])
	if results["t1"]["status"] != "COMPLETED" || strings.Contains(string(b), "987654321") || strings.Contains(string(b), "strleaf-1122") ||
		!strings.Contains(string(b), `"copy":"***"`) {
		t.Errorf("posted: %s", b)
	}
}
