package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/seal"
)

// Option configures New.
type Option func(*config)

type config struct {
	history int
	now     func() time.Time
}

// WithHistory sets how many versions are kept per secret (at least 2).
func WithHistory(n int) Option {
	return func(c *config) { c.history = max(n, 2) }
}

// WithClock sets the clock used for timestamps and expiry.
func WithClock(now func() time.Time) Option {
	return func(c *config) { c.now = now }
}

// Store is an in-memory secret store: the barrier over a map (the
// organization view; InScope gives the others).
type Store struct {
	*store.Barrier
}

// New returns an empty store. Its records are sealed under a random key
// that lives as long as the store, like the other backends' records.
func New(opts ...Option) *Store {
	cfg := config{history: store.DefaultHistory, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	raw, err := seal.GenerateKey()
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	ring, err := seal.NewKeyring(raw)
	if err != nil {
		panic(err)
	}
	b, err := store.NewBarrier(context.Background(), NewStorage(), ring,
		store.WithHistoryDepth(cfg.history), store.WithNow(cfg.now), store.WithWhere("memory store"))
	if err != nil {
		panic(err) // an empty map storage cannot fail
	}
	return &Store{Barrier: b}
}

// Storage is a store.Storage in process memory.
type Storage struct {
	mu     sync.RWMutex
	m      map[string][]byte
	closed bool
}

var _ store.Storage = (*Storage)(nil)

// NewStorage returns an empty storage.
func NewStorage() *Storage { return &Storage{m: map[string][]byte{}} }

func (s *Storage) check() error {
	if s.closed {
		return fmt.Errorf("%w: store is closed", store.ErrUnavailable)
	}
	return nil
}

// Get implements store.Storage.
func (s *Storage) Get(_ context.Context, keys ...string) ([][]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	out := make([][]byte, len(keys))
	for i, k := range keys {
		if v, ok := s.m[k]; ok {
			out[i] = slices.Clone(v)
		}
	}
	return out, nil
}

// List implements store.Storage.
func (s *Storage) List(_ context.Context, prefix, after string, limit int) ([]string, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(); err != nil {
		return nil, err
	}
	var out []string
	for k := range s.m {
		if strings.HasPrefix(k, prefix) && k > after {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out, nil
}

// Commit implements store.Storage.
func (s *Storage) Commit(_ context.Context, conds []store.Cond, writes []store.Write) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.check(); err != nil {
		return err
	}
	for _, c := range conds {
		v, ok := s.m[c.Key]
		if ok != (c.Value != nil) || string(v) != string(c.Value) {
			return fmt.Errorf("%w: %s changed", store.ErrConflict, c.Key)
		}
	}
	for _, w := range writes {
		if w.Value == nil {
			delete(s.m, w.Key)
		} else {
			s.m[w.Key] = slices.Clone(w.Value)
		}
	}
	return nil
}

// Close implements store.Storage; later calls fail with ErrUnavailable.
func (s *Storage) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}
