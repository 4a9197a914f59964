package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// TestEventQueueOutlivesRestart: without Redis, the conductor queues live
// in the run store (bolt): a message published where no handler listens
// yet, by a serve that then stops, is delivered by the next serve on the
// same store once a handler listens, exactly once (a third serve does
// not run it again), and its execution is readable.
func TestEventQueueOutlivesRestart(t *testing.T) {
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "runs.db")
	defs := t.TempDir()
	start := func(t *testing.T) (*eventServer, func()) {
		t.Helper()
		runs, err := runstore.OpenBolt(path)
		if err != nil {
			t.Fatal(err)
		}
		logs := &testkit.SyncBuffer{}
		srv, err := server.New(memory.New(), server.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))),
			server.WithConductor(defs, engine.WithRunStore(runs), engine.WithKeyring(ring), engine.WithRegistry(tasks.NewDefaultRegistry())))
		if err != nil {
			t.Fatal(err)
		}
		hs := serveTest(t, srv)
		stop := func() {
			hs.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(ctx)
			_ = runs.Close()
		}
		return &eventServer{conductorServer: &conductorServer{testServer: &testServer{Server: hs, srv: srv, logs: logs}, runs: runs},
			tokens: map[string]string{}}, stop
	}

	a, stopA := start(t)
	a.mustAs(t, "", "POST", "/api/metadata/workflow", string(readConductorFile(t, "wait_for_approval_workflow.json")))
	a.mustAs(t, "", "POST", "/api/metadata/workflow", emitDef)
	emitter := a.mustAs(t, "", "POST", "/api/workflow", `{"name":"emit_action","input":{"q":"later","who":"zoe"}}`)
	if doc := a.waitRun(t, "", emitter); doc["status"] != "COMPLETED" {
		t.Fatalf("the publishing run: %v", doc["status"])
	}
	stopA()

	b, stopB := start(t)
	b.mustAs(t, "", "POST", "/api/event", `{"name":"later","event":"conductor:emit_action:later","active":true,
	  "actions":[{"action":"start_workflow","start_workflow":{"name":"wait_for_order_approval","correlationId":"${who}-started","input":{"orderId":"x"}}}]}`)
	for deadline := time.Now().Add(10 * time.Second); len(b.correlated(t, "wait_for_order_approval", "zoe-started")) == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the message published before the restart was not delivered")
		}
	}
	b.waitLog(t, "event handler action", "COMPLETED")
	var execs []map[string]any
	if err := json.Unmarshal([]byte(b.mustAs(t, "", "GET", "/api/event/execution/later", "")), &execs); err != nil || len(execs) != 1 ||
		execs[0]["status"] != "COMPLETED" || execs[0]["action"] != "start_workflow" || execs[0]["messageId"] == "" {
		t.Errorf("executions: %v %v", execs, err)
	}
	var sum struct {
		TotalHits int              `json:"totalHits"`
		Results   []map[string]any `json:"results"`
	}
	if err := json.Unmarshal([]byte(b.mustAs(t, "", "GET", "/api/event/execution", "")), &sum); err != nil || sum.TotalHits != 1 ||
		sum.Results[0]["name"] != "later" || sum.Results[0]["numberOfMessages"] != float64(1) || sum.Results[0]["numberOfActions"] != float64(1) {
		t.Errorf("summary: %+v %v", sum, err)
	}
	stopB()

	c, _ := start(t)
	time.Sleep(1500 * time.Millisecond)
	if n := len(c.correlated(t, "wait_for_order_approval", "zoe-started")); n != 1 {
		t.Errorf("after another restart the message started %d runs, want 1", n)
	}
}

// TestEventExecutionsReadCheck: a handler's executions are read by a
// caller who may read the workflow whose queue it listens to (403
// otherwise, and the summary leaves the handler out); an unknown handler
// is 404.
func TestEventExecutionsReadCheck(t *testing.T) {
	es := newEventServer(t, true)
	es.mustAs(t, "admin", "POST", "/api/event", `{"name":"emit_watch","event":"conductor:emit_action:watch","active":true,
	  "actions":[{"action":"start_workflow","start_workflow":{"name":"fulfill_order"}}]}`)
	es.mustAs(t, "admin", "POST", "/api/event", `{"name":"order_watch","event":"conductor:publish_order_event:watch","active":true,
	  "actions":[{"action":"start_workflow","start_workflow":{"name":"fulfill_order"}}]}`)
	if st, body := es.as(t, "intern", "GET", "/api/event/execution/emit_watch", ""); st != 403 {
		t.Errorf("intern reading emit_watch's executions: %d %s", st, body)
	}
	if st, body := es.as(t, "intern", "GET", "/api/event/execution/order_watch", ""); st != 200 || body != "[]\n" && body != "[]" {
		t.Errorf("intern reading order_watch's executions: %d %q", st, body)
	}
	if st, body := es.as(t, "admin", "GET", "/api/event/execution/emit_watch", ""); st != 200 {
		t.Errorf("admin: %d %s", st, body)
	}
	if st, _ := es.as(t, "admin", "GET", "/api/event/execution/nobody", ""); st != 404 {
		t.Errorf("an unknown handler: %d", st)
	}
	var sum struct {
		Results []map[string]any `json:"results"`
	}
	_ = json.Unmarshal([]byte(es.mustAs(t, "intern", "GET", "/api/event/execution", "")), &sum)
	if len(sum.Results) != 1 || sum.Results[0]["name"] != "order_watch" {
		t.Errorf("intern's summary: %v", sum.Results)
	}
	// The messages view: only readable handlers' messages; an inactive
	// handler is in the statistics, not in the active handlers.
	es.mustAs(t, "admin", "POST", "/api/event", `{"name":"order_idle","event":"conductor:publish_order_event:watch","active":false,
	  "actions":[{"action":"start_workflow","start_workflow":{"name":"fulfill_order"}}]}`)
	var stats, active struct {
		Results []map[string]any `json:"results"`
	}
	_ = json.Unmarshal([]byte(es.mustAs(t, "intern", "GET", "/api/event/message", "")), &stats)
	_ = json.Unmarshal([]byte(es.mustAs(t, "intern", "GET", "/api/event/execution", "")), &active)
	if len(stats.Results) != 2 || len(active.Results) != 1 {
		t.Errorf("intern's statistics %v, active %v", stats.Results, active.Results)
	}
	if body := es.mustAs(t, "intern", "GET", "/api/event/message/conductor:emit_action:watch", ""); strings.TrimSpace(body) != "[]" {
		t.Errorf("intern reading emit_action's messages: %s", body)
	}
	if st, _ := es.as(t, "", "GET", "/api/event/execution", ""); st != 401 && st != 403 {
		t.Errorf("no credentials: %d", st)
	}
}
