package runstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
	"github.com/tidwall/gjson"
	bolt "go.etcd.io/bbolt"
)

// TaskReader reads one task record of a run and the run's head, without
// the rest of the run: a caller that waits for one attempt to end (the
// engine's CompleteTaskStored) looks at what it needs, at a cost that does
// not grow with the run's other tasks, log or definition. Every backend
// implements it; a Store that does not (a wrapper) is read whole (Load).
//
// What it returns is what Load's document holds, as stored: the store is
// not trusted, and the caller checks that the record is the one it asked
// for (its seq and taskId members) before it believes it.
type TaskReader interface {
	// LoadTask returns copies of run id's head (a JSON object holding the
	// run's scalar members, "status" among them) and of its task record
	// seq (nil: the record has none at seq). archived (head and task nil)
	// says the store holds the run archived, not primary. A run it holds
	// neither way is ErrNotFound.
	LoadTask(ctx context.Context, id string, seq int) (head, task []byte, archived bool, err error)
}

var (
	_ TaskReader = (*Memory)(nil)
	_ TaskReader = (*Bolt)(nil)
	_ TaskReader = (*Redis)(nil)
)

// LoadTask implements TaskReader.
func (m *Memory) LoadTask(_ context.Context, id string, seq int) ([]byte, []byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.primary[id]; ok {
		if p.head == nil {
			return nil, nil, false, fmt.Errorf("run %s: run record has no head", id)
		}
		return clone(p.head), clone(p.tasks[seq]), false, nil
	}
	if _, ok := m.archive[id]; ok {
		return nil, nil, true, nil
	}
	return nil, nil, false, ErrNotFound
}

// LoadTask implements TaskReader: the head and task keys of the parts,
// with the run's journal entries applied over them, as Load applies them
// over every part.
func (b *Bolt) LoadTask(ctx context.Context, id string, seq int) (head, task []byte, archived bool, err error) {
	if err := checkID(id); err != nil {
		return nil, nil, false, err
	}
	base := func(tx *bolt.Tx, id string) (p parts, ok bool) {
		pb := tx.Bucket(bucketParts)
		prefix := runPrefix(id)
		if k, _ := pb.Cursor().Seek(prefix); k == nil || !bytes.HasPrefix(k, prefix) {
			return loadNested(tx, id)
		}
		p.head = pb.Get(partKey(id, tagHead))
		p.tasks = map[int][]byte{}
		if v := pb.Get(taskKey(id, seq)); v != nil {
			p.tasks[seq] = v
		}
		return p, true
	}
	err = b.view(ctx, func(tx *bolt.Tx) error {
		r, damaged, err := loadRecordFrom(tx, id, base)
		if damaged {
			b.foldDue.Store(true) // as Load
		}
		if err != nil {
			return fmt.Errorf("run store %s: %w", b.f.path, err)
		}
		if r.live {
			if r.p.head == nil {
				return fmt.Errorf("run %s: run record has no head", id)
			}
			// Copies: nothing of the mmap escapes the transaction.
			head, task = clone(r.p.head), clone(r.p.tasks[seq])
			return nil
		}
		if v := tx.Bucket(bucketLegacy).Get([]byte(id)); v != nil {
			head, task = wholeDocTask(v, seq)
			return nil
		}
		ab := tx.Bucket(bucketArchive)
		if ab.Bucket([]byte(id)) != nil || ab.Get([]byte(id)) != nil {
			archived = true
			return nil
		}
		return ErrNotFound
	})
	return head, task, archived, err
}

// LoadTask implements TaskReader: two fields of the run's hash, in one
// round trip with the archive's presence.
func (r *Redis) LoadTask(ctx context.Context, id string, seq int) ([]byte, []byte, bool, error) {
	var fields *redis.SliceCmd
	var arch *redis.IntCmd
	// One MULTI/EXEC: an Archive (or a Restore) between the two reads
	// must not make the run look neither primary nor archived.
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		fields = p.HMGet(ctx, r.key("p", id), "head", taskField(seq))
		arch = p.Exists(ctx, r.key("archive", id))
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, false, unavailable(err)
	}
	vals := fields.Val()
	if len(vals) == 2 {
		if h, ok := vals[0].(string); ok {
			t, _ := vals[1].(string)
			var task []byte
			if vals[1] != nil {
				task = []byte(t)
			}
			return []byte(h), task, false, nil
		}
	}
	// A run of the earlier layout (a whole document), as Load reads it
	// before the archive.
	if doc, err := r.c.Get(ctx, r.key("run", id)).Bytes(); err == nil {
		head, task := wholeDocTask(doc, seq)
		return head, task, false, nil
	} else if !errors.Is(err, redis.Nil) {
		return nil, nil, false, unavailable(err)
	}
	if arch.Val() > 0 {
		return nil, nil, true, nil
	}
	return nil, nil, false, ErrNotFound
}

// wholeDocTask is LoadTask's answer for a run stored whole (the earlier
// layout): the document itself stands for the head, and the task is its
// record with that seq.
func wholeDocTask(doc []byte, seq int) (head, task []byte) {
	head = clone(doc)
	if t := gjson.GetBytes(doc, `tasks.#(seq==`+strconv.Itoa(seq)+`)`); t.Exists() {
		task = []byte(t.Raw)
	}
	return head, task
}
