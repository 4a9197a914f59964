package runstore

import (
	"bytes"
	"context"
	"sort"
	"strings"

	bolt "go.etcd.io/bbolt"
)

// SignalKeys lists where the store keeps signals and answer slots: the
// signal ids of a memory or bolt store, every key of a Redis store that
// holds signals or slots (without the store's prefix), sorted.
func SignalKeys(ctx context.Context, s Store) ([]string, error) {
	seen := map[string]bool{}
	switch s := s.(type) {
	case *Memory:
		s.mu.Lock()
		for id := range s.signals {
			seen[id] = true
		}
		s.mu.Unlock()
	case *Bolt:
		err := s.view(ctx, func(tx *bolt.Tx) error {
			return tx.Bucket(bucketSignals).ForEach(func(k, _ []byte) error {
				id, _, _ := bytes.Cut(k, []byte{0})
				seen[string(id)] = true
				return nil
			})
		})
		if err != nil {
			return nil, err
		}
	case *Redis:
		for _, kind := range []string{"signals", "slots"} {
			keys, err := s.c.Keys(ctx, s.prefix+kind+":*").Result()
			if err != nil {
				return nil, err
			}
			for _, k := range keys {
				seen[strings.TrimPrefix(k, s.prefix)] = true
			}
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out, nil
}
