package runstore_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
)

func backends(t *testing.T) map[string]func(t *testing.T) runstore.Store {
	return map[string]func(t *testing.T) runstore.Store{
		"memory": func(t *testing.T) runstore.Store { return runstore.NewMemory() },
		"bolt": func(t *testing.T) runstore.Store {
			s, err := runstore.OpenBolt(filepath.Join(t.TempDir(), "runs.db"))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		"redis": func(t *testing.T) runstore.Store {
			addr := redistest.Start(t)
			s, err := runstore.OpenRedis("redis://" + addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		},
	}
}

func TestConformance(t *testing.T) {
	for name, mk := range backends(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			s := mk(t)
			if _, _, err := s.Load(ctx, "nope"); !errors.Is(err, runstore.ErrNotFound) {
				t.Fatalf("Load(missing) = %v, want ErrNotFound", err)
			}
			sum := runstore.Summary{WorkflowType: "wf", Version: 1, Status: "RUNNING", CreateTime: 1}
			if err := s.Save(ctx, "r1", []byte(`{"v":1}`), sum); err != nil {
				t.Fatal(err)
			}
			sum2 := sum
			sum2.CreateTime = 2
			if err := s.Save(ctx, "r2", []byte(`{"v":2}`), sum2); err != nil {
				t.Fatal(err)
			}
			if err := s.Save(ctx, "r1", []byte(`{"v":3}`), sum); err != nil {
				t.Fatal(err)
			}
			doc, archived, err := s.Load(ctx, "r1")
			if err != nil || archived || string(doc) != `{"v":3}` {
				t.Fatalf("Load = %s %v %v", doc, archived, err)
			}
			if err := s.PutSignal(ctx, "r1", "wait_ref", []byte(`{"x":1}`)); err != nil {
				t.Fatal(err)
			}
			sig, err := s.TakeSignals(ctx, "r1")
			if err != nil || string(sig["wait_ref"]) != `{"x":1}` || len(sig) != 1 {
				t.Fatalf("TakeSignals = %v %v", sig, err)
			}
			if sig, _ := s.TakeSignals(ctx, "r1"); len(sig) != 0 {
				t.Fatalf("signals not deleted: %v", sig)
			}
			done := sum
			done.Status = "COMPLETED"
			if err := s.Archive(ctx, "r1", []byte(`{"v":"***"}`), done); err != nil {
				t.Fatal(err)
			}
			doc, archived, err = s.Load(ctx, "r1")
			if err != nil || !archived || string(doc) != `{"v":"***"}` {
				t.Fatalf("Load archived = %s %v %v", doc, archived, err)
			}
			list, err := s.List(ctx, runstore.ListOptions{})
			if err != nil || len(list) != 2 || list[0].ID != "r2" || !list[1].Archived || list[1].Status != "COMPLETED" {
				t.Fatalf("List = %+v %v", list, err)
			}
			list, _ = s.List(ctx, runstore.ListOptions{Status: "running"})
			if len(list) != 1 || list[0].ID != "r2" {
				t.Fatalf("List(status) = %+v", list)
			}
			if err := s.Restore(ctx, "r1", []byte(`{"v":4}`), sum); err != nil {
				t.Fatal(err)
			}
			doc, archived, _ = s.Load(ctx, "r1")
			if archived || string(doc) != `{"v":4}` {
				t.Fatalf("after Restore: %s archived=%v", doc, archived)
			}
		})
	}
}

// Two Bolt stores on one file stand for two processes (each open takes the
// flock): alternating and concurrent use must both work.
func TestBoltSharedFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "runs.db")
	a, err := runstore.OpenBolt(p, runstore.WithLockTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	b, err := runstore.OpenBolt(p, runstore.WithLockTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(2)
		go func() { defer wg.Done(); _ = a.Save(ctx, "r", []byte(`{}`), runstore.Summary{}) }()
		go func() { defer wg.Done(); _ = b.PutSignal(ctx, "r", "k", []byte(`1`)) }()
	}
	wg.Wait()
	if _, _, err := b.Load(ctx, "r"); err != nil {
		t.Fatal(err)
	}
	sig, err := a.TakeSignals(ctx, "r")
	if err != nil || string(sig["k"]) != "1" {
		t.Fatalf("signals %v %v", sig, err)
	}
}
