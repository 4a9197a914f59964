package runstore

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	bolt "go.etcd.io/bbolt"
)

// KeyClaimer keeps claims of unique keys (a workflow's idempotency keys)
// beside the runs, so they hold across the processes sharing the store and
// across restarts. A claim names the run holding the key and when it was
// claimed.
type KeyClaimer interface {
	// ClaimKey gives key to id when nobody holds it, or when prev (not "")
	// holds it — atomically. It returns the holder afterwards (id when the
	// claim succeeded) and when that holder claimed it.
	ClaimKey(ctx context.Context, key, id, prev string) (holder string, claimedAt time.Time, err error)
	// ReleaseKey drops key if id holds it.
	ReleaseKey(ctx context.Context, key, id string) error
}

var (
	_ KeyClaimer = (*Memory)(nil)
	_ KeyClaimer = (*Bolt)(nil)
	_ KeyClaimer = (*Redis)(nil)
)

// bucketKeys holds the claims: key → "id ms".
var bucketKeys = []byte("keys")

func encodeClaim(id string, at time.Time) []byte {
	return []byte(id + " " + strconv.FormatInt(at.UnixMilli(), 10))
}

func decodeClaim(b []byte) (string, time.Time, bool) {
	id, ms, ok := strings.Cut(string(b), " ")
	n, err := strconv.ParseInt(ms, 10, 64)
	if !ok || id == "" || err != nil {
		return "", time.Time{}, false
	}
	return id, time.UnixMilli(n), true
}

// claim decides a claim against the current one (cur, when has).
func claim(cur []byte, has bool, id, prev string, now time.Time) (holder string, at time.Time, write bool) {
	if h, hAt, ok := decodeClaim(cur); has && ok && h != prev {
		return h, hAt, false
	}
	return id, now, true
}

// ClaimKey implements KeyClaimer.
func (m *Memory) ClaimKey(_ context.Context, key, id, prev string) (string, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string][]byte{}
	}
	cur, has := m.keys[key]
	holder, at, write := claim(cur, has, id, prev, time.Now())
	if write {
		m.keys[key] = encodeClaim(holder, at)
	}
	return holder, at, nil
}

// ReleaseKey implements KeyClaimer.
func (m *Memory) ReleaseKey(_ context.Context, key, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h, _, ok := decodeClaim(m.keys[key]); ok && h == id {
		delete(m.keys, key)
	}
	return nil
}

// ClaimKey implements KeyClaimer.
func (b *Bolt) ClaimKey(ctx context.Context, key, id, prev string) (string, time.Time, error) {
	var holder string
	var at time.Time
	err := b.update(ctx, "key:"+key, true, 0, func(tx *bolt.Tx) error {
		kb, err := tx.CreateBucketIfNotExists(bucketKeys)
		if err != nil {
			return err
		}
		cur := kb.Get([]byte(key))
		var write bool
		holder, at, write = claim(cur, cur != nil, id, prev, time.Now())
		if !write {
			return nil
		}
		return kb.Put([]byte(key), encodeClaim(holder, at))
	})
	return holder, at, err
}

// ReleaseKey implements KeyClaimer.
func (b *Bolt) ReleaseKey(ctx context.Context, key, id string) error {
	return b.update(ctx, "key:"+key, true, 0, func(tx *bolt.Tx) error {
		kb := tx.Bucket(bucketKeys)
		if kb == nil {
			return nil
		}
		if h, _, ok := decodeClaim(kb.Get([]byte(key))); ok && h == id {
			return kb.Delete([]byte(key))
		}
		return nil
	})
}

// KEYS: the claim. ARGV: id, prev, now (ms). Returns the claim after.
var claimKeyScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur then
  local holder = string.match(cur, '^(.-) ')
  if holder ~= ARGV[2] then return cur end
end
local v = ARGV[1] .. ' ' .. ARGV[3]
redis.call('SET', KEYS[1], v)
return v`)

// KEYS: the claim. ARGV: id.
var releaseKeyScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur and string.match(cur, '^(.-) ') == ARGV[1] then redis.call('DEL', KEYS[1]) end
return 0`)

// ClaimKey implements KeyClaimer.
func (r *Redis) ClaimKey(ctx context.Context, key, id, prev string) (string, time.Time, error) {
	res, err := claimKeyScript.Run(ctx, r.c, []string{r.key("key", key)}, id, prev, time.Now().UnixMilli()).Text()
	if err != nil {
		return "", time.Time{}, unavailable(err)
	}
	holder, at, ok := decodeClaim([]byte(res))
	if !ok {
		return "", time.Time{}, errors.New("run store: a damaged key claim")
	}
	return holder, at, nil
}

// ReleaseKey implements KeyClaimer.
func (r *Redis) ReleaseKey(ctx context.Context, key, id string) error {
	return unavailable(releaseKeyScript.Run(ctx, r.c, []string{r.key("key", key)}, id).Err())
}
