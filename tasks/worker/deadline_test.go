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

	"github.com/wfrun/wfrun/tasks/worker"
)

// A server playing Conductor hands out a task with a 2s response timeout,
// counted (as Conductor counts it) from the poll; the HTTP target outlasts
// it. The worker's own answer, the task failed, must reach the server
// before those 2s have passed, or the server has given the task away and
// refuses it.
func TestWorkerAnswersBeforeResponseTimeout(t *testing.T) {
	const responseTimeout = 2 * time.Second
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	}))
	defer target.Close()
	var mu sync.Mutex
	var polledAt time.Time
	type update struct {
		at   time.Time
		body []byte
	}
	updates := make(chan update, 4)
	conductor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/tasks/poll/batch/"):
			mu.Lock()
			first := polledAt.IsZero()
			if first {
				polledAt = time.Now()
			}
			mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			if !first {
				_, _ = io.WriteString(w, "[]")
				return
			}
			task, _ := json.Marshal([]map[string]any{{
				"taskId": "t1", "workflowInstanceId": "wf1", "referenceTaskName": "call", "taskDefName": "wfrun_http",
				"taskType": "wfrun_http", "status": "IN_PROGRESS", "responseTimeoutSeconds": int(responseTimeout / time.Second),
				"inputData": map[string]any{"http_request": map[string]any{"uri": target.URL, "method": "GET"}},
			}})
			_, _ = w.Write(task)
		case r.URL.Path == "/api/tasks" && r.Method == http.MethodPost:
			b, _ := io.ReadAll(r.Body)
			updates <- update{time.Now(), b}
			w.Header().Set("Content-Type", "text/plain")
			_, _ = io.WriteString(w, "t1")
		default:
			http.NotFound(w, r)
		}
	}))
	defer conductor.Close()
	w, err := worker.New(worker.Config{
		Server: conductor.URL, Tasks: map[string]string{"wfrun_http": "HTTP"},
		Concurrency: 1, PollTimeout: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _ = w.Run(ctx) }()
	select {
	case u := <-updates:
		mu.Lock()
		took := u.at.Sub(polledAt)
		mu.Unlock()
		var res struct {
			Status string `json:"status"`
		}
		_ = json.Unmarshal(u.body, &res)
		if res.Status != "FAILED" {
			t.Fatalf("update %s: want FAILED", u.body)
		}
		if took >= responseTimeout {
			t.Fatalf("answer reached the server %v after the poll, not within the %v response timeout", took, responseTimeout)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no update within 15s")
	}
}
