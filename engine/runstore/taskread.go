package runstore

import (
	"bytes"
	"context"
	"encoding/binary"
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

// RefReader reads the task record a reference name names now, through
// the run's reference index (the entries Change.Refs sets), with the
// run's head and without the rest of the run: an answer to a task by its
// reference (Conductor's update by reference name) costs the same in a
// run of ten tasks or of thousands. The index is what the writer said it
// is, stored as untrusted as the rest: the caller checks the record
// (its reference, its seal) before it believes it, and reads the run
// whole when the index names none.
type RefReader interface {
	// LoadTaskRef is LoadTask for the record the reference index names
	// for ref: task is nil when it names none, or a record the run no
	// longer holds.
	LoadTaskRef(ctx context.Context, id, ref string) (head, task []byte, archived bool, err error)
}

var (
	_ TaskReader = (*Memory)(nil)
	_ TaskReader = (*Bolt)(nil)
	_ TaskReader = (*Redis)(nil)
	_ RefReader  = (*Memory)(nil)
	_ RefReader  = (*Bolt)(nil)
	_ RefReader  = (*Redis)(nil)
)

// refValue and refSeq encode and decode a bolt reference index entry's
// value: the seq, 8 bytes big-endian (0 for a value that is not).
func refValue(seq int) []byte { return binary.BigEndian.AppendUint64(nil, uint64(seq)) }

func refSeq(v []byte) int {
	if len(v) != 8 {
		return 0
	}
	n := binary.BigEndian.Uint64(v)
	if n > 1<<62 {
		return 0
	}
	return int(n)
}

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

// LoadTaskRef implements RefReader.
func (m *Memory) LoadTaskRef(_ context.Context, id, ref string) ([]byte, []byte, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p, ok := m.primary[id]; ok {
		if p.head == nil {
			return nil, nil, false, fmt.Errorf("run %s: run record has no head", id)
		}
		var task []byte
		if seq := p.refs[ref]; seq > 0 {
			task = clone(p.tasks[seq])
		}
		return clone(p.head), task, false, nil
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
	err = b.view(ctx, func(tx *bolt.Tx) error {
		head, task, archived, err = b.taskTx(tx, id, seq)
		return err
	})
	return head, task, archived, err
}

// LoadTaskRef implements RefReader: the reference index entry of the
// parts with the run's journal entries applied over it, then LoadTask's
// read of the record it names, in one transaction.
func (b *Bolt) LoadTaskRef(ctx context.Context, id, ref string) (head, task []byte, archived bool, err error) {
	if err := checkID(id); err != nil {
		return nil, nil, false, err
	}
	err = b.view(ctx, func(tx *bolt.Tx) error {
		base := func(tx *bolt.Tx, id string) (p parts, ok bool) {
			pb := tx.Bucket(bucketParts)
			prefix := runPrefix(id)
			if k, _ := pb.Cursor().Seek(prefix); k == nil || !bytes.HasPrefix(k, prefix) {
				return loadNested(tx, id)
			}
			if v := pb.Get(refKey(id, ref)); v != nil {
				p.refs = map[string]int{ref: refSeq(v)}
			}
			return p, true
		}
		r, damaged, err := loadRecordFrom(tx, id, base)
		if damaged {
			b.foldDue.Store(true) // as Load
		}
		if err != nil {
			return fmt.Errorf("run store %s: %w", b.f.path, err)
		}
		seq := 0
		if r.live {
			seq = r.p.refs[ref]
		}
		head, task, archived, err = b.taskTx(tx, id, seq)
		if seq <= 0 {
			task = nil
		}
		return err
	})
	return head, task, archived, err
}

// taskTx is LoadTask's read in tx.
func (b *Bolt) taskTx(tx *bolt.Tx, id string, seq int) (head, task []byte, archived bool, err error) {
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
	r, damaged, err := loadRecordFrom(tx, id, base)
	if damaged {
		b.foldDue.Store(true) // as Load
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("run store %s: %w", b.f.path, err)
	}
	if r.live {
		if r.p.head == nil {
			return nil, nil, false, fmt.Errorf("run %s: run record has no head", id)
		}
		// Copies: nothing of the mmap escapes the transaction.
		return clone(r.p.head), clone(r.p.tasks[seq]), false, nil
	}
	if v := tx.Bucket(bucketLegacy).Get([]byte(id)); v != nil {
		head, task = wholeDocTask(v, seq)
		return head, task, false, nil
	}
	ab := tx.Bucket(bucketArchive)
	if ab.Bucket([]byte(id)) != nil || ab.Get([]byte(id)) != nil {
		return nil, nil, true, nil
	}
	return nil, nil, false, ErrNotFound
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

// LoadTaskRef implements RefReader: the index entry, then LoadTask's read
// of the record it names (a change between the two is the caller's to
// notice: the record it reads is checked before it is believed).
func (r *Redis) LoadTaskRef(ctx context.Context, id, ref string) ([]byte, []byte, bool, error) {
	seq := 0
	v, err := r.c.HGet(ctx, r.key("p", id), refField(ref)).Result()
	switch {
	case err == nil:
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			seq = n
		}
	case !errors.Is(err, redis.Nil):
		return nil, nil, false, unavailable(err)
	}
	head, task, archived, err := r.LoadTask(ctx, id, seq)
	if seq == 0 {
		task = nil
	}
	return head, task, archived, err
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
