package server_test

import (
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// TestUpdateThroughAnotherProcess: two servers share a Redis run store and
// a definitions directory. A worker polls a task from A (which executes
// the run) and answers through B, as behind a load balancer: B delivers
// the answer through the run store and A's run completes with it, masked.
func TestUpdateThroughAnotherProcess(t *testing.T) {
	url := "redis://" + redistest.Start(t) + "/0"
	defs := t.TempDir()
	// Processes sharing a run store share its keyring (WFRUN_MASTER_KEY).
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	newServer := func() *testServer {
		runs, err := runstore.OpenRedis(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = runs.Close() })
		logs := &logBuffer{}
		srv, err := server.New(memory.New(), server.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))),
			server.WithConductor(defs, engine.WithRunStore(runs), engine.WithKeyring(ring), engine.WithRegistry(tasks.NewDefaultRegistry())))
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv.Handler())
		t.Cleanup(hs.Close)
		return &testServer{Server: hs, srv: srv, logs: logs}
	}
	a, b := newServer(), newServer()
	if st, _, body := a.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, _, id := a.do(t, "POST", "/api/workflow/one_simple", `{"k":"v"}`)
	_, _, body := a.do(t, "GET", "/api/tasks/poll/batch/slow_task?count=1&timeout=5000", "")
	var got []map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != 1 {
		t.Fatalf("poll on A: %s", body)
	}
	upd, _ := json.Marshal(map[string]any{"taskId": got[0]["taskId"], "workflowInstanceId": id, "status": "COMPLETED",
		"outputData": map[string]any{"r": "answered via B"}})
	// B shows the task in progress (A stored it when it queued it).
	if _, _, view := b.do(t, "GET", "/api/workflow/"+id, ""); !strings.Contains(view, `"status":"IN_PROGRESS"`) {
		t.Errorf("B's view of the run: %s", view)
	}
	if st, _, body := b.do(t, "POST", "/api/tasks", string(upd)); st != 200 {
		t.Fatalf("update through B: %d %s", st, body)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, _, body = b.do(t, "GET", "/api/workflow/"+id+"/status?includeOutput=true", "")
		if !strings.Contains(body, "RUNNING") || time.Now().After(deadline) {
			break
		}
	}
	if !strings.Contains(body, `"COMPLETED"`) || !strings.Contains(body, "answered via B") {
		t.Fatalf("run after an answer through B: %s", body)
	}
	// A second answer for the same task is taken by both (Conductor answers
	// an update of an ended task with success) and applied by neither.
	again, _ := json.Marshal(map[string]any{"taskId": got[0]["taskId"], "workflowInstanceId": id, "status": "FAILED",
		"outputData": map[string]any{"r": "a second answer"}})
	for name, s := range map[string]*testServer{"A": a, "B": b} {
		if st, _, body := s.do(t, "POST", "/api/tasks", string(again)); st != 200 {
			t.Errorf("repeated answer through %s: %d %s", name, st, body)
		}
	}
	if _, _, view := b.do(t, "GET", "/api/workflow/"+id, ""); strings.Contains(view, "a second answer") || !strings.Contains(view, `"status":"COMPLETED"`) {
		t.Errorf("a second answer was applied: %s", view)
	}
}
