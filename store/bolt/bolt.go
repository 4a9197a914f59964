package bolt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/wfrun/wfrun/internal/boltfile"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/seal"
)

// FileName is the secrets file's name under $WFRUN_HOME.
const FileName = "secrets.db"

// ErrOldFormat reports a secrets file written in the format before the
// barrier.
var ErrOldFormat = errors.New("old secrets file format")

// bucketRecords holds every record, keyed by its storage key.
var bucketRecords = []byte("records")

// Option configures Open.
type Option func(*config)

type config struct {
	history     int
	lockTimeout time.Duration
	now         func() time.Time
}

// WithHistory sets how many versions are kept per secret (at least 2).
func WithHistory(n int) Option { return func(c *config) { c.history = max(n, 2) } }

// WithLockTimeout sets how long an operation waits for another process's
// lock on the file before failing with ErrUnavailable.
func WithLockTimeout(d time.Duration) Option { return func(c *config) { c.lockTimeout = d } }

// WithClock sets the clock used for timestamps and expiry.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// Store is the organization view of a bolt secrets file (the store's
// barrier over the file); InScope gives the others.
type Store struct {
	*store.Barrier
	f *File
}

// Open returns a store on the bbolt file at path, sealing records with
// ring. It creates the file (0600, directory 0700) and checks, before any
// write, that ring holds the key the file was written with.
func Open(path string, ring *seal.Keyring, opts ...Option) (*Store, error) {
	if ring == nil {
		return nil, errors.New("bolt store: nil keyring")
	}
	cfg := config{history: store.DefaultHistory, lockTimeout: 5 * time.Second, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	f, err := OpenFile(path, cfg.lockTimeout)
	if err != nil {
		return nil, err
	}
	b, err := store.NewBarrier(context.Background(), f, ring,
		store.WithHistoryDepth(cfg.history), store.WithNow(cfg.now), store.WithWhere(path))
	if err != nil {
		return nil, err
	}
	return &Store{Barrier: b, f: f}, nil
}

// Path is the secrets file's path.
func (s *Store) Path() string { return s.f.path }

// File is a store.Storage in one bbolt file. It opens the file only while
// operations are in flight (see the package doc).
type File struct {
	path        string
	lockTimeout time.Duration

	// gate: operations share it, Compact takes it alone.
	gate   sync.RWMutex
	mu     sync.Mutex
	db     *bbolt.DB
	refs   int
	closed bool
}

var (
	_ store.Storage   = (*File)(nil)
	_ store.Compactor = (*File)(nil)
)

// OpenFile returns the storage on path, creating the file if needed.
func OpenFile(path string, lockTimeout time.Duration) (*File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("%w: create directory for %s: %v", store.ErrUnavailable, path, err)
	}
	f := &File{path: path, lockTimeout: lockTimeout}
	exists, legacy := false, false
	if _, err := os.Stat(path); err == nil {
		err := f.view(func(tx *bbolt.Tx) error {
			exists = tx.Bucket(bucketRecords) != nil
			legacy = tx.Bucket([]byte("secrets")) != nil || tx.Bucket([]byte("history")) != nil
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	if legacy && !exists {
		// The format before the barrier kept metadata in clear: reading it
		// as an empty store would hide every secret.
		return nil, fmt.Errorf("%w: %s was written by an earlier wfrun (records with clear metadata); this version cannot read it: move it aside and set the secrets again", ErrOldFormat, path)
	}
	if exists {
		return f, nil // opening writes nothing
	}
	err := f.update(func(tx *bbolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(bucketRecords)
		return err
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

func (f *File) openDB() (*bbolt.DB, error) {
	for range 10 {
		before, statErr := os.Stat(f.path)
		db, err := boltfile.Open(f.path, &bbolt.Options{Timeout: f.lockTimeout})
		if errors.Is(err, boltfile.ErrDamaged) {
			return nil, err
		}
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s is locked by another process (waited %s)", store.ErrUnavailable, f.path, f.lockTimeout)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: open %s: %v", store.ErrUnavailable, f.path, err)
		}
		// A compaction in another process may have replaced the file while
		// this one waited for the lock on the old one: use the new file.
		if after, err := os.Stat(f.path); statErr != nil || (err == nil && os.SameFile(before, after)) {
			return db, nil
		}
		_ = db.Close()
	}
	return nil, fmt.Errorf("%w: %s keeps being replaced", store.ErrUnavailable, f.path)
}

func (f *File) acquire() (*bbolt.DB, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, fmt.Errorf("%w: %s: store is closed", store.ErrUnavailable, f.path)
	}
	if f.db == nil {
		db, err := f.openDB()
		if err != nil {
			return nil, err
		}
		f.db = db
	}
	f.refs++
	return f.db, nil
}

func (f *File) release() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refs--
	if f.refs == 0 && f.db != nil {
		err := f.db.Close()
		f.db = nil
		if err != nil {
			return fmt.Errorf("%w: close %s: %v", store.ErrUnavailable, f.path, err)
		}
	}
	return nil
}

func (f *File) view(fn func(*bbolt.Tx) error) (err error) {
	f.gate.RLock()
	defer f.gate.RUnlock()
	db, err := f.acquire()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.release()) }()
	return boltfile.View(db, fn)
}

