package runstore

import (
	"bytes"
	"context"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// Records keeps small keyed records beside the runs, grouped in named
// spaces, so that they outlive the process as the runs do (wfrun serve's
// conductor event queues and their executions, when serve does not share
// Redis). Values are opaque bytes: a caller seals what it must trust.
type Records interface {
	// UpdateRecords runs fn in one write transaction: every change fn
	// makes is applied, or none (fn returned an error). fn may run more
	// than once (a shared transaction that failed is retried alone): it
	// must only change what it reads through tx.
	UpdateRecords(ctx context.Context, fn func(tx RecordTx) error) error
	// ViewRecords runs fn in a read transaction (Put and Delete fail).
	ViewRecords(ctx context.Context, fn func(tx RecordTx) error) error
}

// RecordTx reads and writes records in a transaction. A returned value is
// valid until the transaction ends.
type RecordTx interface {
	Get(space, key string) []byte
	Put(space, key string, value []byte) error
	Delete(space, key string) error
	// Scan calls fn for the records of space whose key starts with prefix,
	// in key order, until fn returns false.
	Scan(space, prefix string, fn func(key string, value []byte) bool)
}

var (
	_ Records = (*Memory)(nil)
	_ Records = (*Bolt)(nil)
)

// bucketRecords holds a nested bucket per space.
var bucketRecords = []byte("records")

type boltRecords struct {
	tx *bolt.Tx
}

func (r boltRecords) space(name string, create bool) (*bolt.Bucket, error) {
	root := r.tx.Bucket(bucketRecords)
	if root == nil {
		if !create {
			return nil, nil
		}
		var err error
		if root, err = r.tx.CreateBucketIfNotExists(bucketRecords); err != nil {
			return nil, err
		}
	}
	if !create {
		return root.Bucket([]byte(name)), nil
	}
	return root.CreateBucketIfNotExists([]byte(name))
}

func (r boltRecords) Get(space, key string) []byte {
	b, _ := r.space(space, false)
	if b == nil {
		return nil
	}
	return b.Get([]byte(key))
}

func (r boltRecords) Put(space, key string, value []byte) error {
	b, err := r.space(space, true)
	if err != nil {
		return err
	}
	return b.Put([]byte(key), value)
}

func (r boltRecords) Delete(space, key string) error {
	if !r.tx.Writable() {
		return bolt.ErrTxNotWritable
	}
	b, _ := r.space(space, false)
	if b == nil {
		return nil
	}
	return b.Delete([]byte(key))
}

func (r boltRecords) Scan(space, prefix string, fn func(string, []byte) bool) {
	b, _ := r.space(space, false)
	if b == nil {
		return
	}
	c := b.Cursor()
	p := []byte(prefix)
	for k, v := c.Seek(p); k != nil && bytes.HasPrefix(k, p); k, v = c.Next() {
		if !fn(string(k), v) {
			return
		}
	}
}

// UpdateRecords implements Records.
func (b *Bolt) UpdateRecords(ctx context.Context, fn func(RecordTx) error) error {
	return b.update(ctx, "records", true, 0, func(tx *bolt.Tx) error { return fn(boltRecords{tx}) })
}

// ViewRecords implements Records.
func (b *Bolt) ViewRecords(ctx context.Context, fn func(RecordTx) error) error {
	return b.view(ctx, func(tx *bolt.Tx) error { return fn(boltRecords{tx}) })
}

// memRecords is a transaction over Memory's records: writes are staged
// and applied when fn succeeds.
type memRecords struct {
	m        map[string]map[string][]byte
	writable bool
	staged   map[string]map[string][]byte // nil value: deleted
}

func (r *memRecords) Get(space, key string) []byte {
	if s, ok := r.staged[space]; ok {
		if v, ok := s[key]; ok {
			return v
		}
	}
	return r.m[space][key]
}

func (r *memRecords) stage(space, key string, v []byte) error {
	if !r.writable {
		return bolt.ErrTxNotWritable
	}
	if r.staged[space] == nil {
		r.staged[space] = map[string][]byte{}
	}
	r.staged[space][key] = v
	return nil
}

func (r *memRecords) Put(space, key string, value []byte) error {
	return r.stage(space, key, append(make([]byte, 0, len(value)+1), value...))
}

func (r *memRecords) Delete(space, key string) error { return r.stage(space, key, nil) }

func (r *memRecords) Scan(space, prefix string, fn func(string, []byte) bool) {
	seen := map[string][]byte{}
	for k, v := range r.m[space] {
		if strings.HasPrefix(k, prefix) {
			seen[k] = v
		}
	}
	for k, v := range r.staged[space] {
		if strings.HasPrefix(k, prefix) {
			seen[k] = v
		}
	}
	keys := make([]string, 0, len(seen))
	for k, v := range seen {
		if v != nil {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !fn(k, seen[k]) {
			return
		}
	}
}

// UpdateRecords implements Records.
func (m *Memory) UpdateRecords(_ context.Context, fn func(RecordTx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.records == nil {
		m.records = map[string]map[string][]byte{}
	}
	tx := &memRecords{m: m.records, writable: true, staged: map[string]map[string][]byte{}}
	if err := fn(tx); err != nil {
		return err
	}
	for space, kv := range tx.staged {
		if m.records[space] == nil {
			m.records[space] = map[string][]byte{}
		}
		for k, v := range kv {
			if v == nil {
				delete(m.records[space], k)
			} else {
				m.records[space][k] = v
			}
		}
	}
	return nil
}

// ViewRecords implements Records.
func (m *Memory) ViewRecords(_ context.Context, fn func(RecordTx) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return fn(&memRecords{m: m.records})
}
