package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// leaseWatch counts the lease renewals of run id that reached the store
// after archived was set.
type leaseWatch struct {
	runstore.Store
	id string

	mu       sync.Mutex
	archived bool
	renewals int
}

func (w *leaseWatch) counted(id string, err error) error {
	w.mu.Lock()
	if id == w.id && w.archived {
		w.renewals++
	}
	w.mu.Unlock()
	return err
}

func (w *leaseWatch) AcquireLease(ctx context.Context, id string, l runstore.Lease, ttl time.Duration) error {
	return w.counted(id, w.Store.AcquireLease(ctx, id, l, ttl))
}

func (w *leaseWatch) RenewLease(ctx context.Context, id string, l runstore.Lease, ttl time.Duration) error {
	return w.counted(id, w.Store.RenewLease(ctx, id, l, ttl))
}

func (w *leaseWatch) renewed() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.renewals
}

// TestLeaseKeeperLeavesAnArchivedRunUnleased: the lease keeper of a
// process executing a run that another process ended and archived (the
// archive removed the lease) does not lease the run again: its renewal is
// refused, and the run's execution here ends with the stored end.
func TestLeaseKeeperLeavesAnArchivedRunUnleased(t *testing.T) {
	for _, b := range slotBackends() {
		t.Run(b.name, func(t *testing.T) {
			id := "5b0d7a4e-0000-4000-8000-00000000b21f"
			w := &leaseWatch{Store: b.open(t), id: id}
			h := newHarness(t, w, engine.WithLeaseTTL(300*time.Millisecond))
			done := startSlotRun(t, h, id)
			bg := context.Background()
			doc, _, err := w.Store.Load(bg, id)
			if err != nil {
				t.Fatal(err)
			}
			w.mu.Lock()
			w.archived = true
			w.mu.Unlock()
			// Another process ends and archives the run.
			if err := w.Store.Archive(bg, id, doc, runstore.Summary{WorkflowType: "slot_end", Version: 1, Status: "TERMINATED"}); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "a renewal after the archive", func() bool { return w.renewed() > 0 })
			if l, held, err := w.Store.GetLease(bg, id); held || err != nil {
				t.Fatalf("the archived run is leased again: %+v %v %v", l, held, err)
			}
			select {
			case res := <-done:
				if res == nil || res.RunID != id {
					t.Fatalf("run %+v", res)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the execution of the archived run goes on")
			}
			if l, held, err := w.Store.GetLease(bg, id); held || err != nil {
				t.Fatalf("after the execution ended the archived run is leased: %+v %v %v", l, held, err)
			}
		})
	}
}