func (f *File) update(fn func(*bbolt.Tx) error) (err error) {
	f.gate.RLock()
	defer f.gate.RUnlock()
	db, err := f.acquire()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.release()) }()
	return boltfile.Update(db, fn)
}

// Get implements store.Storage.
func (f *File) Get(_ context.Context, keys ...string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	err := f.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketRecords)
		if b == nil {
			return nil
		}
		for i, k := range keys {
			if v := b.Get([]byte(k)); v != nil {
				out[i] = bytes.Clone(v)
			}
		}
		return nil
	})
	return out, err
}

// List implements store.Storage with a cursor seek.
func (f *File) List(_ context.Context, prefix, after string, limit int) ([]string, error) {
	var out []string
	err := f.view(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bucketRecords)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		start := prefix
		if after > start {
			start = after
		}
		for k, _ := c.Seek([]byte(start)); k != nil && bytes.HasPrefix(k, []byte(prefix)); k, _ = c.Next() {
			if string(k) <= after {
				continue
			}
			if limit > 0 && len(out) == limit {
				break
			}
			out = append(out, string(k))
		}
		return nil
	})
	return out, err
}

// Commit implements store.Storage in one bbolt transaction.
func (f *File) Commit(_ context.Context, conds []store.Cond, writes []store.Write) error {
	return f.update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketRecords)
		if err != nil {
			return err
		}
		for _, c := range conds {
			v := b.Get([]byte(c.Key))
			if (v == nil) != (c.Value == nil) || !bytes.Equal(v, c.Value) {
				return fmt.Errorf("%w: %s changed", store.ErrConflict, c.Key)
			}
		}
		for _, w := range writes {
			if w.Value == nil {
				err = b.Delete([]byte(w.Key))
			} else {
				err = b.Put([]byte(w.Key), w.Value)
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// Compact implements store.Compactor: bbolt keeps deleted and replaced
// records in free pages, so the live records are copied into a new file
// that atomically replaces the old one (written, synced, renamed while the
// old file's lock is held). Nothing of a deleted record or of a ciphertext
// under a retired key stays in the file.
func (f *File) Compact(_ context.Context) (err error) {
	f.gate.Lock()
	defer f.gate.Unlock()
	src, err := f.acquire()
	if err != nil {
		return err
	}
	released := false
	defer func() {
		if !released {
			err = errors.Join(err, f.release())
		}
	}()
	tmp := f.path + ".compact"
	_ = os.Remove(tmp)
	dst, err := bbolt.Open(tmp, 0o600, &bbolt.Options{Timeout: f.lockTimeout})
	if err != nil {
		return fmt.Errorf("%w: compact %s: %v", store.ErrUnavailable, f.path, err)
	}
	if err := bbolt.Compact(dst, src, 1<<20); err != nil {
		_ = dst.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("%w: compact %s: %v", store.ErrUnavailable, f.path, err)
	}
	if err := dst.Sync(); err != nil {
		_ = dst.Close()
		_ = os.Remove(tmp)
		return fmt.Errorf("%w: compact %s: %v", store.ErrUnavailable, f.path, err)
	}
	if err := dst.Close(); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("%w: compact %s: %v", store.ErrUnavailable, f.path, err)
	}
	if err := os.Rename(tmp, f.path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("%w: compact %s: %v", store.ErrUnavailable, f.path, err)
	}
	if d, err := os.Open(filepath.Dir(f.path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	// The handle on the old file must not be reused: the next operation
	// opens the new one. The gate is held, so this call is its only user.
	f.mu.Lock()
	f.refs, f.db, released = 0, nil, true
	f.mu.Unlock()
	if err := src.Close(); err != nil {
		return fmt.Errorf("%w: close %s: %v", store.ErrUnavailable, f.path, err)
	}
	return nil
}

// Close releases the storage; later calls fail with ErrUnavailable. The
// file is not held open between operations, so Close only marks it.
func (f *File) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	if f.refs == 0 && f.db != nil {
		err := f.db.Close()
		f.db = nil
		if err != nil {
			return fmt.Errorf("%w: close %s: %v", store.ErrUnavailable, f.path, err)
		}
	}
	return nil
}
