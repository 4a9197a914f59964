package runstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/wfrun/wfrun/internal/boltfile"
)

// boltFile keeps one bbolt file open for as long as this process uses it
// and hands it over when another process wants it.
//
// bbolt holds an exclusive flock for as long as a DB is open. Opening the
// file for every operation (a flock, an mmap and two meta page reads each
// time) cost more than the transaction itself, so the file stays open while
// operations keep coming. Another process that finds the file locked says
// so by touching PATH.want and polls; the holder checks that file's mtime
// after each operation and closes the file when it changed, then stays off
// it for a moment so the waiter gets in. A holder also closes the file after
// idle without operations. The flock is therefore held per process only
// while needed, and several wfrun processes share runs.db.
type boltFile struct {
	path, wantPath string
	timeout        time.Duration
	idle           time.Duration
	onOpen         func(*bolt.DB) error

	rw       sync.RWMutex // shared by operations using db, exclusive to open/close
	db       *bolt.DB
	wantSeen time.Time
	backoff  time.Time
	closed   bool
	lastUse  atomic.Int64
	timer    *time.Timer
	// epoch changes when the file is opened after another process wrote
	// it (or first opened): what this process keeps of the file in
	// memory (boltTags) holds within one epoch. lastTx is the file's
	// last transaction when this process closed it (seen: it did).
	// Changed only with rw held exclusively.
	epoch  uint64
	lastTx int
	seen   bool
}

// handOver is how long a holder that gave the file up stays off it.
const handOver = 20 * time.Millisecond

// pollEvery is how often a waiter retries the lock.
const pollEvery = 2 * time.Millisecond

func (f *boltFile) wantMtime() time.Time {
	st, err := os.Stat(f.wantPath)
	if err != nil {
		return time.Time{}
	}
	return st.ModTime()
}

// want tells the holder of the file that this process waits for it.
func (f *boltFile) want() {
	now := time.Now()
	if err := os.Chtimes(f.wantPath, now, now); err != nil {
		if wf, err := os.OpenFile(f.wantPath, os.O_CREATE|os.O_WRONLY, 0o600); err == nil {
			_ = wf.Close()
			_ = os.Chtimes(f.wantPath, now, now)
		}
	}
}

// with runs fn with the open database, opening it first when needed.
func (f *boltFile) with(ctx context.Context, fn func(*bolt.DB) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for {
		f.rw.RLock()
		if db := f.db; db != nil {
			err := fn(db)
			f.rw.RUnlock()
			f.used()
			return err
		}
		closed := f.closed
		f.rw.RUnlock()
		if closed {
			return fmt.Errorf("%w: %s: store closed", ErrUnavailable, f.path)
		}
		if err := f.open(ctx); err != nil {
			return err
		}
	}
}

func (f *boltFile) open(ctx context.Context) error {
	f.rw.Lock()
	defer f.rw.Unlock()
	if f.db != nil || f.closed {
		return nil
	}
	if wait := time.Until(f.backoff); wait > 0 {
		time.Sleep(wait)
	}
	deadline := time.Now().Add(f.timeout)
	for {
		// A timeout below bbolt's own retry period makes Open try the lock
		// once; this loop polls faster and announces the wait.
		db, err := boltfile.Open(f.path, &bolt.Options{Timeout: time.Millisecond})
		if errors.Is(err, boltfile.ErrDamaged) {
			return err
		}
		if err == nil {
			if f.onOpen != nil {
				if err := f.onOpen(db); err != nil {
					_ = db.Close()
					return fmt.Errorf("%w: %s: %v", ErrUnavailable, f.path, err)
				}
			}
			if tx := lastTx(db); !f.seen || tx != f.lastTx {
				f.epoch++
			}
			f.db = db
			f.wantSeen = f.wantMtime()
			f.lastUse.Store(time.Now().UnixNano())
			if f.timer == nil {
				f.timer = time.AfterFunc(f.checkPeriod(), f.idleCheck)
			} else {
				f.timer.Reset(f.checkPeriod())
			}
			return nil
		}
		if !errors.Is(err, bolt.ErrTimeout) {
			return fmt.Errorf("%w: open %s: %v", ErrUnavailable, f.path, err)
		}
		f.want()
		if time.Now().After(deadline) {
			return fmt.Errorf("%w: %s is locked by another process (waited %s)", ErrUnavailable, f.path, f.timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// used runs after each operation: hand the file over when another process
// asked for it.
func (f *boltFile) used() {
	f.lastUse.Store(time.Now().UnixNano())
	if m := f.wantMtime(); !m.IsZero() {
		f.rw.RLock()
		asked := f.db != nil && !m.Equal(f.wantSeen)
		f.rw.RUnlock()
		if asked {
			f.release(true)
		}
	}
}

// checkPeriod is how often an open file is checked for idleness and for
// another process asking for it (a holder that is not using the file
// must notice too).
func (f *boltFile) checkPeriod() time.Duration {
	return min(f.idle, 20*time.Millisecond)
}

func (f *boltFile) idleCheck() {
	since := time.Duration(time.Now().UnixNano() - f.lastUse.Load())
	f.rw.RLock()
	asked := f.db != nil && !f.wantMtime().Equal(f.wantSeen)
	f.rw.RUnlock()
	if since >= f.idle || asked {
		f.release(asked)
		return
	}
	f.rw.Lock()
	if f.db != nil && f.timer != nil {
		f.timer.Reset(f.checkPeriod())
	}
	f.rw.Unlock()
}

func (f *boltFile) release(handover bool) {
	f.rw.Lock()
	defer f.rw.Unlock()
	if f.db == nil {
		return
	}
	f.lastTx, f.seen = lastTx(f.db), true
	_ = f.db.Close()
	f.db = nil
	if handover {
		f.backoff = time.Now().Add(handOver)
	}
}

func (f *boltFile) close() error {
	f.rw.Lock()
	defer f.rw.Unlock()
	f.closed = true
	if f.timer != nil {
		f.timer.Stop()
	}
	if f.db == nil {
		return nil
	}
	err := f.db.Close()
	f.db = nil
	return err
}

// lastTx is the id of db's last committed transaction (bbolt counts them
// in its meta page: a write by any process moves it).
func lastTx(db *bolt.DB) int {
	id := -1
	_ = db.View(func(tx *bolt.Tx) error {
		id = tx.ID()
		return nil
	})
	return id
}
