package runstore

import (
	"context"
	"sync"
	"time"
)

// Memory is an in-process Store. Parts are copied in and out, so callers
// may reuse their buffers; only a Change marked HandOver gives its Head
// and task documents to the store, which then keeps them as they are.
type Memory struct {
	mu      sync.Mutex
	primary map[string]*parts
	defs    map[string][]byte
	archive map[string][]byte
	sums    map[string]Summary
	signals map[string]map[string][]byte
	// slots: the answer slots (signal ids SlotID) each run holds, so
	// that its Archive and Delete remove them without a scan (slots.go).
	slots  map[string]map[string]struct{}
	leases map[string]Lease
	keys   map[string][]byte // key claims (keys.go)
	// taskLogs are the runs' task logs (tasklogs.go).
	taskLogs map[string][]TaskLogEntry
	records  map[string]map[string][]byte // records.go
	// tagged and runTags are the runs' tags (taskindex.go).
	tagged  map[string]map[string]struct{}
	runTags map[string]string
	stats   Stats
}

var _ Store = (*Memory)(nil)

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	return &Memory{
		primary: map[string]*parts{},
		defs:    map[string][]byte{},
		archive: map[string][]byte{},
		sums:    map[string]Summary{},
		signals: map[string]map[string][]byte{},
		slots:   map[string]map[string]struct{}{},
		leases:  map[string]Lease{},
	}
}

// Stats implements StatsReporter.
func (m *Memory) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stats
}

func (m *Memory) applyLocked(id string, ch *Change) {
	p := m.primary[id]
	if p == nil {
		p = &parts{tasks: map[int][]byte{}}
		m.primary[id] = p
	}
	keep := clone
	if ch.HandOver {
		keep = func(b []byte) []byte { return b[:len(b):len(b)] }
	}
	if ch.Head != nil {
		p.head = keep(ch.Head)
	}
	if ch.Input != nil {
		p.input = clone(ch.Input)
	}
	if ch.Output != nil {
		p.output = clone(ch.Output)
	}
	if ch.Variables != nil {
		p.variables = clone(ch.Variables)
	}
	if ch.TaskDefs != nil {
		p.taskDefs = clone(ch.TaskDefs)
	}
	if ch.Mocks != nil {
		p.mocks = clone(ch.Mocks)
	}
	for _, t := range ch.Tasks {
		p.tasks[t.Seq] = keep(t.Doc)
	}
	if ch.RunTag != "" {
		m.tagLocked(id, ch.RunTag)
	}
	for _, e := range ch.Log {
		if p.log == nil {
			p.log = map[int][]byte{}
		}
		p.log[e.Pos] = clone(e.Doc)
	}
	for _, seq := range ch.DeleteTasks {
		delete(p.tasks, seq)
	}
	for _, r := range ch.Refs {
		switch {
		case r.Ref == "":
		case r.Seq <= 0:
			delete(p.refs, r.Ref)
		default:
			if p.refs == nil {
				p.refs = map[string]int{}
			}
			p.refs[r.Ref] = r.Seq
		}
	}
	if ch.DefinitionHash != "" {
		p.defHash = ch.DefinitionHash
		if _, ok := m.defs[ch.DefinitionHash]; !ok && ch.Definition != nil {
			m.defs[ch.DefinitionHash] = clone(ch.Definition)
		}
	}
	sum := ch.Summary
	sum.ID, sum.Archived, sum.Lease = id, false, nil
	m.sums[id] = sum
	m.stats.Commits++
	m.stats.Bytes += int64(ch.Size())
}

// Commit implements Store.
func (m *Memory) Commit(_ context.Context, id string, ch *Change) error {
	if err := CheckRunID(id); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.archive[id]; ok {
		return archivedError(id)
	}
	if err := m.leaseLocked(id, ch); err != nil {
		return err
	}
	m.applyLocked(id, ch)
	return nil
}

