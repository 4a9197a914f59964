package runstore

import (
	"bytes"
	"context"
	"encoding/binary"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"
)

// TaskLogger keeps the execution logs workers post for a run's tasks
// (Conductor's task execution logs) beside the run: they hold across
// restarts and for every process sharing the store, and Delete removes
// them with the run. Entries are opaque to the store (the engine seals
// them); a run keeps its newest max entries.
type TaskLogger interface {
	// AppendTaskLog appends entry to run id's logs and drops its oldest
	// entries beyond max.
	AppendTaskLog(ctx context.Context, id string, entry []byte, max int) error
	// TaskLogs returns run id's log entries, oldest first.
	TaskLogs(ctx context.Context, id string) ([][]byte, error)
}

var (
	_ TaskLogger = (*Memory)(nil)
	_ TaskLogger = (*Bolt)(nil)
	_ TaskLogger = (*Redis)(nil)
)

// AppendTaskLog implements TaskLogger.
func (m *Memory) AppendTaskLog(_ context.Context, id string, entry []byte, max int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.taskLogs == nil {
		m.taskLogs = map[string][][]byte{}
	}
	list := append(m.taskLogs[id], clone(entry))
	if max > 0 && len(list) > max {
		list = append([][]byte(nil), list[len(list)-max:]...)
	}
	m.taskLogs[id] = list
	return nil
}

// TaskLogs implements TaskLogger.
func (m *Memory) TaskLogs(_ context.Context, id string) ([][]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([][]byte, 0, len(m.taskLogs[id]))
	for _, e := range m.taskLogs[id] {
		out = append(out, clone(e))
	}
	return out, nil
}

// bucketTaskLogs holds task logs: run id, 0, 8-byte big-endian sequence → entry.
var bucketTaskLogs = []byte("taskLogs")

// AppendTaskLog implements TaskLogger.
func (b *Bolt) AppendTaskLog(ctx context.Context, id string, entry []byte, keep int) error {
	return b.update(ctx, "taskLog:"+id, true, len(entry), func(tx *bolt.Tx) error {
		lb, err := tx.CreateBucketIfNotExists(bucketTaskLogs)
		if err != nil {
			return err
		}
		seq, err := lb.NextSequence()
		if err != nil {
			return err
		}
		key := binary.BigEndian.AppendUint64(runPrefix(id), seq)
		if err := lb.Put(key, entry); err != nil {
			return err
		}
		if keep <= 0 {
			return nil
		}
		keys := taskLogKeys(lb, id)
		for _, k := range keys[:max(0, len(keys)-keep)] {
			if err := lb.Delete(k); err != nil {
				return err
			}
		}
		return nil
	})
}

// TaskLogs implements TaskLogger.
func (b *Bolt) TaskLogs(ctx context.Context, id string) ([][]byte, error) {
	var out [][]byte
	err := b.view(ctx, func(tx *bolt.Tx) error {
		lb := tx.Bucket(bucketTaskLogs)
		if lb == nil {
			return nil
		}
		prefix := runPrefix(id)
		c := lb.Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
			out = append(out, clone(v))
		}
		return nil
	})
	return out, err
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

// AppendTaskLog implements TaskLogger (RPUSH and LTRIM in one MULTI/EXEC).
func (r *Redis) AppendTaskLog(ctx context.Context, id string, entry []byte, max int) error {
	key := r.key("taskLogs", id)
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.RPush(ctx, key, entry)
		if max > 0 {
			p.LTrim(ctx, key, int64(-max), -1)
		}
		return nil
	})
	return unavailable(err)
}

// TaskLogs implements TaskLogger.
func (r *Redis) TaskLogs(ctx context.Context, id string) ([][]byte, error) {
	list, err := r.c.LRange(ctx, r.key("taskLogs", id), 0, -1).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	out := make([][]byte, len(list))
	for i, s := range list {
		out[i] = []byte(s)
	}
	return out, nil
}
