package server_test

import (
	"context"
	"encoding/json"
	"path/filepath"
	"sync/atomic"
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

// allReads is a Redis run store that counts its whole-run reads (Load).
type allReads struct {
	*runstore.Redis
	loads atomic.Int64
}

func (a *allReads) Load(ctx context.Context, id string) ([]byte, bool, error) {
	a.loads.Add(1)
	return a.Redis.Load(ctx, id)
}

// boltReads is allReads over a bolt run store.
type boltReads struct {
	*runstore.Bolt
	loads atomic.Int64
}

func (a *boltReads) Load(ctx context.Context, id string) ([]byte, bool, error) {
	a.loads.Add(1)
	return a.Bolt.Load(ctx, id)
}

// A task asked for by its id alone (GET /api/tasks/{taskId}) at a serve
// process that never saw it — another process ran it, or this one was
// restarted — is found through the run store's task index: that one run
// is read, not every run of the store; an id no run holds is 404 with no
// run read at all. A bolt store keeps no index but its runs' tags in
// memory, made from the file's run ids at the first look.
func TestTaskByIDReadsItsRunAlone(t *testing.T) {
	t.Run("redis", func(t *testing.T) {
		url := "redis://" + redistest.Start(t) + "/0"
		defs := t.TempDir()
		ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
		if err != nil {
			t.Fatal(err)
		}
		a := redisServe(t, url, defs, ring, nil)
		count := &allReads{}
		checkTaskByIDReadsItsRun(t, a, func() *testServer {
			return redisServe(t, url, defs, ring, func(rs *runstore.Redis) runstore.Store { count.Redis = rs; return count })
		}, &count.loads)
	})
	t.Run("bolt after a restart", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "runs.db")
		defs := t.TempDir()
		a, stopA := boltServe(t, path, defs, nil)
		count := &boltReads{}
		checkTaskByIDReadsItsRun(t, a, func() *testServer {
			stopA()
			b, stopB := boltServe(t, path, defs, func(rs *runstore.Bolt) runstore.Store { count.Bolt = rs; return count })
			t.Cleanup(stopB)
			return b
		}, &count.loads)
	})
}

// boltServe is a serve process over the bolt run store at path (wrapped
// by wrap when given), and the function that stops it and closes the
// store, as a process that exits.
func boltServe(t *testing.T, path, defs string, wrap func(*runstore.Bolt) runstore.Store) (*testServer, func()) {
	t.Helper()
	runs, err := runstore.OpenBolt(path)
	if err != nil {
		t.Fatal(err)
	}
	var rs runstore.Store = runs
	if wrap != nil {
		rs = wrap(runs)
	}
	// The processes of one deployment share a keyring.
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := server.New(memory.New(), server.WithConductor(defs, engine.WithRunStore(rs), engine.WithKeyring(ring), engine.WithRegistry(tasks.NewDefaultRegistry())))
	if err != nil {
		t.Fatal(err)
	}
	hs := serveTest(t, srv)
	return &testServer{Server: hs, srv: srv}, func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = runs.Close()
	}
}

// checkTaskByIDReadsItsRun runs 12 runs on a, then asks the serve process
// newB gives (counting its whole-run reads in loads) for a task of one.
func checkTaskByIDReadsItsRun(t *testing.T, a *testServer, newB func() *testServer, loads *atomic.Int64) {
	def := `{"name":"three_inline","version":1,"schemaVersion":2,"tasks":[
	  {"name":"i0","taskReferenceName":"i0","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"0"}},
	  {"name":"i1","taskReferenceName":"i1","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}},
	  {"name":"i2","taskReferenceName":"i2","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"2"}}]}`
	if st, _, body := a.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	var ids []string
	for range 12 {
		_, _, id := a.do(t, "POST", "/api/workflow/three_inline", `{}`)
		ids = append(ids, id)
	}
	var taskID string
	for _, id := range ids {
		view := waitView(t, a, id, `"status":"COMPLETED","taskToDomain"`)
		if id == ids[5] {
			var wf struct {
				Tasks []struct{ TaskID, ReferenceTaskName string }
			}
			if err := json.Unmarshal([]byte(view), &wf); err != nil || len(wf.Tasks) != 3 {
				t.Fatalf("run %s: %v %s", id, err, view)
			}
			taskID = wf.Tasks[1].TaskID
		}
	}
	b := newB()
	st, _, body := b.do(t, "GET", "/api/tasks/"+taskID, "")
	if st != 200 {
		t.Fatalf("GET the task through B: %d %s", st, body)
	}
	var got struct{ TaskID, ReferenceTaskName, WorkflowInstanceID string }
	if err := json.Unmarshal([]byte(body), &got); err != nil || got.TaskID != taskID || got.ReferenceTaskName != "i1" || got.WorkflowInstanceID != ids[5] {
		t.Fatalf("GET the task through B: %v %s", err, body)
	}
	if n := loads.Load(); n != 1 {
		t.Errorf("B read %d runs to find one task, want its run alone", n)
	}
	loads.Store(0)
	if st, _, body := b.do(t, "GET", "/api/tasks/5b0d7a4e-0000-4000-8000-0000000000ff", ""); st != 404 {
		t.Fatalf("GET an unknown task: %d %s", st, body)
	}
	if n := loads.Load(); n != 0 {
		t.Errorf("B read %d runs for a task no run holds", n)
	}
}
