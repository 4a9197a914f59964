package runstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"
)

// TaskLogger keeps the execution logs workers post for a run's tasks
// (Conductor's task execution logs) beside the run: they hold across
// restarts and for every process sharing the store, and Delete removes
// them with the run. Entries are opaque to the store (the engine seals
// them, each bound to its sequence number); a run keeps its newest max
// entries.
type TaskLogger interface {
	// AppendTaskLogs appends n entries to run id's logs in one write and
	// drops its oldest entries beyond max. Entry i is what seal returns for
	// its sequence number: a run's entries are numbered from 0, one more
	// each, a number never given twice (the newest entry is always kept,
	// so the numbering goes on from it).
	AppendTaskLogs(ctx context.Context, id string, n int, seal func(seq uint64) ([]byte, error), max int) error
	// TaskLogs returns run id's log entries, oldest first.
	TaskLogs(ctx context.Context, id string) ([]TaskLogEntry, error)
	// RewriteTaskLogs replaces, in one write, each entry of run id for
	// which rewrite returns data (nil: unchanged); entries appended
	// meanwhile are not lost.
	RewriteTaskLogs(ctx context.Context, id string, rewrite func(TaskLogEntry) ([]byte, error)) error
}

// TaskLogEntry is one stored task log entry and its sequence number.
type TaskLogEntry struct {
	Seq  uint64
	Data []byte
}

// ErrDamagedTaskLog: a stored task log entry's key or framing is damaged.
var ErrDamagedTaskLog = errors.New("damaged task log entry")

var (
	_ TaskLogger = (*Memory)(nil)
	_ TaskLogger = (*Bolt)(nil)
	_ TaskLogger = (*Redis)(nil)
)

// sealEntries builds n entries numbered from next on.
func sealEntries(n int, next uint64, seal func(uint64) ([]byte, error)) ([]TaskLogEntry, error) {
	out := make([]TaskLogEntry, n)
	for i := range out {
		data, err := seal(next + uint64(i))
		if err != nil {
			return nil, err
		}
		out[i] = TaskLogEntry{Seq: next + uint64(i), Data: data}
	}
	return out, nil
}

// AppendTaskLogs implements TaskLogger.
func (m *Memory) AppendTaskLogs(_ context.Context, id string, n int, seal func(uint64) ([]byte, error), max int) error {
	if n <= 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.taskLogs == nil {
		m.taskLogs = map[string][]TaskLogEntry{}
	}
	list := m.taskLogs[id]
	var next uint64
	if len(list) > 0 {
		next = list[len(list)-1].Seq + 1
	}
	add, err := sealEntries(n, next, seal)
	if err != nil {
		return err
	}
	list = append(list, add...)
	if max > 0 && len(list) > max {
		list = append([]TaskLogEntry(nil), list[len(list)-max:]...)
	}
	m.taskLogs[id] = list
	return nil
}

// TaskLogs implements TaskLogger.
func (m *Memory) TaskLogs(_ context.Context, id string) ([]TaskLogEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]TaskLogEntry, 0, len(m.taskLogs[id]))
	for _, e := range m.taskLogs[id] {
		out = append(out, TaskLogEntry{Seq: e.Seq, Data: clone(e.Data)})
	}
	return out, nil
}

// RewriteTaskLogs implements TaskLogger.
func (m *Memory) RewriteTaskLogs(_ context.Context, id string, rewrite func(TaskLogEntry) ([]byte, error)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	list := append([]TaskLogEntry(nil), m.taskLogs[id]...)
	for i, e := range list {
		data, err := rewrite(TaskLogEntry{Seq: e.Seq, Data: clone(e.Data)})
		if err != nil {
			return err
		}
		if data != nil {
			list[i].Data = clone(data)
		}
	}
	if len(list) > 0 {
		m.taskLogs[id] = list
	}
	return nil
}

// bucketTaskLogs holds task logs: run id, 0, 8-byte big-endian sequence
// number in the run → entry.
var bucketTaskLogs = []byte("taskLogs")

