package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/tasks"
)

// startCrashable starts a serve process of ss whose Redis connections the
// returned crash cuts at once, as a process on another host that dies (or
// loses Redis) leaves them: nothing released, nothing renewed.
func (ss *sharedServers) startCrashable(t *testing.T) (*testServer, func()) {
	t.Helper()
	runsClient := redis.NewClient(&redis.Options{Addr: ss.addr})
	queueClient := redis.NewClient(&redis.Options{Addr: ss.addr})
	opts := append([]engine.Option{engine.WithRunStore(runstore.NewRedis(runsClient)), engine.WithKeyring(ss.ring),
		engine.WithRegistry(tasks.NewDefaultRegistry())}, ss.opts...)
	logs := &testkit.SyncBuffer{}
	srv, err := server.New(memory.New(), server.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))),
		server.WithSharedQueue(queueClient), server.WithConductor(ss.defs, opts...))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return &testServer{Server: hs, srv: srv, logs: logs}, func() {
		hs.Close()
		_ = runsClient.Close()
		_ = queueClient.Close()
	}
}

// TestDeadProcessFreesItsRunsAfterItsPresence: a serve process that dies
// without releasing its runs (its Redis connections cut) frees them once
// its presence key lapses (a few seconds), not when the leases it took
// expire (a minute here): another process takes the run over, its worker
// task is offered again and handed out, and the run completes with the
// worker's answer.
func TestDeadProcessFreesItsRunsAfterItsPresence(t *testing.T) {
	ss := newSharedServers(t, engine.WithLeaseTTL(time.Minute))
	a, crash := ss.startCrashable(t)
	b, _ := ss.start(t, server.WithTakeover(100*time.Millisecond))
	if st, _, body := a.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, _, id := a.do(t, "POST", "/api/workflow/one_simple", `{"k":"v"}`)
	for deadline := time.Now().Add(10 * time.Second); ss.queuedTasks(t) != 1; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the task was never offered")
		}
	}
	crash()
	died := time.Now()
	var got []map[string]any
	for deadline := time.Now().Add(20 * time.Second); len(got) == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("B never handed out the dead process's task (its lease lives a minute)")
		}
		_, _, body := b.do(t, "GET", "/api/tasks/poll/batch/slow_task?workerid=wb&count=1&timeout=200", "")
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatalf("poll on B: %s", body)
		}
	}
	if len(got) != 1 || got[0]["workflowInstanceId"] != id {
		t.Fatalf("B handed out %v, want the task of run %s", got, id)
	}
	t.Logf("taken over %s after the process died", time.Since(died).Round(100*time.Millisecond))
	upd, _ := json.Marshal(map[string]any{"taskId": got[0]["taskId"], "workflowInstanceId": id, "status": "COMPLETED", "outputData": map[string]any{"r": "done"}})
	if st, _, body := b.do(t, "POST", "/api/tasks", string(upd)); st != 200 {
		t.Fatalf("update: %d %s", st, body)
	}
	waitView(t, b, id, `"status":"COMPLETED"`)
}
