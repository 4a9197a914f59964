package runstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/redis/go-redis/v9"
)

// Redis is a Store over a go-redis UniversalClient. All keys share the hash
// tag {wfrun-runs} so that Archive's MULTI/EXEC touches one Cluster slot.
type Redis struct {
	c      redis.UniversalClient
	prefix string
	owned  bool
}

var _ Store = (*Redis)(nil)

// NewRedis returns a Store over an existing client (not closed by Close).
func NewRedis(c redis.UniversalClient) *Redis {
	return &Redis{c: c, prefix: "wfrun:{wfrun-runs}:"}
}

// OpenRedis parses a redis:// or rediss:// URL and returns a Store that owns
// its client.
func OpenRedis(url string) (*Redis, error) {
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, fmt.Errorf("run store: bad Redis URL: %w", err)
	}
	r := NewRedis(redis.NewClient(opt))
	r.owned = true
	return r, nil
}

func (r *Redis) key(kind, id string) string { return r.prefix + kind + ":" + id }
func (r *Redis) indexKey() string           { return r.prefix + "index" }

func unavailable(err error) error {
	if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return fmt.Errorf("%w: redis: %v", ErrUnavailable, err)
}

// Save implements Store.
func (r *Redis) Save(ctx context.Context, id string, doc []byte, sum Summary) error {
	sum.ID, sum.Archived = id, false
	js, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, r.key("run", id), doc, 0)
		p.HSet(ctx, r.indexKey(), id, js)
		return nil
	})
	return unavailable(err)
}

// Load implements Store.
func (r *Redis) Load(ctx context.Context, id string) ([]byte, bool, error) {
	vals, err := r.c.MGet(ctx, r.key("run", id), r.key("archive", id)).Result()
	if err != nil {
		return nil, false, unavailable(err)
	}
	if s, ok := vals[0].(string); ok {
		return []byte(s), false, nil
	}
	if s, ok := vals[1].(string); ok {
		return []byte(s), true, nil
	}
	return nil, false, ErrNotFound
}

// List implements Store.
func (r *Redis) List(ctx context.Context, opt ListOptions) ([]Summary, error) {
	m, err := r.c.HGetAll(ctx, r.indexKey()).Result()
	if err != nil {
		return nil, unavailable(err)
	}
	all := make([]Summary, 0, len(m))
	for _, v := range m {
		var s Summary
		if json.Unmarshal([]byte(v), &s) == nil {
			all = append(all, s)
		}
	}
	return sortSummaries(all, opt), nil
}

// Archive implements Store with one MULTI/EXEC.
func (r *Redis) Archive(ctx context.Context, id string, archived []byte, sum Summary) error {
	sum.ID, sum.Archived = id, true
	js, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, r.key("archive", id), archived, 0)
		p.Del(ctx, r.key("run", id), r.key("signals", id))
		p.HSet(ctx, r.indexKey(), id, js)
		return nil
	})
	return unavailable(err)
}

// Restore implements Store with one MULTI/EXEC.
func (r *Redis) Restore(ctx context.Context, id string, doc []byte, sum Summary) error {
	sum.ID, sum.Archived = id, false
	js, err := json.Marshal(sum)
	if err != nil {
		return err
	}
	_, err = r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, r.key("run", id), doc, 0)
		p.Del(ctx, r.key("archive", id))
		p.HSet(ctx, r.indexKey(), id, js)
		return nil
	})
	return unavailable(err)
}

// PutSignal implements Store.
func (r *Redis) PutSignal(ctx context.Context, id, key string, payload []byte) error {
	return unavailable(r.c.HSet(ctx, r.key("signals", id), key, payload).Err())
}

// TakeSignals implements Store (HGETALL + DEL in one MULTI/EXEC).
func (r *Redis) TakeSignals(ctx context.Context, id string) (map[string][]byte, error) {
	var get *redis.MapStringStringCmd
	_, err := r.c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		get = p.HGetAll(ctx, r.key("signals", id))
		p.Del(ctx, r.key("signals", id))
		return nil
	})
	if err != nil {
		return nil, unavailable(err)
	}
	m := get.Val()
	if len(m) == 0 {
		return nil, nil
	}
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out, nil
}

// Close implements Store.
func (r *Redis) Close() error {
	if r.owned {
		return r.c.Close()
	}
	return nil
}