// AppendTaskLogs implements TaskLogger.
func (b *Bolt) AppendTaskLogs(ctx context.Context, id string, n int, seal func(uint64) ([]byte, error), keep int) error {
	if n <= 0 {
		return nil
	}
	return b.update(ctx, "taskLog:"+id, true, n*256, func(tx *bolt.Tx) error {
		lb, err := tx.CreateBucketIfNotExists(bucketTaskLogs)
		if err != nil {
			return err
		}
		keys := taskLogKeys(lb, id)
		var next uint64
		if len(keys) > 0 {
			last := keys[len(keys)-1]
			if len(last) != len(id)+1+8 {
				return fmt.Errorf("run %s: %w: key of %d bytes", id, ErrDamagedTaskLog, len(last))
			}
			next = binary.BigEndian.Uint64(last[len(id)+1:]) + 1
		}
		add, err := sealEntries(n, next, seal)
		if err != nil {
			return err
		}
		for _, e := range add {
			if err := lb.Put(binary.BigEndian.AppendUint64(runPrefix(id), e.Seq), e.Data); err != nil {
				return err
			}
		}
		if keep <= 0 {
			return nil
		}
		total := len(keys) + len(add)
		for _, k := range keys[:max(0, min(len(keys), total-keep))] {
			if err := lb.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// TaskLogs implements TaskLogger.
func (b *Bolt) TaskLogs(ctx context.Context, id string) ([]TaskLogEntry, error) {
	var out []TaskLogEntry
	err := b.view(ctx, func(tx *bolt.Tx) error {
		lb := tx.Bucket(bucketTaskLogs)
		if lb == nil {
			return nil
		}
		prefix := runPrefix(id)
		c := lb.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(k) != len(prefix)+8 {
				return fmt.Errorf("run %s: %w: key of %d bytes", id, ErrDamagedTaskLog, len(k))
			}
			out = append(out, TaskLogEntry{Seq: binary.BigEndian.Uint64(k[len(prefix):]), Data: clone(v)})
		}
		return nil
	})
	return out, err
}

// RewriteTaskLogs implements TaskLogger.
func (b *Bolt) RewriteTaskLogs(ctx context.Context, id string, rewrite func(TaskLogEntry) ([]byte, error)) error {
	return b.update(ctx, "taskLog:"+id, true, 0, func(tx *bolt.Tx) error {
		lb := tx.Bucket(bucketTaskLogs)
		if lb == nil {
			return nil
		}
		prefix := runPrefix(id)
		type put struct{ k, v []byte }
		var puts []put
		c := lb.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			if len(k) != len(prefix)+8 {
				return fmt.Errorf("run %s: %w: key of %d bytes", id, ErrDamagedTaskLog, len(k))
			}
			data, err := rewrite(TaskLogEntry{Seq: binary.BigEndian.Uint64(k[len(prefix):]), Data: clone(v)})
			if err != nil {
				return err
			}
			if data != nil {
				puts = append(puts, put{clone(k), data})
			}
		}
		for _, p := range puts {
			if err := lb.Put(p.k, p.v); err != nil {
				return err
			}
		}
		return nil
	})
}

// taskLogKeys are the keys of run id's entries, oldest first.
func taskLogKeys(lb *bolt.Bucket, id string) [][]byte {
	prefix := runPrefix(id)
	var keys [][]byte
	c := lb.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		keys = append(keys, clone(k))
	}
	return keys
}

// deleteTaskLogs removes run id's task logs (Delete).
func deleteTaskLogs(tx *bolt.Tx, id string) error {
	lb := tx.Bucket(bucketTaskLogs)
	if lb == nil {
		return nil
	}
	for _, k := range taskLogKeys(lb, id) {
		if err := lb.Delete(k); err != nil {
			return err
		}
	}
	return nil
}

// A Redis list item is the 8-byte big-endian sequence number, then the
// entry. Appends and rewrites are optimistic transactions (WATCH, then
// MULTI/EXEC), tried again when another writer got in between.

const taskLogTries = 16

// errTaskLogBusy: the optimistic transaction kept losing to other writers.
var errTaskLogBusy = errors.New("task log: too many concurrent writers")

func splitTaskLogItem(id, s string) (TaskLogEntry, error) {
	if len(s) < 8 {
		return TaskLogEntry{}, fmt.Errorf("run %s: %w: item of %d bytes", id, ErrDamagedTaskLog, len(s))
	}
	return TaskLogEntry{Seq: binary.BigEndian.Uint64([]byte(s[:8])), Data: []byte(s[8:])}, nil
}

func taskLogItem(e TaskLogEntry) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(e.Data)), e.Seq), e.Data...)
}

