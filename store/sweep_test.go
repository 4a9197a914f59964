package store_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
)

func TestRunSweeperReportsRemovals(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := memory.New()
	past := time.Now().Add(-time.Minute)
	if _, err := s.Put(ctx, &store.Secret{Name: "old", Value: json.RawMessage(`1`), Expires: past}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, &store.Secret{Name: "live", Value: json.RawMessage(`1`)}); err != nil {
		t.Fatal(err)
	}
	got := make(chan []store.Key, 1)
	done := make(chan struct{})
	go func() {
		defer close(done)
		store.RunSweeper(ctx, s, 10*time.Millisecond, func(removed []store.Key, err error) {
			if err != nil {
				t.Error(err)
			}
			got <- removed
		})
	}()
	select {
	case r := <-got:
		if len(r) != 1 || r[0].Name != "old" {
			t.Fatalf("removed %v", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("sweeper did not report")
	}
	cancel()
	<-done
	if _, err := s.Get(context.Background(), "live"); err != nil {
		t.Fatalf("live secret swept: %v", err)
	}
}
