package runstore

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/wfrun/wfrun/internal/boltfile"
)

var (
	bucketPrimary = []byte("primary")
	bucketDefs    = []byte("definitions")
	bucketArchive = []byte("archive")
	bucketIndex   = []byte("index")
	bucketSignals = []byte("signals")
	bucketLeases  = []byte("leases")
	// bucketLegacy holds whole run documents written by earlier versions;
	// they are read as they are and dropped when the run is next written.
	bucketLegacy = []byte("runs")

	allBuckets = [][]byte{bucketPrimary, bucketDefs, bucketArchive, bucketIndex, bucketSignals, bucketLeases, bucketLegacy}

	keyHead, keyInput, keyOutput, keyVariables, keyDef = []byte("head"), []byte("input"), []byte("output"), []byte("variables"), []byte("def")
)

// Bolt is a Store over one bbolt file. The file stays open while this
// process uses it and is handed over to another process that asks for it
// (see boltFile); concurrent writers in this process share transactions
// (group commit).
type Bolt struct {
	f       boltFile
	gc      groupCommit
	commits atomic.Int64
	bytes   atomic.Int64
}

var _ Store = (*Bolt)(nil)

// BoltOption configures OpenBolt.
type BoltOption func(*Bolt)

// WithLockTimeout sets how long an operation waits for the file held by
// another process (default 10s).
func WithLockTimeout(d time.Duration) BoltOption { return func(b *Bolt) { b.f.timeout = d } }

// WithIdleRelease sets after how long without operations the file is
// closed, letting other processes in without asking (default 100ms).
func WithIdleRelease(d time.Duration) BoltOption { return func(b *Bolt) { b.f.idle = d } }

// OpenBolt returns a Store over the bbolt file at path, creating the file and
// its buckets if needed (directory 0700, file 0600).
func OpenBolt(path string, opts ...BoltOption) (*Bolt, error) {
	b := &Bolt{f: boltFile{path: path, wantPath: path + ".want", timeout: 10 * time.Second, idle: 100 * time.Millisecond}}
	for _, o := range opts {
		o(b)
	}
	b.f.onOpen = ensureBuckets
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("run store %s: %w", path, err)
	}
	if err := b.f.with(context.Background(), func(*bolt.DB) error { return nil }); err != nil {
		return nil, err
	}
	return b, nil
}

func ensureBuckets(db *bolt.DB) error {
	missing := false
	_ = db.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				missing = true
			}
		}
		return nil
	})
	if !missing {
		return nil
	}
	return db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		return nil
	})
}

// Path returns the file the store uses.
func (b *Bolt) Path() string { return b.f.path }

// Stats implements StatsReporter.
func (b *Bolt) Stats() Stats { return Stats{Commits: b.commits.Load(), Bytes: b.bytes.Load()} }

func (b *Bolt) runBatch(ctx context.Context) func([]*commitReq) {
	return func(batch []*commitReq) {
		err := b.f.with(ctx, func(db *bolt.DB) error {
			return boltfile.Update(db, func(tx *bolt.Tx) error {
				for _, r := range batch {
					if err := r.fn(tx); err != nil {
						return err
					}
				}
				return nil
			})
		})
		if err == nil || len(batch) == 1 {
			if err == nil {
				b.commits.Add(1)
				for _, r := range batch {
					b.bytes.Add(int64(r.size))
				}
			}
			for _, r := range batch {
				r.done <- err
			}
			return
		}
		// One change failed the shared transaction: each alone, so only
		// the failing one fails.
		for _, r := range batch {
			err := b.f.with(ctx, func(db *bolt.DB) error { return boltfile.Update(db, r.fn) })
			if err == nil {
				b.commits.Add(1)
				b.bytes.Add(int64(r.size))
			}
			r.done <- err
		}
	}
}

// update runs fn in a write transaction shared with concurrent callers. A
// cancelled ctx does not interrupt a commit that has started.
func (b *Bolt) update(ctx context.Context, size int, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return b.gc.do(b.runBatch(context.WithoutCancel(ctx)), fn, size)
}

func (b *Bolt) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	return b.f.with(ctx, func(db *bolt.DB) error { return boltfile.View(db, fn) })
}

func putSummary(tx *bolt.Tx, sum Summary) error {
	sum.Lease = nil
	js, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketIndex).Put([]byte(sum.ID), js)
}

