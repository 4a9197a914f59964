package runstore

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"
)

// UpdateTimeBackfiller is a Store that can record, in a run's index entry
// written before index entries kept updateTime (it reads 0), the
// updateTime derived for the run from its document, so that later
// searches read it from the index instead of loading the run. The entry
// is changed only while it still reads 0, atomically with that check: a
// write of the run since (which records its own updateTime) is never
// overwritten. A run without an entry is left alone.
type UpdateTimeBackfiller interface {
	BackfillUpdateTime(ctx context.Context, id string, updateTime int64) error
}

var (
	_ UpdateTimeBackfiller = (*Memory)(nil)
	_ UpdateTimeBackfiller = (*Bolt)(nil)
	_ UpdateTimeBackfiller = (*Redis)(nil)
)

// BackfillUpdateTime implements UpdateTimeBackfiller.
func (m *Memory) BackfillUpdateTime(_ context.Context, id string, updateTime int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if s, ok := m.sums[id]; ok && s.UpdateTime == 0 {
		s.UpdateTime = updateTime
		m.sums[id] = s
	}
	return nil
}

// BackfillUpdateTime implements UpdateTimeBackfiller: the entry of the
// index bucket, which List reads for an archived run, a run of the legacy
// layout and a primary record of the nested layout (a bucket per run,
// its summary in the index); a primary record of the current layout has
// its summary among its parts (or its journal entries), which List reads
// instead and its writes keep.
func (b *Bolt) BackfillUpdateTime(ctx context.Context, id string, updateTime int64) error {
	if err := checkID(id); err != nil {
		return err
	}
	return b.update(ctx, id, true, 0, func(tx *bolt.Tx) error {
		if r, _, err := loadRecord(tx, id); err != nil || (r.live && r.p.summary != nil) {
			return nil
		}
		ix := tx.Bucket(bucketIndex)
		s, ok := olderEntry(id, ix.Get([]byte(id)))
		if !ok {
			return nil
		}
		s.UpdateTime = updateTime
		js, err := encodeSummary(id, s, s.Archived)
		if err != nil {
			return err
		}
		return ix.Put([]byte(id), js)
	})
}

// backfillScript replaces an index entry only while it is the one read.
var backfillScript = redis.NewScript(`
if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
return 1`)

// BackfillUpdateTime implements UpdateTimeBackfiller.
func (r *Redis) BackfillUpdateTime(ctx context.Context, id string, updateTime int64) error {
	old, err := r.c.HGet(ctx, r.indexKey(), id).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil
	}
	if err != nil {
		return unavailable(err)
	}
	s, ok := olderEntry(id, old)
	if !ok {
		return nil
	}
	s.UpdateTime = updateTime
	js, err := encodeSummary(id, s, s.Archived)
	if err != nil {
		return err
	}
	return unavailable(backfillScript.Run(ctx, r.c, []string{r.indexKey()}, id, old, js).Err())
}

// olderEntry decodes raw, run id's index entry, when it is one without
// updateTime.
func olderEntry(id string, raw []byte) (Summary, bool) {
	var s Summary
	if raw == nil || json.Unmarshal(raw, &s) != nil || s.ID != id || s.UpdateTime != 0 {
		return Summary{}, false
	}
	return s, true
}
