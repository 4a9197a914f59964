package store_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
)

// perRunStore is a memory store whose ForRun views count themselves.
type perRunStore struct {
	*memory.Store
	views *int
}

func (p perRunStore) ForRun() store.Store {
	*p.views++
	return p.Store
}

func TestPerRun(t *testing.T) {
	ctx := context.Background()
	mem := memory.New()
	if _, err := mem.Put(ctx, &store.Secret{Name: "x", Value: json.RawMessage(`1`)}); err != nil {
		t.Fatal(err)
	}
	if got := store.PerRun(mem); got != store.Store(mem) {
		t.Fatal("a store without per-run state must be used as it is")
	}
	plain := store.Layered(mem)
	if got := store.PerRun(plain); got != plain {
		t.Fatal("a chain without per-run layers must be used as it is")
	}

	views := 0
	chain := store.Layered(memory.New(), perRunStore{Store: mem, views: &views})
	for run := 1; run <= 2; run++ {
		rv := store.NewRunView(chain, store.LocalPrincipal, "", "")
		if views != run {
			t.Fatalf("run %d: %d per-run views, want one per run", run, views)
		}
		if v, err := rv.Secret(ctx, "x"); err != nil || string(v) != "1" {
			t.Fatalf("read through the per-run chain: %s %v", v, err)
		}
	}
}
