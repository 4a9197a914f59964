package runstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"
)

// SummaryReader is a Store that answers one run's Summary without
// assembling its document: a caller polling a run's status (a run awaited
// while another process executes it) reads a few hundred bytes, not the
// whole run. ErrNotFound when the store keeps no summary of the run (a run
// stored by an earlier wfrun: Load has it).
type SummaryReader interface {
	Summary(ctx context.Context, id string) (Summary, error)
}

var (
	_ SummaryReader = (*Memory)(nil)
	_ SummaryReader = (*Bolt)(nil)
	_ SummaryReader = (*Redis)(nil)
)

// Summary implements SummaryReader.
func (m *Memory) Summary(_ context.Context, id string) (Summary, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.sums[id]
	if !ok {
		return Summary{}, fmt.Errorf("run %s: %w", id, ErrNotFound)
	}
	return s, nil
}

// Summary implements SummaryReader.
func (b *Bolt) Summary(ctx context.Context, id string) (Summary, error) {
	if err := checkID(id); err != nil {
		return Summary{}, err
	}
	var raw []byte
	err := b.view(ctx, func(tx *bolt.Tx) error {
		r, _, err := loadRecord(tx, id)
		if err != nil {
			return fmt.Errorf("run store %s: %w", b.f.path, err)
		}
		if r.live {
			raw = r.p.summary
			if raw == nil {
				raw = tx.Bucket(bucketParts).Get(partKey(id, tagSummary))
			}
			raw = clone(raw)
		} else {
			raw = clone(tx.Bucket(bucketIndex).Get([]byte(id)))
		}
		return nil
	})
	if err != nil {
		return Summary{}, err
	}
	return decodeSummary(id, raw)
}

// Summary implements SummaryReader.
func (r *Redis) Summary(ctx context.Context, id string) (Summary, error) {
	v, err := r.c.HGet(ctx, r.indexKey(), id).Bytes()
	if errors.Is(err, redis.Nil) {
		return Summary{}, fmt.Errorf("run %s: %w", id, ErrNotFound)
	}
	if err != nil {
		return Summary{}, unavailable(err)
	}
	return decodeSummary(id, v)
}

func decodeSummary(id string, raw []byte) (Summary, error) {
	if raw == nil {
		return Summary{}, fmt.Errorf("run %s: %w", id, ErrNotFound)
	}
	var s Summary
	if err := json.Unmarshal(raw, &s); err != nil || s.ID != id {
		return Summary{}, fmt.Errorf("run %s: damaged summary", id)
	}
	return s, nil
}
