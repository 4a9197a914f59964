package runstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/wfrun/wfrun/internal/boltfile"
)

var (
	bucketRuns    = []byte("runs")
	bucketArchive = []byte("archive")
	bucketIndex   = []byte("index")
	bucketSignals = []byte("signals")
)

// Bolt is a Store over one bbolt file. It holds the file open only for the
// duration of one operation (see the package comment), so several processes
// can share the file; an operation waits up to the lock timeout for another
// process to finish its transaction.
type Bolt struct {
	path    string
	timeout time.Duration
	noSync  bool
}

var _ Store = (*Bolt)(nil)

// BoltOption configures OpenBolt.
type BoltOption func(*Bolt)

// WithLockTimeout sets how long an operation waits for the file lock held by
// another process (default 10s).
func WithLockTimeout(d time.Duration) BoltOption { return func(b *Bolt) { b.timeout = d } }

// OpenBolt returns a Store over the bbolt file at path, creating the file and
// its buckets if needed (directory 0700, file 0600).
func OpenBolt(path string, opts ...BoltOption) (*Bolt, error) {
	b := &Bolt{path: path, timeout: 10 * time.Second}
	for _, o := range opts {
		o(b)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("run store %s: %w", path, err)
	}
	err := b.update(context.Background(), func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketRuns, bucketArchive, bucketIndex, bucketSignals} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Path returns the file the store uses.
func (b *Bolt) Path() string { return b.path }

func (b *Bolt) open(readOnly bool) (*bolt.DB, error) {
	db, err := boltfile.Open(b.path, &bolt.Options{Timeout: b.timeout, ReadOnly: readOnly && fileExists(b.path)})
	if errors.Is(err, boltfile.ErrDamaged) {
		return nil, err
	}
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s is locked by another process (waited %s)", ErrUnavailable, b.path, b.timeout)
		}
		return nil, fmt.Errorf("%w: open %s: %v", ErrUnavailable, b.path, err)
	}
	db.NoSync = b.noSync
	return db, nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func (b *Bolt) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	db, err := b.open(false)
	if err != nil {
		return err
	}
	err = boltfile.Update(db, fn)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

func (b *Bolt) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// A read-only open takes a shared lock: readers in several processes
	// do not exclude each other.
	db, err := b.open(true)
	if err != nil {
		return err
	}
	err = boltfile.View(db, fn)
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	return err
}

func putSummary(tx *bolt.Tx, sum Summary) error {
	js, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketIndex).Put([]byte(sum.ID), js)
}

// Save implements Store.
func (b *Bolt) Save(ctx context.Context, id string, doc []byte, sum Summary) error {
	sum.ID, sum.Archived = id, false
	return b.update(ctx, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketRuns).Put([]byte(id), doc); err != nil {
			return err
		}
		return putSummary(tx, sum)
	})
}

// Load implements Store.
func (b *Bolt) Load(ctx context.Context, id string) ([]byte, bool, error) {
	var doc []byte
	var archived bool
	err := b.view(ctx, func(tx *bolt.Tx) error {
		if v := tx.Bucket(bucketRuns).Get([]byte(id)); v != nil {
			doc = clone(v)
			return nil
		}
		if v := tx.Bucket(bucketArchive).Get([]byte(id)); v != nil {
			doc, archived = clone(v), true
			return nil
		}
		return ErrNotFound
	})
	return doc, archived, err
}

// List implements Store.
func (b *Bolt) List(ctx context.Context, opt ListOptions) ([]Summary, error) {
	var all []Summary
	err := b.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketIndex).ForEach(func(_, v []byte) error {
			var s Summary
			if err := json.Unmarshal(v, &s); err != nil {
				return nil // a damaged index entry must not hide the others
			}
			all = append(all, s)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return sortSummaries(all, opt), nil
}

// Archive implements Store: one bbolt transaction writes the archive, deletes
// the primary record and its signals.
func (b *Bolt) Archive(ctx context.Context, id string, archived []byte, sum Summary) error {
	sum.ID, sum.Archived = id, true
	return b.update(ctx, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketArchive).Put([]byte(id), archived); err != nil {
			return err
		}
		if err := tx.Bucket(bucketRuns).Delete([]byte(id)); err != nil {
			return err
		}
		if err := deleteSignals(tx, id); err != nil {
			return err
		}
		return putSummary(tx, sum)
	})
}

// Restore implements Store.
func (b *Bolt) Restore(ctx context.Context, id string, doc []byte, sum Summary) error {
	sum.ID, sum.Archived = id, false
	return b.update(ctx, func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketRuns).Put([]byte(id), doc); err != nil {
			return err
		}
		if err := tx.Bucket(bucketArchive).Delete([]byte(id)); err != nil {
			return err
		}
		return putSummary(tx, sum)
	})
}

func signalKey(id, key string) []byte { return []byte(id + "\x00" + key) }

// PutSignal implements Store.
func (b *Bolt) PutSignal(ctx context.Context, id, key string, payload []byte) error {
	return b.update(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSignals).Put(signalKey(id, key), payload)
	})
}

func deleteSignals(tx *bolt.Tx, id string) error {
	c := tx.Bucket(bucketSignals).Cursor()
	prefix := []byte(id + "\x00")
	var keys [][]byte
	for k, _ := c.Seek(prefix); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == string(prefix); k, _ = c.Next() {
		keys = append(keys, clone(k))
	}
	for _, k := range keys {
		if err := tx.Bucket(bucketSignals).Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// TakeSignals implements Store.
func (b *Bolt) TakeSignals(ctx context.Context, id string) (map[string][]byte, error) {
	var out map[string][]byte
	// Peek with a shared lock first: polling runners must not serialise on
	// the exclusive lock when there is nothing to take.
	err := b.view(ctx, func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketSignals).Cursor().Seek([]byte(id + "\x00"))
		if k != nil && len(k) > len(id) && string(k[:len(id)+1]) == id+"\x00" {
			out = map[string][]byte{}
		}
		return nil
	})
	if err != nil || out == nil {
		return nil, err
	}
	err = b.update(ctx, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSignals).Cursor()
		prefix := id + "\x00"
		for k, v := c.Seek([]byte(prefix)); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == prefix; k, v = c.Next() {
			out[string(k[len(prefix):])] = clone(v)
		}
		return deleteSignals(tx, id)
	})
	return out, err
}

// Close implements Store (nothing is held open between operations).
func (b *Bolt) Close() error { return nil }
