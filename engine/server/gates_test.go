package server_test

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/wfrun/wfrun/engine/runstore"
)

// gatedStore holds, once armed, every write (Commit, Restore) that hold
// accepts until release is closed; entered is closed when it first holds
// one. A test holds the write an answer must wait for, and fails when the
// answer comes first (awaitBefore).
type gatedStore struct {
	runstore.Store
	hold             func(ctx context.Context, s runstore.Store, id string, ch *runstore.Change) bool
	armed            atomic.Bool
	entered, release chan struct{}
	once             sync.Once
}

func newGatedStore(hold func(ctx context.Context, s runstore.Store, id string, ch *runstore.Change) bool) *gatedStore {
	return &gatedStore{Store: runstore.NewMemory(), hold: hold, entered: make(chan struct{}), release: make(chan struct{})}
}

// newRunGate is a gatedStore that holds every write of the run arm names.
func newRunGate() (s *gatedStore, arm func(run string)) {
	var gated atomic.Pointer[string]
	s = newGatedStore(func(_ context.Context, _ runstore.Store, id string, _ *runstore.Change) bool {
		p := gated.Load()
		return p != nil && *p == id
	})
	return s, func(run string) {
		gated.Store(&run)
		s.armed.Store(true)
	}
}

func (s *gatedStore) gate(ctx context.Context, id string, ch *runstore.Change) {
	if !s.armed.Load() || !s.hold(ctx, s.Store, id, ch) {
		return
	}
	s.once.Do(func() { close(s.entered) })
	select {
	case <-s.release:
	case <-ctx.Done():
	}
}

func (s *gatedStore) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	s.gate(ctx, id, ch)
	return s.Store.Commit(ctx, id, ch)
}

func (s *gatedStore) Restore(ctx context.Context, id string, ch *runstore.Change) error {
	s.gate(ctx, id, ch)
	return s.Store.Restore(ctx, id, ch)
}
