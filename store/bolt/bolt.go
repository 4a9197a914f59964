package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
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
	"github.com/wfrun/wfrun/store/internal/sealed"
	"github.com/wfrun/wfrun/store/seal"
)

// FileName is the secrets file's name under $WFRUN_HOME.
const FileName = "secrets.db"

var (
	bucketSecrets = []byte("secrets")
	bucketHistory = []byte("history")
)

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

// file is the shared state of all scope views of one secrets file.
type file struct {
	path string
	ring *seal.Keyring
	cfg  config

	mu     sync.Mutex
	db     *bbolt.DB
	refs   int
	closed bool
}

// Store is the organization view of a bolt secrets file; InScope gives the
// others.
type Store struct {
	f     *file
	scope store.Scope
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.GetManyer = (*Store)(nil)
	_ store.KeyGetter = (*Store)(nil)
	_ store.Scoper    = (*Store)(nil)
	_ store.Sweeper   = (*Store)(nil)
	_ store.Rekeyer   = (*Store)(nil)
)

// Open returns a store on the bbolt file at path, sealing values with ring.
// It creates the file (0600, directory 0700) and checks it can be opened,
// then releases it until the first operation.
func Open(path string, ring *seal.Keyring, opts ...Option) (*Store, error) {
	if ring == nil {
		return nil, errors.New("bolt store: nil keyring")
	}
	cfg := config{history: store.DefaultHistory, lockTimeout: 5 * time.Second, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("%w: create directory for %s: %v", store.ErrUnavailable, path, err)
	}
	s := &Store{f: &file{path: path, ring: ring, cfg: cfg}}
	if err := s.f.update(func(tx *bbolt.Tx) error {
		for _, b := range [][]byte{bucketSecrets, bucketHistory} {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		return nil, err
	}
	return s, nil
}

// Path is the secrets file's path.
func (s *Store) Path() string { return s.f.path }

func (f *file) acquire() (*bbolt.DB, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return nil, fmt.Errorf("%w: %s: store is closed", store.ErrUnavailable, f.path)
	}
	if f.db == nil {
		db, err := boltfile.Open(f.path, &bbolt.Options{Timeout: f.cfg.lockTimeout})
		if errors.Is(err, boltfile.ErrDamaged) {
			return nil, err
		}
		if errors.Is(err, bolterrors.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s is locked by another process (waited %s)", store.ErrUnavailable, f.path, f.cfg.lockTimeout)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: open %s: %v", store.ErrUnavailable, f.path, err)
		}
		f.db = db
	}
	f.refs++
	return f.db, nil
}

func (f *file) release() error {
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

func (f *file) view(fn func(*bbolt.Tx) error) (err error) {
	db, err := f.acquire()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.release()) }()
	return boltfile.View(db, fn)
}

func (f *file) update(fn func(*bbolt.Tx) error) (err error) {
	db, err := f.acquire()
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, f.release()) }()
	return boltfile.Update(db, fn)
}

// InScope implements store.Scoper.
func (s *Store) InScope(scope store.Scope) store.Store { return &Store{f: s.f, scope: scope} }

func spaceBucket(tx *bbolt.Tx, root []byte, scopeKey string, create bool) (*bbolt.Bucket, error) {
	r := tx.Bucket(root)
	if r == nil {
		if !create {
			return nil, nil
		}
		var err error
		if r, err = tx.CreateBucketIfNotExists(root); err != nil {
			return nil, err
		}
	}
	if create {
		return r.CreateBucketIfNotExists([]byte(scopeKey))
	}
	return r.Bucket([]byte(scopeKey)), nil
}

func versionKey(v int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(v))
	return b[:]
}

