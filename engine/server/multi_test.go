package server_test

import (
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

// TestUpdateThroughAnotherProcess: two servers share a Redis run store and
// a definitions directory. A worker polls a task from A (which executes
// the run) and answers through B, as behind a load balancer: B delivers
// the answer through the run store and A's run completes with it, masked.
// redisServe starts a serve process on the redis run store at url, with
// the definitions directory and keyring every process sharing it has;
// wrap, when given, wraps its run store (a store counting its reads).
func redisServe(t *testing.T, url, defs string, ring *seal.Keyring, wrap func(*runstore.Redis) runstore.Store) *testServer {
	t.Helper()
	rs, err := runstore.OpenRedis(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rs.Close() })
	var runs runstore.Store = rs
	if wrap != nil {
		runs = wrap(rs)
	}
	logs := &testkit.SyncBuffer{}
	srv, err := server.New(memory.New(), server.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))),
		server.WithConductor(defs, engine.WithRunStore(runs), engine.WithKeyring(ring), engine.WithRegistry(tasks.NewDefaultRegistry())))
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return &testServer{Server: hs, srv: srv, logs: logs}
}

func TestUpdateThroughAnotherProcess(t *testing.T) {
	url := "redis://" + redistest.Start(t) + "/0"
	defs := t.TempDir()
	// Processes sharing a run store share its keyring (WFRUN_MASTER_KEY).
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	a, b := redisServe(t, url, defs, ring, nil), redisServe(t, url, defs, ring, nil)
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

// TestSharedQueueAcrossProcesses: two servers share a Redis run store and
// task queue behind one address. Runs started on A wait for workers; a
// worker polling B gets every one of them, each once (a second poll on
// either process gets []), and A shows them IN_PROGRESS (B told it of the
// poll). One answer goes through B, one IN_PROGRESS report through B and
// its final answer through A, one answer through A: every run completes
// with its own answer.
func TestSharedQueueAcrossProcesses(t *testing.T) {
	ss := newSharedServers(t)
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	if st, _, body := a.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	ids := map[string]bool{}
	var order []string
	for i := range 3 {
		_, _, id := a.do(t, "POST", "/api/workflow/one_simple", `{"k":"v`+string(rune('0'+i))+`"}`)
		ids[id] = true
		order = append(order, id)
	}
	var got []map[string]any
	for deadline := time.Now().Add(10 * time.Second); len(got) < 3 && time.Now().Before(deadline); {
		_, _, body := b.do(t, "GET", "/api/tasks/poll/batch/slow_task?workerid=wb&count=5&timeout=500", "")
		var batch []map[string]any
		if err := json.Unmarshal([]byte(body), &batch); err != nil {
			t.Fatalf("poll on B: %s", body)
		}
		got = append(got, batch...)
	}
	if len(got) != 3 {
		t.Fatalf("B handed out %d tasks of A's runs, want 3: %v", len(got), got)
	}
	byRun := map[string]map[string]any{}
	for _, task := range got {
		id, _ := task["workflowInstanceId"].(string)
		if !ids[id] || byRun[id] != nil {
			t.Fatalf("task of an unknown or repeated run: %v", task)
		}
		byRun[id] = task
		in, _ := task["inputData"].(map[string]any)
		if in["k"] == nil || task["status"] != "IN_PROGRESS" {
			t.Errorf("task as B hands it out: %v", task)
		}
	}
	for name, s := range map[string]*testServer{"A": a, "B": b} {
		if _, _, body := s.do(t, "GET", "/api/tasks/poll/batch/slow_task?count=5&timeout=100", ""); body != "[]" {
			t.Errorf("a second poll on %s: %s", name, body)
		}
	}
	for _, id := range order {
		waitView(t, a, id, `"status":"IN_PROGRESS"`)
	}
	answer := func(s *testServer, id, status, r string) {
		t.Helper()
		upd, _ := json.Marshal(map[string]any{"taskId": byRun[id]["taskId"], "workflowInstanceId": id, "status": status,
			"outputData": map[string]any{"r": r}})
		if st, _, body := s.do(t, "POST", "/api/tasks", string(upd)); st != 200 {
			t.Fatalf("%s update of %s: %d %s", status, id, st, body)
		}
	}
	answer(b, order[0], "COMPLETED", "r0 via B")
	answer(b, order[1], "IN_PROGRESS", "")
	answer(a, order[1], "COMPLETED", "r1 via A")
	answer(a, order[2], "COMPLETED", "r2 via A")
	for i, id := range order {
		view := waitView(t, b, id, `"status":"COMPLETED","taskToDomain"`)
		if want := []string{"r0 via B", "r1 via A", "r2 via A"}[i]; !strings.Contains(view, want) || strings.Count(view, `"referenceTaskName":"work"`) != 1 {
			t.Errorf("run %d: %s", i, view)
		}
	}
}

// waitView reads run id from s until its JSON contains want.
func waitView(t *testing.T, s *testServer, id, want string) string {
	t.Helper()
	var view string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		_, _, view = s.do(t, "GET", "/api/workflow/"+id, "")
		if strings.Contains(view, want) {
			return view
		}
	}
	t.Fatalf("run %s never showed %s: %s", id, want, view)
	return view
}

// TestSharedQueueWaitsForRedis: while the shared queue's Redis is down a
// task waits to be offered (the run stays RUNNING, one warning is logged,
// nothing fails); once Redis is back the task is offered, polled and the
// run completes.
func TestSharedQueueWaitsForRedis(t *testing.T) {
	rs := redistest.StartServer(t)
	rc := redis.NewClient(&redis.Options{Addr: rs.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rc.Close() })
	ts := newConductorServer(t, nil, server.WithSharedQueue(rc))
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", simpleDef); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	rs.Stop()
	_, _, id := ts.do(t, "POST", "/api/workflow/one_simple", `{"k":"v"}`)
	time.Sleep(time.Second)
	d := ts.waitRun(t, id, "a task", func(d runDoc) bool { return len(d.Tasks) == 1 })
	if d.Status != "RUNNING" || d.Tasks[0].Status != "SCHEDULED" || !strings.Contains(ts.logs.String(), "offering a task failed, trying again") {
		t.Fatalf("while Redis is down: %+v\n%s", d, ts.logs.String())
	}
	rs.Restart()
	var got []map[string]any
	for deadline := time.Now().Add(15 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
		_, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/slow_task?count=1&timeout=500", "")
		_ = json.Unmarshal([]byte(body), &got)
	}
	if len(got) != 1 {
		t.Fatalf("nothing offered after Redis came back")
	}
	upd, _ := json.Marshal(map[string]any{"taskId": got[0]["taskId"], "workflowInstanceId": id, "status": "COMPLETED", "outputData": map[string]any{"r": "back"}})
	if st, _, body := ts.do(t, "POST", "/api/tasks", string(upd)); st != 200 {
		t.Fatalf("update: %d %s", st, body)
	}
	ts.waitRun(t, id, "COMPLETED", func(d runDoc) bool { return d.Status == "COMPLETED" })
}
