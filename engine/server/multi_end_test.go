package server_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// sharedServers starts serve processes on one Redis (run store and shared
// task queue) with one keyring, as `wfrun serve --redis` does; stop shuts
// one down as a process stopping does (its runs' tasks stay in the queue).
type sharedServers struct {
	addr, url, defs string
	ring            *seal.Keyring
	opts            []engine.Option
}

func newSharedServers(t *testing.T, opts ...engine.Option) *sharedServers {
	t.Helper()
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	addr := redistest.Start(t)
	return &sharedServers{addr: addr, url: "redis://" + addr + "/0", defs: t.TempDir(), ring: ring, opts: opts}
}

func (ss *sharedServers) start(t *testing.T, srvOpts ...server.Option) (*testServer, func()) {
	t.Helper()
	runs, err := runstore.OpenRedis(ss.url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = runs.Close() })
	rc := redis.NewClient(&redis.Options{Addr: ss.addr})
	t.Cleanup(func() { _ = rc.Close() })
	logs := &testkit.SyncBuffer{}
	opts := append([]engine.Option{engine.WithRunStore(runs), engine.WithKeyring(ss.ring), engine.WithRegistry(tasks.NewDefaultRegistry())}, ss.opts...)
	srv, err := server.New(memory.New(), append([]server.Option{server.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))), server.WithSharedQueue(rc),
		server.WithConductor(ss.defs, opts...)}, srvOpts...)...)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	}
	t.Cleanup(stop)
	return &testServer{Server: hs, srv: srv, logs: logs}, stop
}

// queuedTasks counts the tasks the shared queue holds in Redis.
func (ss *sharedServers) queuedTasks(t *testing.T) int {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: ss.addr})
	defer rc.Close()
	keys, err := rc.Keys(context.Background(), "wfrun:{wfrun-queue}:task:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	return len(keys)
}

// TestSharedQueueDropsTasksOfEndedRuns: a task waiting in the shared queue
// is handed to no worker once its run ended elsewhere — terminated through
// another process while its owner runs, or after its owner stopped (the
// entry it left for a takeover) — and the entry is removed.
func TestSharedQueueDropsTasksOfEndedRuns(t *testing.T) {
	ss := newSharedServers(t)
	a, stopA := ss.start(t)
	b, _ := ss.start(t)
	if st, _, body := a.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, _, running := a.do(t, "POST", "/api/workflow/one_simple", `{"k":"owner runs"}`)
	_, _, orphan := a.do(t, "POST", "/api/workflow/one_simple", `{"k":"owner stopped"}`)
	for _, id := range []string{running, orphan} {
		waitView(t, b, id, `"status":"SCHEDULED"`)
	}
	for deadline := time.Now().Add(10 * time.Second); ss.queuedTasks(t) < 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the tasks were never offered")
		}
	}
	if st, _, body := b.do(t, "DELETE", "/api/workflow/"+running+"?reason=stop", ""); st != 200 {
		t.Fatalf("terminate through B: %d %s", st, body)
	}
	stopA()
	if st, _, body := b.do(t, "DELETE", "/api/workflow/"+orphan+"?reason=stop", ""); st != 200 {
		t.Fatalf("terminate of the stopped process's run: %d %s", st, body)
	}
	for _, id := range []string{running, orphan} {
		waitView(t, b, id, `"status":"TERMINATED"`)
	}
	for range 3 {
		_, _, body := b.do(t, "GET", "/api/tasks/poll/batch/slow_task?workerid=w&count=5&timeout=300", "")
		var got []map[string]any
		if err := json.Unmarshal([]byte(body), &got); err != nil || len(got) != 0 {
			t.Fatalf("a worker got a task of an ended run: %s", body)
		}
	}
	if n := ss.queuedTasks(t); n != 0 {
		t.Fatalf("%d tasks of ended runs left in the shared queue", n)
	}
}

// TestLostPolledNotice: the poll of a claim made on B is not applied by A,
// which executes the run, when it hands the values over (as when the
// notice of a poll is lost). A learns of the claim from Redis at
// its next look, marks the task IN_PROGRESS from the claim's time and its
// response timeout fires: the worker that took the task and died does not
// hold the run for ever.
func TestLostPolledNotice(t *testing.T) {
	mc := engine.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	ss := newSharedServers(t, engine.WithClock(mc))
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	server.SetClaimCheck(a.srv, 50*time.Millisecond)
	server.LoseNotices(b.srv, time.Hour)
	if st, _, body := a.do(t, "POST", "/api/metadata/taskdefs", `[{"name":"slow_task","responseTimeoutSeconds":10,"timeoutSeconds":0,"retryCount":0}]`); st != 200 {
		t.Fatalf("task definition: %d %s", st, body)
	}
	if st, _, body := a.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	_, _, id := a.do(t, "POST", "/api/workflow/one_simple", `{"k":"v"}`)
	var got []map[string]any
	for deadline := time.Now().Add(10 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		_, _, body := b.do(t, "GET", "/api/tasks/poll/batch/slow_task?workerid=gone&count=1&timeout=300", "")
		_ = json.Unmarshal([]byte(body), &got)
	}
	if len(got) != 1 || got[0]["workflowInstanceId"] != id {
		t.Fatalf("poll on B: %v", got)
	}
	waitView(t, b, id, `"status":"IN_PROGRESS"`)
	mc.Advance(11 * time.Second)
	view := waitView(t, b, id, `"status":"TIMED_OUT"`)
	if !strings.Contains(view, "responseTimeout: 10 exceeded") {
		t.Fatalf("run after the response timeout: %s", view)
	}
}

// TestSharedTaskExpiresWithoutItsOwner: a task's hash in the shared queue
// (its sealed, resolved input) lives only as long as its owner renews it;
// once the owner has stopped and nobody takes the run over, Redis drops it.
func TestSharedTaskExpiresWithoutItsOwner(t *testing.T) {
	ss := newSharedServers(t)
	a, stopA := ss.start(t)
	server.SetClaimCheck(a.srv, 50*time.Millisecond)
	if st, _, body := a.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	a.do(t, "POST", "/api/workflow/one_simple", `{"k":"v"}`)
	ctx := context.Background()
	rc := redis.NewClient(&redis.Options{Addr: ss.addr})
	defer rc.Close()
	var key string
	for deadline := time.Now().Add(10 * time.Second); key == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if keys, _ := rc.Keys(ctx, "wfrun:{wfrun-queue}:task:*").Result(); len(keys) == 1 {
			key = keys[0]
		}
	}
	if key == "" {
		t.Fatal("the task was never offered in Redis")
	}
	if ttl := rc.PTTL(ctx, key).Val(); ttl <= 0 || ttl > server.SharedTaskTTL {
		t.Fatalf("offered task's time to live: %v", ttl)
	}
	// The owner renews it while it runs the task.
	rc.PExpire(ctx, key, 5*time.Second)
	for deadline := time.Now().Add(10 * time.Second); rc.PTTL(ctx, key).Val() <= time.Minute; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the owner did not renew its task (ttl %v)", rc.PTTL(ctx, key).Val())
		}
	}
	stopA()
	if n := ss.queuedTasks(t); n != 1 {
		t.Fatalf("a stopped owner leaves its task for a takeover: %d tasks", n)
	}
	// As when the time to live has run out since the owner's last renewal.
	rc.PExpire(ctx, key, 200*time.Millisecond)
	time.Sleep(600 * time.Millisecond)
	if n := ss.queuedTasks(t); n != 0 {
		t.Fatalf("task of a run nobody executes still in Redis: %d", n)
	}
}