func taskKey(seq int) []byte {
	k := make([]byte, 9)
	k[0] = 't'
	binary.BigEndian.PutUint64(k[1:], uint64(seq))
	return k
}

func applyBolt(tx *bolt.Tx, id string, ch *Change) error {
	if ch.Lease != nil {
		if err := putLease(tx, id, *ch.Lease, ch.LeaseTTL); err != nil {
			return err
		}
	}
	pb, err := tx.Bucket(bucketPrimary).CreateBucketIfNotExists([]byte(id))
	if err != nil {
		return err
	}
	for _, kv := range []struct {
		k, v []byte
	}{{keyHead, ch.Head}, {keyInput, ch.Input}, {keyOutput, ch.Output}, {keyVariables, ch.Variables}} {
		if kv.v != nil {
			if err := pb.Put(kv.k, kv.v); err != nil {
				return err
			}
		}
	}
	for _, t := range ch.Tasks {
		if err := pb.Put(taskKey(t.Seq), t.Doc); err != nil {
			return err
		}
	}
	for _, seq := range ch.DeleteTasks {
		if err := pb.Delete(taskKey(seq)); err != nil {
			return err
		}
	}
	if ch.DefinitionHash != "" {
		if err := pb.Put(keyDef, []byte(ch.DefinitionHash)); err != nil {
			return err
		}
		defs := tx.Bucket(bucketDefs)
		if defs.Get([]byte(ch.DefinitionHash)) == nil && ch.Definition != nil {
			if err := defs.Put([]byte(ch.DefinitionHash), ch.Definition); err != nil {
				return err
			}
		}
		if err := tx.Bucket(bucketLegacy).Delete([]byte(id)); err != nil {
			return err
		}
	}
	sum := ch.Summary
	sum.ID, sum.Archived = id, false
	return putSummary(tx, sum)
}

// Commit implements Store.
func (b *Bolt) Commit(ctx context.Context, id string, ch *Change) error {
	return b.update(ctx, ch.Size(), func(tx *bolt.Tx) error { return applyBolt(tx, id, ch) })
}

