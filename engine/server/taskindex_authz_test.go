package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/tasks"
)

// runLoadCounter is a memory run store counting the documents loaded.
type runLoadCounter struct {
	*runstore.Memory
	loads atomic.Int64
}

func (c *runLoadCounter) Load(ctx context.Context, id string) ([]byte, bool, error) {
	c.loads.Add(1)
	return c.Memory.Load(ctx, id)
}

// TestTaskIndexHitChecksReadFirst: GET /api/tasks/{id} of a task the
// index knows, in a run the caller may not read, loads no run (its
// summary decides, as the scan's does): the answer, 404, costs what an
// unknown id costs.
func TestTaskIndexHitChecksReadFirst(t *testing.T) {
	runs := &runLoadCounter{Memory: runstore.NewMemory()}
	st := memory.New()
	cfg, err := server.ParseAuthConfig([]byte(publishersYAML), "test")
	if err != nil {
		t.Fatal(err)
	}
	logs := &testkit.SyncBuffer{}
	srv, err := server.New(st, server.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))),
		server.WithConductor(t.TempDir(), engine.WithRunStore(runs), engine.WithRegistry(tasks.NewDefaultRegistry())), server.WithAuth(cfg))
	if err != nil {
		t.Fatal(err)
	}
	es := &eventServer{conductorServer: &conductorServer{testServer: &testServer{Server: serveTest(t, srv), srv: srv, store: st, logs: logs}},
		tokens: map[string]string{}}
	for _, k := range []string{"admin", "bob"} {
		_, _, body := es.do(t, "POST", "/api/token", `{"keyId":"`+k+`","keySecret":"`+k+`-secret-0123456789"}`)
		var tok struct{ Token string }
		_ = json.Unmarshal([]byte(body), &tok)
		es.tokens[k] = tok.Token
	}
	victim := es.mustAs(t, "admin", "POST", "/api/workflow", `{"name":"vault","workflowDef":{"name":"vault","version":1,"schemaVersion":2,"tasks":[
	  {"name":"w","taskReferenceName":"w","type":"WAIT"}]}}`)
	es.waitTasks(t, victim)
	var doc struct {
		Tasks []struct {
			TaskID string `json:"taskId"`
		} `json:"tasks"`
	}
	_ = json.Unmarshal([]byte(es.mustAs(t, "admin", "GET", "/api/workflow/"+victim+"?includeTasks=true", "")), &doc)
	tid := doc.Tasks[0].TaskID
	es.mustAs(t, "admin", "GET", "/api/tasks/"+tid, "") // now in the task index
	for _, id := range []string{tid, "00000000-0000-0000-0000-000000000000"} {
		before := runs.loads.Load()
		if code, out := es.as(t, "bob", "GET", "/api/tasks/"+id, ""); code != 404 {
			t.Fatalf("bob GET /api/tasks/%s: %d %s", id, code, out)
		}
		if n := runs.loads.Load() - before; n != 0 {
			t.Errorf("bob's GET /api/tasks/%s loaded %d run(s), want none", id, n)
		}
	}
}
