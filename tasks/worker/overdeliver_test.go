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
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/tasks/worker"
)

// TestWorkerServerSendsMoreThanAsked: a server that answers a poll for one
// task with three (count is a request, not a promise) gets all three
// answered, one at a time as Concurrency 1 says, and the worker still stops
// when asked.
func TestWorkerServerSendsMoreThanAsked(t *testing.T) {
	var active, peak atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := active.Add(1)
		for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
		}
		time.Sleep(30 * time.Millisecond)
		active.Add(-1)
		_, _ = io.WriteString(w, `{}`)
	}))
	defer target.Close()
	in := `{"http_request":{"uri":"` + target.URL + `","method":"GET"}}`
	var mu sync.Mutex
	handed := false
	answered := map[string]string{}
	done := make(chan struct{})
	conductor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/tasks/poll/batch/"):
			mu.Lock()
			first := !handed
			handed = true
			mu.Unlock()
			if !first {
				_, _ = io.WriteString(w, "[]")
				return
			}
			var out []string
			for _, id := range []string{"t1", "t2", "t3"} {
				out = append(out, `{"taskId":"`+id+`","workflowInstanceId":"w","taskDefName":"h","inputData":`+in+`,"workflowTask":{"inputParameters":`+in+`}}`)
			}
			_, _ = io.WriteString(w, "["+strings.Join(out, ",")+"]")
		case r.URL.Path == "/api/tasks" && r.Method == http.MethodPost:
			var res map[string]any
			_ = json.NewDecoder(r.Body).Decode(&res)
			mu.Lock()
			answered[res["taskId"].(string)], _ = res["status"].(string)
			if len(answered) == 3 {
				close(done)
			}
			mu.Unlock()
			_, _ = io.WriteString(w, "ok")
		default:
			http.NotFound(w, r)
		}
	}))
	defer conductor.Close()
	w, err := worker.New(worker.Config{Server: conductor.URL, Tasks: map[string]string{"h": "HTTP"},
		Concurrency: 1, PollTimeout: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan struct{})
	go func() { _ = w.Run(ctx); close(stopped) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		mu.Lock()
		t.Errorf("answered within 10s: %v", answered)
		mu.Unlock()
	}
	cancel()
	select {
	case <-stopped:
	case <-time.After(5 * time.Second):
		t.Fatal("the worker did not stop")
	}
	mu.Lock()
	defer mu.Unlock()
	for _, id := range []string{"t1", "t2", "t3"} {
		if answered[id] != "COMPLETED" {
			t.Errorf("%s: %q", id, answered[id])
		}
	}
	if p := peak.Load(); p != 1 {
		t.Errorf("peak concurrency %d, want 1", p)
	}
}