// Load implements Store.
func (b *Bolt) Load(ctx context.Context, id string) ([]byte, bool, error) {
	var doc []byte
	var archived bool
	err := b.view(ctx, func(tx *bolt.Tx) error {
		if pb := tx.Bucket(bucketPrimary).Bucket([]byte(id)); pb != nil {
			p := parts{tasks: map[int][]byte{}}
			err := pb.ForEach(func(k, v []byte) error {
				switch {
				case len(k) == 9 && k[0] == 't':
					p.tasks[int(binary.BigEndian.Uint64(k[1:]))] = v
				case string(k) == "head":
					p.head = v
				case string(k) == "input":
					p.input = v
				case string(k) == "output":
					p.output = v
				case string(k) == "variables":
					p.variables = v
				case string(k) == "def":
					p.defHash = string(v)
				}
				return nil
			})
			if err != nil {
				return err
			}
			// Assemble copies: nothing of the mmap escapes the transaction.
			doc, err = p.assemble(tx.Bucket(bucketDefs).Get([]byte(p.defHash)))
			if err != nil {
				return fmt.Errorf("run %s: %w", id, err)
			}
			return nil
		}
		if v := tx.Bucket(bucketLegacy).Get([]byte(id)); v != nil {
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
		leases := tx.Bucket(bucketLeases)
		return tx.Bucket(bucketIndex).ForEach(func(k, v []byte) error {
			var s Summary
			if err := json.Unmarshal(v, &s); err != nil {
				return nil // a damaged index entry must not hide the others
			}
			if l, ok := decodeLease(leases.Get(k)); ok {
				s.Lease = &l
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

func deletePrimary(tx *bolt.Tx, id string) error {
	if tx.Bucket(bucketPrimary).Bucket([]byte(id)) != nil {
		if err := tx.Bucket(bucketPrimary).DeleteBucket([]byte(id)); err != nil {
			return err
		}
	}
	return tx.Bucket(bucketLegacy).Delete([]byte(id))
}

// Archive implements Store: one bbolt transaction writes the archive and
// deletes the primary record, its signals and its lease.
func (b *Bolt) Archive(ctx context.Context, id string, archived []byte, sum Summary) error {
	sum.ID, sum.Archived = id, true
	return b.update(ctx, len(archived), func(tx *bolt.Tx) error {
		if err := tx.Bucket(bucketArchive).Put([]byte(id), archived); err != nil {
			return err
		}
		if err := deletePrimary(tx, id); err != nil {
			return err
		}
		if err := deleteSignals(tx, id); err != nil {
			return err
		}
		if err := tx.Bucket(bucketLeases).Delete([]byte(id)); err != nil {
			return err
		}
		return putSummary(tx, sum)
	})
}

// Restore implements Store.
func (b *Bolt) Restore(ctx context.Context, id string, ch *Change) error {
	return b.update(ctx, ch.Size(), func(tx *bolt.Tx) error {
		if err := deletePrimary(tx, id); err != nil {
			return err
		}
		if err := tx.Bucket(bucketArchive).Delete([]byte(id)); err != nil {
			return err
		}
		return applyBolt(tx, id, ch)
	})
}

// Delete implements Store.
func (b *Bolt) Delete(ctx context.Context, id string) error {
	return b.update(ctx, 0, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketPrimary).Bucket([]byte(id)) != nil || tx.Bucket(bucketLegacy).Get([]byte(id)) != nil {
			return ErrNotEnded
		}
		if tx.Bucket(bucketArchive).Get([]byte(id)) == nil {
			return ErrNotFound
		}
		for _, name := range [][]byte{bucketArchive, bucketIndex, bucketLeases} {
			if err := tx.Bucket(name).Delete([]byte(id)); err != nil {
				return err
			}
		}
		return deleteSignals(tx, id)
	})
}

func signalKey(id, key string) []byte { return []byte(id + "\x00" + key) }

// PutSignal implements Store.
func (b *Bolt) PutSignal(ctx context.Context, id, key string, payload []byte) error {
	return b.update(ctx, len(payload), func(tx *bolt.Tx) error {
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
	// Peek in a read transaction first: polling runners must not queue
	// write transactions when there is nothing to take.
	prefix := id + "\x00"
	err := b.view(ctx, func(tx *bolt.Tx) error {
		k, _ := tx.Bucket(bucketSignals).Cursor().Seek([]byte(prefix))
		if k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == prefix {
			out = map[string][]byte{}
		}
		return nil
	})
	if err != nil || out == nil {
		return nil, err
	}
	err = b.update(ctx, 0, func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketSignals).Cursor()
		for k, v := c.Seek([]byte(prefix)); k != nil && len(k) >= len(prefix) && string(k[:len(prefix)]) == prefix; k, v = c.Next() {
			out[string(k[len(prefix):])] = clone(v)
		}
		return deleteSignals(tx, id)
	})
	return out, err
}

// AcquireLease implements Leaser.
func (b *Bolt) AcquireLease(ctx context.Context, id string, l Lease, ttl time.Duration) error {
	return b.update(ctx, 0, func(tx *bolt.Tx) error { return putLease(tx, id, l, ttl) })
}

func putLease(tx *bolt.Tx, id string, l Lease, ttl time.Duration) error {
	lb := tx.Bucket(bucketLeases)
	cur, has := decodeLease(lb.Get([]byte(id)))
	nl, err := grant(id, cur, has, l, ttl, time.Now())
	if err != nil {
		return err
	}
	js, err := json.Marshal(nl)
	if err != nil {
		return err
	}
	return lb.Put([]byte(id), js)
}

// ReleaseLease implements Leaser.
func (b *Bolt) ReleaseLease(ctx context.Context, id, owner string) error {
	return b.update(ctx, 0, func(tx *bolt.Tx) error {
		lb := tx.Bucket(bucketLeases)
		if cur, ok := decodeLease(lb.Get([]byte(id))); ok && cur.Owner == owner {
			return lb.Delete([]byte(id))
		}
		return nil
	})
}

// GetLease implements Leaser.
func (b *Bolt) GetLease(ctx context.Context, id string) (Lease, bool, error) {
	var l Lease
	var ok bool
	err := b.view(ctx, func(tx *bolt.Tx) error {
		l, ok = decodeLease(tx.Bucket(bucketLeases).Get([]byte(id)))
		return nil
	})
	return l, ok, err
}

// Close implements Store: the file is closed and its lock released.
func (b *Bolt) Close() error { return b.f.close() }