// callerError is an error of the engine's seal or rewrite function,
// returned as it is (not as ErrUnavailable).
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }

// watched runs fn in an optimistic transaction on key. Damage and the
// caller's errors are returned as they are; Redis's as ErrUnavailable.
func (r *Redis) watched(ctx context.Context, key string, fn func(tx *redis.Tx) error) error {
	for range taskLogTries {
		err := r.c.Watch(ctx, fn, key)
		var ce callerError
		switch {
		case errors.As(err, &ce):
			return ce.err
		case errors.Is(err, ErrDamagedTaskLog):
			return err
		case errors.Is(err, redis.TxFailedErr):
			continue
		}
		return unavailable(err)
	}
	return errTaskLogBusy
}

// AppendTaskLogs implements TaskLogger.
func (r *Redis) AppendTaskLogs(ctx context.Context, id string, n int, seal func(uint64) ([]byte, error), max int) error {
	if n <= 0 {
		return nil
	}
	key := r.key("taskLogs", id)
	return r.watched(ctx, key, func(tx *redis.Tx) error {
		var next uint64
		last, err := tx.LIndex(ctx, key, -1).Result()
		switch {
		case errors.Is(err, redis.Nil):
		case err != nil:
			return err
		default:
			e, err := splitTaskLogItem(id, last)
			if err != nil {
				return err
			}
			next = e.Seq + 1
		}
		add, err := sealEntries(n, next, seal)
		if err != nil {
			return callerError{err}
		}
		items := make([]any, len(add))
		for i, e := range add {
			items[i] = taskLogItem(e)
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.RPush(ctx, key, items...)
			if max > 0 {
				p.LTrim(ctx, key, int64(-max), -1)
			}
			return nil
		})
		return err
	})
}

// TaskLogs implements TaskLogger.
func (r *Redis) TaskLogs(ctx context.Context, id string) ([]TaskLogEntry, error) {
	list, err := r.c.LRange(ctx, r.key("taskLogs", id), 0, -1).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([]TaskLogEntry, len(list))
	for i, s := range list {
		if out[i], err = splitTaskLogItem(id, s); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RewriteTaskLogs implements TaskLogger.
func (r *Redis) RewriteTaskLogs(ctx context.Context, id string, rewrite func(TaskLogEntry) ([]byte, error)) error {
	key := r.key("taskLogs", id)
	return r.watched(ctx, key, func(tx *redis.Tx) error {
		list, err := tx.LRange(ctx, key, 0, -1).Result()
		if err != nil {
			return err
		}
		type set struct {
			i    int64
			item []byte
		}
		var sets []set
		for i, s := range list {
			e, err := splitTaskLogItem(id, s)
			if err != nil {
				return err
			}
			data, err := rewrite(e)
			if err != nil {
				return callerError{err}
			}
			if data != nil {
				sets = append(sets, set{int64(i), taskLogItem(TaskLogEntry{Seq: e.Seq, Data: data})})
			}
		}
		if len(sets) == 0 {
			return nil
		}
		_, err = tx.TxPipelined(ctx, func(p redis.Pipeliner) error {
			for _, s := range sets {
				p.LSet(ctx, key, s.i, s.item)
			}
			return nil
		})
		return err
	})
}
