package runstore

import (
	"context"
	"sync"
)

// Memory is an in-process Store. Documents are copied in and out, so callers
// may reuse their buffers.
type Memory struct {
	mu      sync.Mutex
	primary map[string][]byte
	archive map[string][]byte
	sums    map[string]Summary
	signals map[string]map[string][]byte
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{
		primary: map[string][]byte{},
		archive: map[string][]byte{},
		sums:    map[string]Summary{},
		signals: map[string]map[string][]byte{},
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// Save implements Store.
func (m *Memory) Save(_ context.Context, id string, doc []byte, sum Summary) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	sum.ID = id
	m.primary[id] = clone(doc)
	sum.Archived = false
	m.sums[id] = sum
	return nil
}

// Load implements Store.
func (m *Memory) Load(_ context.Context, id string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if d, ok := m.primary[id]; ok {
		return clone(d), false, nil
	}
	if d, ok := m.archive[id]; ok {
		return clone(d), true, nil
	}
	return nil, false, ErrNotFound
}

// List implements Store.
func (m *Memory) List(_ context.Context, opt ListOptions) ([]Summary, error) {
	m.mu.Lock()
	all := make([]Summary, 0, len(m.sums))
	for _, s := range m.sums {
		all = append(all, s)
	}
	m.mu.Unlock()
	return sortSummaries(all, opt), nil
}

// Archive implements Store.
func (m *Memory) Archive(_ context.Context, id string, archived []byte, sum Summary) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	sum.ID = id
	m.archive[id] = clone(archived)
	delete(m.primary, id)
	delete(m.signals, id)
	sum.Archived = true
	m.sums[id] = sum
	return nil
}

// Restore implements Store.
func (m *Memory) Restore(_ context.Context, id string, doc []byte, sum Summary) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	sum.ID = id
	m.primary[id] = clone(doc)
	delete(m.archive, id)
	sum.Archived = false
	m.sums[id] = sum
	return nil
}

// PutSignal implements Store.
func (m *Memory) PutSignal(_ context.Context, id, key string, payload []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.signals[id] == nil {
		m.signals[id] = map[string][]byte{}
	}
	m.signals[id][key] = clone(payload)
	return nil
}

// TakeSignals implements Store.
func (m *Memory) TakeSignals(_ context.Context, id string) (map[string][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.signals[id]
	delete(m.signals, id)
	return s, nil
}

// Close implements Store.
func (m *Memory) Close() error { return nil }
