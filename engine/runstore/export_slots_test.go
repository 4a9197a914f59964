package runstore

import (
	"bytes"
	"context"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"
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

// GuardRedisScripts makes the Redis store's scripts that touch a run's
// keys fail on a key of the store they were not given in KEYS (as Redis
// Cluster and the scripting rules want every key declared; a single
// server does not check it), until the returned function puts them back.
func GuardRedisScripts() func() {
	type script struct {
		s   **redis.Script
		src string
	}
	all := []script{{&archiveScript, archiveSrc}, {&deleteScript, deleteSrc}, {&putSlotScript, putSlotSrc}, {&putSignalScript, putSignalSrc}}
	old := make([]*redis.Script, len(all))
	for i, sc := range all {
		old[i] = *sc.s
		*sc.s = redis.NewScript(`
local declared = {}
for _, k in ipairs(KEYS) do declared[k] = true end
local prefix = 'wfrun:{wfrun-runs}:'
local server = redis
local redis = {}
function redis.call(...)
  for _, a in ipairs({...}) do
    if type(a) == 'string' and string.sub(a, 1, #prefix) == prefix and not declared[a] then
      error('undeclared key ' .. a)
    end
  end
  return server.call(...)
end
` + sc.src)
	}
	return func() {
		for i, sc := range all {
			*sc.s = old[i]
		}
	}
}
