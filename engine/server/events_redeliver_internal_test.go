package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

const redeliverWaitDef = `{"name":"redeliver_wait","version":1,"schemaVersion":2,"tasks":[
  {"name":"w","taskReferenceName":"w","type":"WAIT"}]}`

// TestEventRedeliveredAfterProcessDied: a serve process took a message of
// a Redis queue, ran its handler's first action (recorded COMPLETED in the
// queue's ledger) and died before the second. Another serve process on
// the same Redis takes the message over once it was idle, runs only the
// second action (the first is not run again) and finishes the message;
// both executions are readable at GET /api/event/execution/{handler}.
func TestEventRedeliveredAfterProcessDied(t *testing.T) {
	ctx := context.Background()
	addr := redistest.Start(t)
	rc := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { _ = rc.Close() })
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	runs, err := runstore.OpenRedis("redis://" + addr + "/0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = runs.Close() })
	srv, err := New(memory.New(), WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))), WithSharedQueue(rc),
		WithConductor(t.TempDir(), engine.WithRunStore(runs), engine.WithKeyring(ring), engine.WithRegistry(tasks.NewDefaultRegistry())))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	srv.conductor.events.(*eventStreamQueue).reclaimIdle = 300 * time.Millisecond
	call := func(method, path, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, hs.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := call("POST", "/api/metadata/workflow", redeliverWaitDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}

	// The process that died: it published, took the message and ran
	// action 0.
	tr, err := runsecrets.NewTransit(ring)
	if err != nil {
		t.Fatal(err)
	}
	dead := newEventStreamQueue(rc, tr)
	pctx := engine.ContextWithPublisher(ctx, engine.EventPublisher{RunID: "r0", WorkflowType: "emit", Principal: engine.Principal{Name: store.LocalPrincipal.Name}})
	if err := dead.Publish(pctx, "conductor:emit:died", "msg-1", []byte(`{"who":"ann"}`)); err != nil {
		t.Fatal(err)
	}
	got, err := dead.take(ctx, []string{"emit:died"}, 1, time.Second)
	if err != nil || len(got) != 1 {
		t.Fatalf("take: %v %v", got, err)
	}
	m := got[0]
	// The handler, shared by both processes (one definitions directory):
	// the dead process ran its first action under this definition, and
	// the message it holds is the live process's only once idle.
	if st, body := call("POST", "/api/event", `{"name":"h","event":"conductor:emit:died","active":true,"actions":[
	  {"action":"start_workflow","start_workflow":{"name":"redeliver_wait","correlationId":"${who}-first"}},
	  {"action":"start_workflow","start_workflow":{"name":"redeliver_wait","correlationId":"${who}-second"}}]}`); st != 200 {
		t.Fatalf("handler: %d %s", st, body)
	}
	l, err := srv.readHandler("h")
	if err != nil || l.gen == "" {
		t.Fatalf("handler h: %v %q", err, l.gen)
	}
	if err := dead.begin(ctx, m); err != nil {
		t.Fatal(err)
	}
	x := &eventExecution{ID: "msg-1_0", MessageID: "msg-1", Name: "h", Event: "conductor:emit:died", Created: time.Now().UnixMilli(),
		Status: execInProgress, Action: actionStartWorkflow, Output: map[string]any{}, Generation: l.gen}
	if ok, err := dead.startAction(ctx, m, actionKey("h", 0), x); !ok || err != nil {
		t.Fatalf("start: %v %v", ok, err)
	}
	x.Status = execCompleted
	if err := dead.endAction(ctx, m, actionKey("h", 0), x, false); err != nil {
		t.Fatal(err)
	}

	// The live process takes the message over once it was idle.
	correlated := func(id string) int {
		_, body := call("GET", "/api/workflow/redeliver_wait/correlated/"+id+"?includeClosed=true", "")
		var list []any
		_ = json.Unmarshal([]byte(body), &list)
		return len(list)
	}
	for deadline := time.Now().Add(15 * time.Second); correlated("ann-second") == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the message was not delivered again")
		}
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if n, _ := rc.XLen(ctx, eventStreamPrefix+"emit:died").Result(); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the message was not finished")
		}
	}
	if n := correlated("ann-first"); n != 0 {
		t.Errorf("the action the dead process completed ran again (%d runs)", n)
	}
	if n := correlated("ann-second"); n != 1 {
		t.Errorf("the action not run started %d runs, want 1", n)
	}
	st, body := call("GET", "/api/event/execution/h", "")
	var execs []map[string]any
	if err := json.Unmarshal([]byte(body), &execs); st != 200 || err != nil || len(execs) != 2 {
		t.Fatalf("executions: %d %s", st, body)
	}
	statuses := map[string]any{}
	for _, e := range execs {
		statuses[e["id"].(string)] = e["status"]
	}
	if statuses["msg-1_0"] != execCompleted || statuses["msg-1_1"] != execCompleted {
		t.Errorf("executions: %v", statuses)
	}
}