func (s *Store) read(tx *bbolt.Tx, scope store.Scope, name string) (*store.Secret, error) {
	b, err := spaceBucket(tx, bucketSecrets, scope.Key(), false)
	if err != nil {
		return nil, err
	}
	var data []byte
	if b != nil {
		data = b.Get([]byte(name))
	}
	if data == nil {
		return nil, fmt.Errorf("secret %q: %w", name, store.ErrNotFound)
	}
	return sealed.Read(s.f.ring, data, s.f.cfg.now())
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, name string) (*store.Secret, error) {
	if err := store.ValidateName(name); err != nil {
		return nil, err
	}
	if err := s.scope.Validate(); err != nil {
		return nil, err
	}
	var out *store.Secret
	var perr error
	err := s.f.view(func(tx *bbolt.Tx) error {
		out, perr = s.read(tx, s.scope, name)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, perr
}

// GetMany implements store.GetManyer in one read transaction.
func (s *Store) GetMany(ctx context.Context, names []string) (map[string]*store.Secret, map[string]error, error) {
	return store.GetManyInScope(ctx, s, s.scope, names)
}

// GetKeys implements store.KeyGetter in one read transaction.
func (s *Store) GetKeys(ctx context.Context, keys []store.Key) (map[store.Key]*store.Secret, map[store.Key]error, error) {
	found, errs := map[store.Key]*store.Secret{}, map[store.Key]error{}
	for _, k := range keys {
		if err := k.Scope.Validate(); err != nil {
			return nil, nil, err
		}
	}
	err := s.f.view(func(tx *bbolt.Tx) error {
		for _, k := range keys {
			if err := store.ValidateName(k.Name); err != nil {
				errs[k] = err
				continue
			}
			// Errors here concern one record (not found, expired, does not
			// decrypt); they fail that name, not the batch.
			sec, err := s.read(tx, k.Scope, k.Name)
			if sec != nil {
				found[k] = sec
			}
			if err != nil {
				errs[k] = err
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return found, errs, nil
}

// current returns the stored current record's metadata, expired or not.
func current(tx *bbolt.Tx, scopeKey, name string) (*store.Secret, *sealed.Record, error) {
	b, err := spaceBucket(tx, bucketSecrets, scopeKey, false)
	if err != nil || b == nil {
		return nil, nil, err
	}
	data := b.Get([]byte(name))
	if data == nil {
		return nil, nil, nil
	}
	r, err := sealed.Parse(data)
	if err != nil {
		return nil, nil, fmt.Errorf("secret %q: %w", name, err)
	}
	meta, err := r.Meta()
	return meta, r, err
}

// Put implements store.Store. The whole write (current record and history)
// is one bbolt transaction: a failure leaves the previous state intact.
func (s *Store) Put(ctx context.Context, in *store.Secret, opts ...store.PutOption) (*store.Secret, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if err := s.scope.Validate(); err != nil {
		return nil, err
	}
	o := store.NewPutOptions(opts...)
	var out *store.Secret
	err := s.f.update(func(tx *bbolt.Tx) error {
		sk := s.scope.Key()
		cur, _, err := current(tx, sk, in.Name)
		if err != nil {
			return err
		}
		next, err := store.PreparePut(cur, in, s.scope, o, s.f.cfg.now())
		if err != nil {
			return err
		}
		data, err := sealed.Encode(s.f.ring, next)
		if err != nil {
			return err
		}
		b, err := spaceBucket(tx, bucketSecrets, sk, true)
		if err != nil {
			return err
		}
		if err := b.Put([]byte(next.Name), data); err != nil {
			return err
		}
		if err := s.appendHistory(tx, sk, next.Name, next.Version, data); err != nil {
			return err
		}
		out = next
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) appendHistory(tx *bbolt.Tx, sk, name string, version int64, data []byte) error {
	hs, err := spaceBucket(tx, bucketHistory, sk, true)
	if err != nil {
		return err
	}
	hb, err := hs.CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return err
	}
	if err := hb.Put(versionKey(version), data); err != nil {
		return err
	}
	// Trim the oldest versions beyond the retention.
	var keys [][]byte
	c := hb.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		keys = append(keys, append([]byte(nil), k...))
	}
	for len(keys) > s.f.cfg.history {
		if err := hb.Delete(keys[0]); err != nil {
			return err
		}
		keys = keys[1:]
	}
	return nil
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := store.ValidateName(name); err != nil {
		return err
	}
	if err := s.scope.Validate(); err != nil {
		return err
	}
	return s.f.update(func(tx *bbolt.Tx) error { return deleteIn(tx, s.scope.Key(), name) })
}

func deleteIn(tx *bbolt.Tx, sk, name string) error {
	if b, err := spaceBucket(tx, bucketSecrets, sk, false); err != nil {
		return err
	} else if b != nil {
		if err := b.Delete([]byte(name)); err != nil {
			return err
		}
	}
	if hs, err := spaceBucket(tx, bucketHistory, sk, false); err != nil {
		return err
	} else if hs != nil && hs.Bucket([]byte(name)) != nil {
		if err := hs.DeleteBucket([]byte(name)); err != nil {
			return err
		}
	}
	return nil
}

// List implements store.Store with a cursor seek, so pages cost O(limit).
func (s *Store) List(ctx context.Context, opt store.ListOptions) (*store.ListPage, error) {
	limit, after, err := store.NormalizeList(opt)
	if err != nil {
		return nil, err
	}
	if err := s.scope.Validate(); err != nil {
		return nil, err
	}
	page := &store.ListPage{Names: []string{}}
	now := s.f.cfg.now()
	err = s.f.view(func(tx *bbolt.Tx) error {
		b, err := spaceBucket(tx, bucketSecrets, s.scope.Key(), false)
		if err != nil || b == nil {
			return err
		}
		c := b.Cursor()
		start := []byte(opt.Prefix)
		if after != "" && after >= opt.Prefix {
			start = []byte(after)
		}
		for k, v := c.Seek(start); k != nil && bytes.HasPrefix(k, []byte(opt.Prefix)); k, v = c.Next() {
			if after != "" && string(k) <= after {
				continue
			}
			r, err := sealed.Parse(v)
			if err != nil {
				return fmt.Errorf("secret %q: %w", k, err)
			}
			if meta, err := r.Meta(); err != nil {
				return err
			} else if meta.Expired(now) {
				continue
			}
			if len(page.Names) == limit {
				page.ContinuationToken = store.EncodeToken(page.Names[limit-1])
				return nil
			}
			page.Names = append(page.Names, string(k))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// History implements store.Store.
func (s *Store) History(ctx context.Context, name string, n int) ([]*store.Secret, error) {
	if err := store.ValidateName(name); err != nil {
		return nil, err
	}
	if err := s.scope.Validate(); err != nil {
		return nil, err
	}
	var out []*store.Secret
	now := s.f.cfg.now()
	err := s.f.view(func(tx *bbolt.Tx) error {
		hs, err := spaceBucket(tx, bucketHistory, s.scope.Key(), false)
		if err != nil {
			return err
		}
		var hb *bbolt.Bucket
		if hs != nil {
			hb = hs.Bucket([]byte(name))
		}
		if hb == nil {
			return fmt.Errorf("secret %q: %w", name, store.ErrNotFound)
		}
		limit := store.ClampHistory(n, s.f.cfg.history)
		c := hb.Cursor()
		for k, v := c.Last(); k != nil && len(out) < limit; k, v = c.Prev() {
			sec, err := sealed.Read(s.f.ring, v, now)
			if err != nil && !errors.Is(err, store.ErrExpired) {
				return err
			}
			out = append(out, sec)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (s *Store) updateTags(name string, set map[string]string, del []string) error {
	if err := store.ValidateName(name); err != nil {
		return err
	}
	if err := s.scope.Validate(); err != nil {
		return err
	}
	return s.f.update(func(tx *bbolt.Tx) error {
		sk := s.scope.Key()
		_, r, err := current(tx, sk, name)
		if err != nil {
			return err
		}
		if r == nil {
			return fmt.Errorf("secret %q: %w", name, store.ErrNotFound)
		}
		tags, err := store.ApplyTags(r.Tags, set, del)
		if err != nil {
			return fmt.Errorf("secret %q: %w", name, err)
		}
		r.Tags = tags
		r.UpdatedAt = s.f.cfg.now().UTC().Truncate(time.Millisecond)
		return putRecord(tx, sk, r)
	})
}

// putRecord rewrites a record's current and history entries (same version).
func putRecord(tx *bbolt.Tx, sk string, r *sealed.Record) error {
	data, err := jsonMarshal(r)
	if err != nil {
		return err
	}
	b, err := spaceBucket(tx, bucketSecrets, sk, true)
	if err != nil {
		return err
	}
	if err := b.Put([]byte(r.Name), data); err != nil {
		return err
	}
	hs, err := spaceBucket(tx, bucketHistory, sk, true)
	if err != nil {
		return err
	}
	if hb := hs.Bucket([]byte(r.Name)); hb != nil && hb.Get(versionKey(r.Version)) != nil {
		return hb.Put(versionKey(r.Version), data)
	}
	return nil
}

// SetTags implements store.Store.
func (s *Store) SetTags(ctx context.Context, name string, tags map[string]string) error {
	return s.updateTags(name, tags, nil)
}

// DeleteTags implements store.Store.
func (s *Store) DeleteTags(ctx context.Context, name string, keys ...string) error {
	return s.updateTags(name, nil, keys)
}

// Sweep implements store.Sweeper: it removes every expired secret in every
// scope, with its history, in one transaction.
func (s *Store) Sweep(ctx context.Context) ([]store.Key, error) {
	var removed []store.Key
	now := s.f.cfg.now()
	err := s.f.update(func(tx *bbolt.Tx) error {
		removed = removed[:0]
		root := tx.Bucket(bucketSecrets)
		if root == nil {
			return nil
		}
		var doomed []store.Key
		err := root.ForEachBucket(func(sk []byte) error {
			scope, err := store.ParseScopeKey(string(sk))
			if err != nil {
				return err
			}
			return root.Bucket(sk).ForEach(func(k, v []byte) error {
				r, err := sealed.Parse(v)
				if err != nil {
					return fmt.Errorf("secret %q: %w", k, err)
				}
				if meta, err := r.Meta(); err == nil && meta.Expired(now) {
					doomed = append(doomed, store.Key{Scope: scope, Name: string(k)})
				}
				return nil
			})
		})
		if err != nil {
			return err
		}
		for _, k := range doomed {
			if err := deleteIn(tx, k.Scope.Key(), k.Name); err != nil {
				return err
			}
		}
		removed = doomed
		return nil
	})
	if err != nil {
		return nil, err
	}
	return removed, nil
}

// Rekey implements store.Rekeyer: every current and historical value not
// sealed under the keyring's primary key is re-encrypted, in one
// transaction (all or nothing).
func (s *Store) Rekey(ctx context.Context) (int, error) {
	n := 0
	err := s.f.update(func(tx *bbolt.Tx) error {
		n = 0
		reseal := func(b *bbolt.Bucket) error {
			type kv struct{ k, v []byte }
			var changed []kv
			err := b.ForEach(func(k, v []byte) error {
				if v == nil {
					return nil
				}
				r, err := sealed.Parse(v)
				if err != nil {
					return err
				}
				ok, err := r.Reseal(s.f.ring)
				if err != nil || !ok {
					return err
				}
				data, err := jsonMarshal(r)
				if err != nil {
					return err
				}
				changed = append(changed, kv{append([]byte(nil), k...), data})
				return nil
			})
			if err != nil {
				return err
			}
			for _, c := range changed {
				if err := b.Put(c.k, c.v); err != nil {
					return err
				}
			}
			n += len(changed)
			return nil
		}
		if root := tx.Bucket(bucketSecrets); root != nil {
			if err := root.ForEachBucket(func(sk []byte) error { return reseal(root.Bucket(sk)) }); err != nil {
				return err
			}
		}
		if root := tx.Bucket(bucketHistory); root != nil {
			return root.ForEachBucket(func(sk []byte) error {
				space := root.Bucket(sk)
				return space.ForEachBucket(func(name []byte) error { return reseal(space.Bucket(name)) })
			})
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// Close releases the store; later calls fail with ErrUnavailable. The file
// is not held open between operations, so Close only waits for none.
func (s *Store) Close() error {
	s.f.mu.Lock()
	defer s.f.mu.Unlock()
	s.f.closed = true
	return nil
}
