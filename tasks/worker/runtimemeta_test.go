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

// A server that hands out runtimeMetadata and stores what it gets as it
// gets it (Conductor OSS resolves TaskDef.runtimeMetadata at poll time and
// masks nothing): the HTTP target echoes a declared value back, and the
// worker's answer carries it masked, in the output and in a failure reason.
// A declared PIN that occurs inside the server's task and workflow ids is
// masked where it stands alone, not inside the ids the target echoes: the
// server shows those ids whole (masking.Masker.KeepID says why).
func TestWorkerMasksRuntimeMetadata(t *testing.T) {
	const key = "declared-KEY-6b1e0c"
	const taskID, runID = "9b2c4821-0d3e-4f5a-8b6c-7d8e9f0a1b2c", "4821aa00-1b2c-4d3e-9f40-5a6b7c8d9e0f"
	for _, tc := range []struct {
		name, targetStatus, wantStatus string
	}{
		{"output", "200", "COMPLETED"},
		{"failure reason", "500", "FAILED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				if tc.targetStatus == "500" {
					w.WriteHeader(http.StatusInternalServerError)
				}
				_, _ = io.WriteString(w, `{"echo":"the key is `+key+`","task":"`+taskID+`","run":"`+runID+`","pin":"pin 4821"}`)
			}))
			defer target.Close()
			var mu sync.Mutex
			var handed bool
			updates := make(chan []byte, 4)
			conductor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case strings.HasPrefix(r.URL.Path, "/api/tasks/poll/batch/"):
					mu.Lock()
					first := !handed
					handed = true
					mu.Unlock()
					w.Header().Set("Content-Type", "application/json")
					if !first {
						_, _ = io.WriteString(w, "[]")
						return
					}
					task, _ := json.Marshal([]map[string]any{{
						"taskId": taskID, "workflowInstanceId": runID, "referenceTaskName": "call", "taskDefName": "wfrun_http",
						"taskType": "wfrun_http", "status": "IN_PROGRESS", "responseTimeoutSeconds": 30,
						"inputData":       map[string]any{"http_request": map[string]any{"uri": target.URL, "method": "GET"}},
						"runtimeMetadata": map[string]string{"API_KEY": key, "REGION": "us-east-1", "PIN": "4821"},
					}})
					_, _ = w.Write(task)
				case r.URL.Path == "/api/tasks" && r.Method == http.MethodPost:
					b, _ := io.ReadAll(r.Body)
					updates <- b
					w.Header().Set("Content-Type", "text/plain")
					_, _ = io.WriteString(w, taskID)
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
			case b := <-updates:
				var res struct {
					Status string `json:"status"`
				}
				_ = json.Unmarshal(b, &res)
				if res.Status != tc.wantStatus || strings.Contains(string(b), key) || !strings.Contains(string(b), "the key is ***") {
					t.Fatalf("update %s: want %s with the declared value masked", b, tc.wantStatus)
				}
				if strings.Contains(string(b), "pin 4821") || strings.Count(string(b), taskID) < 2 || strings.Count(string(b), runID) < 2 {
					t.Fatalf("update %s: want the PIN masked and the ids echoed whole", b)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("no update within 10s")
			}
		})
	}
}