func (m *Memory) leaseLocked(id string, ch *Change) error {
	if ch.Lease == nil {
		return nil
	}
	cur, has := m.leases[id]
	nl, err := grant(id, cur, has, *ch.Lease, ch.LeaseTTL, time.Now())
	if err != nil {
		return err
	}
	m.leases[id] = nl
	return nil
}

// Load implements Store.
func (m *Memory) Load(_ context.Context, id string) ([]byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.primary[id]; ok {
		doc, err := p.assemble(m.defs[p.defHash])
		return doc, false, err
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
	for id, s := range m.sums {
		if l, ok := m.leases[id]; ok {
			s.Lease = &l
		}
		all = append(all, s)
	}
	m.mu.Unlock()
	return sortSummaries(all, opt), nil
}

// Archive implements Store.
func (m *Memory) Archive(_ context.Context, id string, archived []byte, sum Summary) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.archive[id]; ok {
		if _, live := m.primary[id]; !live {
			return archiveRefused(id)
		}
	}
	m.archive[id] = clone(archived)
	delete(m.primary, id)
	delete(m.signals, id)
	m.deleteSlotsLocked(id, true)
	delete(m.leases, id)
	sum.ID, sum.Archived, sum.Lease = id, true, nil
	m.sums[id] = sum
	m.stats.Commits++
	m.stats.Bytes += int64(len(archived))
	return nil
}

// Restore implements Store.
func (m *Memory) Restore(_ context.Context, id string, ch *Change) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.leaseLocked(id, ch); err != nil {
		return err
	}
	delete(m.primary, id)
	delete(m.archive, id)
	m.applyLocked(id, ch)
	return nil
}

// Delete implements Store.
func (m *Memory) Delete(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.primary[id]; ok {
		return ErrNotEnded
	}
	if _, ok := m.archive[id]; !ok {
		return ErrNotFound
	}
	delete(m.archive, id)
	delete(m.sums, id)
	delete(m.signals, id)
	m.deleteSlotsLocked(id, false)
	delete(m.leases, id)
	delete(m.taskLogs, id)
	m.untagLocked(id)
	return nil
}

// PutSignal implements Store.
func (m *Memory) PutSignal(_ context.Context, id, key string, payload []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.archive[id]; ok {
		return nil // nobody takes it: the run ended (Store.PutSignal)
	}
	if m.signals[id] == nil {
		m.signals[id] = map[string][]byte{}
		m.noteSlotLocked(id)
	}
	m.signals[id][key] = clone(payload)
	return nil
}

// TakeSignals implements Store.
func (m *Memory) TakeSignals(_ context.Context, id string) (map[string][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.signals[id]
	m.dropSignalsLocked(id)
	return s, nil
}

// AcquireLease implements Leaser.
func (m *Memory) AcquireLease(_ context.Context, id string, l Lease, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	cur, has := m.leases[id]
	nl, err := grant(id, cur, has, l, ttl, time.Now())
	if err != nil {
		return err
	}
	m.leases[id] = nl
	return nil
}

// RenewLease implements Leaser.
func (m *Memory) RenewLease(_ context.Context, id string, l Lease, ttl time.Duration) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.archive[id]; ok {
		return leaseArchived(id)
	}
	cur, has := m.leases[id]
	nl, err := grant(id, cur, has, l, ttl, time.Now())
	if err != nil {
		return err
	}
	m.leases[id] = nl
	return nil
}

// ReleaseLease implements Leaser.
func (m *Memory) ReleaseLease(_ context.Context, id, owner string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if cur, ok := m.leases[id]; ok && cur.Owner == owner {
		delete(m.leases, id)
	}
	return nil
}

// GetLease implements Leaser.
func (m *Memory) GetLease(_ context.Context, id string) (Lease, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	l, ok := m.leases[id]
	return l, ok, nil
}

// Close implements Store.
func (m *Memory) Close() error { return nil }
