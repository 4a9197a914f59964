package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/wfrun/wfrun/store"
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

type state struct {
	cfg    config
	mu     sync.RWMutex
	spaces map[string]map[string][]*store.Secret // newest first; [0] is current
	closed bool
}

// Store is an in-memory secret store (the organization view; InScope gives
// the others).
type Store struct {
	st    *state
	scope store.Scope
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.GetManyer = (*Store)(nil)
	_ store.KeyGetter = (*Store)(nil)
	_ store.Scoper    = (*Store)(nil)
	_ store.Sweeper   = (*Store)(nil)
)

// New returns an empty store.
func New(opts ...Option) *Store {
	cfg := config{history: store.DefaultHistory, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	return &Store{st: &state{cfg: cfg, spaces: map[string]map[string][]*store.Secret{}}}
}

// InScope returns the view of scope's key space, sharing this store's data.
func (m *Store) InScope(scope store.Scope) store.Store { return &Store{st: m.st, scope: scope} }

func (m *Store) check() error {
	if m.st.closed {
		return fmt.Errorf("%w: store is closed", store.ErrUnavailable)
	}
	return m.scope.Validate()
}

func (m *Store) space(create bool) map[string][]*store.Secret {
	sp := m.st.spaces[m.scope.Key()]
	if sp == nil && create {
		sp = map[string][]*store.Secret{}
		m.st.spaces[m.scope.Key()] = sp
	}
	return sp
}

func (st *state) read(scope store.Scope, name string) (*store.Secret, error) {
	vs := st.spaces[scope.Key()][name]
	if len(vs) == 0 {
		return nil, fmt.Errorf("secret %q: %w", name, store.ErrNotFound)
	}
	cur := vs[0]
	if cur.Expired(st.cfg.now()) {
		return cur.Metadata(), fmt.Errorf("secret %q: %w at %s", name, store.ErrExpired, cur.Expires.Format(time.RFC3339))
	}
	return cur.Clone(), nil
}

// Get implements store.Store.
func (m *Store) Get(ctx context.Context, name string) (*store.Secret, error) {
	if err := store.ValidateName(name); err != nil {
		return nil, err
	}
	m.st.mu.RLock()
	defer m.st.mu.RUnlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	return m.st.read(m.scope, name)
}

// GetMany implements store.GetManyer.
func (m *Store) GetMany(ctx context.Context, names []string) (map[string]*store.Secret, map[string]error, error) {
	return store.GetManyInScope(ctx, m, m.scope, names)
}

// GetKeys implements store.KeyGetter.
func (m *Store) GetKeys(ctx context.Context, keys []store.Key) (map[store.Key]*store.Secret, map[store.Key]error, error) {
	m.st.mu.RLock()
	defer m.st.mu.RUnlock()
	if m.st.closed {
		return nil, nil, fmt.Errorf("%w: store is closed", store.ErrUnavailable)
	}
	found, errs := map[store.Key]*store.Secret{}, map[store.Key]error{}
	for _, k := range keys {
		if err := store.ValidateName(k.Name); err != nil {
			errs[k] = err
			continue
		}
		if err := k.Scope.Validate(); err != nil {
			return nil, nil, err
		}
		sec, err := m.st.read(k.Scope, k.Name)
		if sec != nil {
			found[k] = sec
		}
		if err != nil {
			errs[k] = err
		}
	}
	return found, errs, nil
}

// Put implements store.Store.
func (m *Store) Put(ctx context.Context, s *store.Secret, opts ...store.PutOption) (*store.Secret, error) {
	m.st.mu.Lock()
	defer m.st.mu.Unlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	var cur *store.Secret
	if s != nil {
		if vs := m.space(false)[s.Name]; len(vs) > 0 {
			cur = vs[0]
		}
	}
	next, err := store.PreparePut(cur, s, m.scope, store.NewPutOptions(opts...), m.st.cfg.now())
	if err != nil {
		return nil, err
	}
	sp := m.space(true)
	vs := append([]*store.Secret{next}, sp[next.Name]...)
	if len(vs) > m.st.cfg.history {
		vs = vs[:m.st.cfg.history]
	}
	sp[next.Name] = vs
	return next.Clone(), nil
}

// Delete implements store.Store.
func (m *Store) Delete(ctx context.Context, name string) error {
	if err := store.ValidateName(name); err != nil {
		return err
	}
	m.st.mu.Lock()
	defer m.st.mu.Unlock()
	if err := m.check(); err != nil {
		return err
	}
	delete(m.space(false), name)
	return nil
}

// List implements store.Store.
func (m *Store) List(ctx context.Context, opt store.ListOptions) (*store.ListPage, error) {
	m.st.mu.RLock()
	defer m.st.mu.RUnlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	now := m.st.cfg.now()
	var names []string
	for n, vs := range m.space(false) {
		if !vs[0].Expired(now) {
			names = append(names, n)
		}
	}
	return store.PageNames(names, opt)
}

// History implements store.Store.
func (m *Store) History(ctx context.Context, name string, n int) ([]*store.Secret, error) {
	if err := store.ValidateName(name); err != nil {
		return nil, err
	}
	m.st.mu.RLock()
	defer m.st.mu.RUnlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	vs := m.space(false)[name]
	if len(vs) == 0 {
		return nil, fmt.Errorf("secret %q: %w", name, store.ErrNotFound)
	}
	n = store.ClampHistory(n, len(vs))
	out := make([]*store.Secret, 0, n)
	now := m.st.cfg.now()
	for _, v := range vs[:n] {
		if v.Expired(now) {
			out = append(out, v.Metadata())
		} else {
			out = append(out, v.Clone())
		}
	}
	return out, nil
}

func (m *Store) updateTags(name string, set map[string]string, del []string) error {
	if err := store.ValidateName(name); err != nil {
		return err
	}
	m.st.mu.Lock()
	defer m.st.mu.Unlock()
	if err := m.check(); err != nil {
		return err
	}
	vs := m.space(false)[name]
	if len(vs) == 0 {
		return fmt.Errorf("secret %q: %w", name, store.ErrNotFound)
	}
	tags, err := store.ApplyTags(vs[0].Tags, set, del)
	if err != nil {
		return fmt.Errorf("secret %q: %w", name, err)
	}
	cur := vs[0].Clone()
	cur.Tags = tags
	cur.UpdatedAt = m.st.cfg.now().UTC().Truncate(time.Millisecond)
	vs[0] = cur
	return nil
}

// SetTags implements store.Store.
func (m *Store) SetTags(ctx context.Context, name string, tags map[string]string) error {
	return m.updateTags(name, tags, nil)
}

// DeleteTags implements store.Store.
func (m *Store) DeleteTags(ctx context.Context, name string, keys ...string) error {
	return m.updateTags(name, nil, keys)
}

// Sweep implements store.Sweeper for every scope.
func (m *Store) Sweep(ctx context.Context) ([]store.Key, error) {
	m.st.mu.Lock()
	defer m.st.mu.Unlock()
	if m.st.closed {
		return nil, fmt.Errorf("%w: store is closed", store.ErrUnavailable)
	}
	now := m.st.cfg.now()
	var removed []store.Key
	for sk, sp := range m.st.spaces {
		scope, err := store.ParseScopeKey(sk)
		if err != nil {
			return nil, err
		}
		for n, vs := range sp {
			if vs[0].Expired(now) {
				delete(sp, n)
				removed = append(removed, store.Key{Scope: scope, Name: n})
			}
		}
	}
	return removed, nil
}

// Close makes every later call fail with ErrUnavailable.
func (m *Store) Close() error {
	m.st.mu.Lock()
	defer m.st.mu.Unlock()
	m.st.closed = true
	return nil
}
