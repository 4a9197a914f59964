package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/seal"
)

// DefaultPrefix is the key prefix (and hash tag) unless WithPrefix says
// otherwise.
const DefaultPrefix = "wfrun"

// Option configures New.
type Option func(*config)

type config struct {
	prefix  string
	history int
	retries int
	now     func() time.Time
}

// WithPrefix sets the key prefix; keys start with "{prefix}:".
func WithPrefix(p string) Option { return func(c *config) { c.prefix = p } }

// WithHistory sets how many versions are kept per secret (at least 2).
func WithHistory(n int) Option { return func(c *config) { c.history = max(n, 2) } }

// WithClock sets the clock used for timestamps and expiry.
func WithClock(now func() time.Time) Option { return func(c *config) { c.now = now } }

// WithPutRetries sets how often a Put without IfVersion retries after losing
// a race to a concurrent writer (default 100).
func WithPutRetries(n int) Option { return func(c *config) { c.retries = max(n, 1) } }

// Store is the organization view of a Redis secret store (the store's
// barrier over Redis); InScope gives the others. Close closes the client.
type Store struct {
	*store.Barrier
	st *Storage
}

// New returns a store on client, sealing records with ring. The store owns
// client: Close closes it. It checks, before any write, that ring holds the
// key the store was written with: every process sharing the store needs
// the same master key.
func New(client goredis.UniversalClient, ring *seal.Keyring, opts ...Option) (*Store, error) {
	if client == nil || ring == nil {
		return nil, errors.New("redis store: nil client or keyring")
	}
	cfg := config{prefix: DefaultPrefix, history: store.DefaultHistory, retries: 100, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	st, err := NewStorage(client, cfg.prefix)
	if err != nil {
		return nil, err
	}
	if err := st.checkFormat(context.Background()); err != nil {
		return nil, err
	}
	b, err := store.NewBarrier(context.Background(), st, ring,
		store.WithHistoryDepth(cfg.history), store.WithNow(cfg.now), store.WithWriteRetries(cfg.retries),
		store.WithWhere("the Redis store "+st.tag), store.WithOnWrite(st.publish))
	if err != nil {
		return nil, err
	}
	// Best effort: with the scripts loaded, their first use is one round
	// trip (EVALSHA) rather than two (EVALSHA, then EVAL).
	for _, sc := range []*goredis.Script{commitScript, readCommitScript} {
		_ = sc.Load(context.Background(), client).Err()
	}
	return &Store{Barrier: b, st: st}, nil
}

// Client returns the underlying client.
func (s *Store) Client() goredis.UniversalClient { return s.st.client }

// Channel is the pub/sub channel carrying invalidations.
func (s *Store) Channel() string { return s.st.channel() }

// RedisKey returns the Redis key holding the storage record key (see
// store.Storage), for tests and operators.
func (s *Store) RedisKey(recordKey string) string { return s.st.dataKey(recordKey) }

// Storage is a store.Storage on Redis. Every key it uses starts with one
// hash tag, "{prefix}:", so a Commit is one Lua script even on Cluster:
//
//	{prefix}:r:<record key>   a record (string)
//	{prefix}:idx              every record key (sorted set, lexicographic)
//	{prefix}:audit            the audit records (a stream; entry id <seq>-1)
//	{prefix}:invalidate       pub/sub channel of changed secrets
type Storage struct {
	client goredis.UniversalClient
	tag    string
}

var _ store.Storage = (*Storage)(nil)

// NewStorage returns the storage under prefix on client.
func NewStorage(client goredis.UniversalClient, prefix string) (*Storage, error) {
	if prefix == "" || strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("redis store: prefix %q must be non-empty without braces", prefix)
	}
	return &Storage{client: client, tag: "{" + prefix + "}"}, nil
}

// AuditStream is the Redis key of the audit trail's stream.
func (s *Storage) AuditStream() string { return s.streamKey() }

func (s *Storage) dataKey(k string) string { return s.tag + ":r:" + k }
func (s *Storage) indexKey() string        { return s.tag + ":idx" }
func (s *Storage) streamKey() string       { return s.tag + ":audit" }
func (s *Storage) channel() string         { return s.tag + ":invalidate" }

// Audit records are kept in the stream: record key "a/<seq hex>" is entry
// "<seq>-1".
const auditPrefix = "a/"

func streamID(k string) (string, bool) {
	hex, ok := strings.CutPrefix(k, auditPrefix)
	if !ok {
		return "", false
	}
	n, err := strconv.ParseUint(hex, 16, 64)
	if err != nil {
		return "", false
	}
	return strconv.FormatUint(n, 10) + "-1", true
}

func auditKeyOf(id string) string {
	ms, _, _ := strings.Cut(id, "-")
	n, _ := strconv.ParseUint(ms, 10, 64)
	return fmt.Sprintf("%s%016x", auditPrefix, n)
}

// unavailable maps a client error to ErrUnavailable. Redis error replies and
// network errors carry no argument values, so they are safe to include.
func unavailable(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %w: redis: %v", op, store.ErrUnavailable, err)
}

// Get implements store.Storage: records with one MGET, audit records from
// the stream.
func (s *Storage) Get(ctx context.Context, keys ...string) ([][]byte, error) {
	out := make([][]byte, len(keys))
	var idx []int
	var dk []string
	for i, k := range keys {
		if id, ok := streamID(k); ok {
			msgs, err := s.client.XRange(ctx, s.streamKey(), id, id).Result()
			if err != nil {
				return nil, unavailable("get", err)
			}
			if len(msgs) == 1 {
				if v, ok := msgs[0].Values["r"].(string); ok {
					out[i] = []byte(v)
				}
			}
			continue
		}
		idx = append(idx, i)
		dk = append(dk, s.dataKey(k))
	}
	if len(dk) == 0 {
		return out, nil
	}
	vals, err := s.client.MGet(ctx, dk...).Result()
	if err != nil {
		return nil, unavailable("get", err)
	}
	for j, v := range vals {
		if str, ok := v.(string); ok {
			out[idx[j]] = []byte(str)
		}
	}
	return out, nil
}

// List implements store.Storage from the index (or, for audit keys, the
// stream). The prefix "" lists records, not audit entries.
func (s *Storage) List(ctx context.Context, prefix, after string, limit int) ([]string, error) {
	if strings.HasPrefix(prefix, auditPrefix) {
		start := "-"
		if id, ok := streamID(after); ok {
			start = "(" + id
		}
		var msgs []goredis.XMessage
		var err error
		if limit > 0 {
			msgs, err = s.client.XRangeN(ctx, s.streamKey(), start, "+", int64(limit)).Result()
		} else {
			msgs, err = s.client.XRange(ctx, s.streamKey(), start, "+").Result()
		}
		if err != nil {
			return nil, unavailable("list", err)
		}
		out := make([]string, len(msgs))
		for i, m := range msgs {
			out[i] = auditKeyOf(m.ID)
		}
		return out, nil
	}
	min := "[" + prefix
	if after >= prefix && after != "" {
		min = "(" + after
	}
	max := "+"
	if prefix != "" {
		max = "[" + prefix + "\xff"
	}
	count := int64(limit)
	if limit <= 0 {
		count = -1
	}
	keys, err := s.client.ZRangeByLex(ctx, s.indexKey(), &goredis.ZRangeBy{Min: min, Max: max, Count: count}).Result()
	if err != nil {
		return nil, unavailable("list", err)
	}
	return keys, nil
}

// commitLua checks every condition, then applies audit appends first (XADD
// can refuse an id; nothing else has been written then), then the other
// writes, keeping the index in step. KEYS: index, stream, then KEYS[base+i]
// for the nc conditions and nw writes; ARGV[argBase] = nc, ARGV[argBase+1]
// = nw, then their values; seen holds values already read in the script
// (false: missing). It sets ok (false: a condition failed).
const commitLua = `
local nc, nw = tonumber(ARGV[argBase]), tonumber(ARGV[argBase + 1])
local a = argBase + 2
local ok = true
for i = 1, nc do
  local got = seen[KEYS[base + i]]
  if got == nil then got = redis.call('GET', KEYS[base + i]) end
  if ARGV[a + 1] == '1' then
    if got then ok = false end
  elseif got ~= ARGV[a] then
    ok = false
  end
  a = a + 2
end
if ok then
  local first = a
  for pass = 1, 2 do
    a = first
    for i = 1, nw do
      local k = KEYS[base + nc + i]
      local v, del, member, sid = ARGV[a], ARGV[a + 1], ARGV[a + 2], ARGV[a + 3]
      a = a + 4
      if sid ~= '' and pass == 1 then
        if del == '1' then redis.call('XDEL', KEYS[2], sid) else redis.call('XADD', KEYS[2], sid, 'r', v) end
      elseif sid == '' and pass == 2 then
        if del == '1' then
          redis.call('DEL', k)
          redis.call('ZREM', KEYS[1], member)
        else
          redis.call('SET', k, v)
          redis.call('ZADD', KEYS[1], 0, member)
        end
      end
    end
  end
end
`

var commitScript = goredis.NewScript(`
local base, argBase, seen = 2, 1, {}
` + commitLua + `
if ok then return 1 end
return 0
`)

// readCommitScript reads ARGV[1] records (KEYS[3..]) first, then runs the
// commit; it returns {committed, record...} (a missing record is nil).
var readCommitScript = goredis.NewScript(`
local nr = tonumber(ARGV[1])
local base, argBase = 2 + nr, 2
local got, seen = {}, {}
for from = 1, nr, 500 do
  local to = math.min(from + 499, nr)
  local part = redis.call('MGET', unpack(KEYS, 2 + from, 2 + to))
  for j = 1, #part do
    got[from + j - 1] = part[j]
    seen[KEYS[1 + from + j]] = part[j]
  end
end
` + commitLua + `
local res = {0}
if ok then res[1] = 1 end
for i = 1, nr do res[i + 1] = got[i] end
return res
`)

// commitArgs encodes conds and writes for commitLua.
func (s *Storage) commitArgs(keys []string, args []any, conds []store.Cond, writes []store.Write) ([]string, []any) {
	args = append(args, len(conds), len(writes))
	for _, c := range conds {
		keys = append(keys, s.dataKey(c.Key))
		absent := "0"
		if c.Value == nil {
			absent = "1"
		}
		args = append(args, string(c.Value), absent)
	}
	for _, w := range writes {
		del := "0"
		if w.Value == nil {
			del = "1"
		}
		sid, isAudit := streamID(w.Key)
		if isAudit {
			keys = append(keys, s.streamKey())
		} else {
			keys = append(keys, s.dataKey(w.Key))
		}
		args = append(args, string(w.Value), del, w.Key, sid)
	}
	return keys, args
}

// Commit implements store.Storage with one Lua script (atomic, one slot).
func (s *Storage) Commit(ctx context.Context, conds []store.Cond, writes []store.Write) error {
	keys, args := s.commitArgs([]string{s.indexKey(), s.streamKey()}, nil, conds, writes)
	n, err := commitScript.Run(ctx, s.client, keys, args...).Int()
	if err != nil {
		return unavailable("commit", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: a record changed concurrently", store.ErrConflict)
	}
	return nil
}

var _ store.ReadCommitter = (*Storage)(nil)

// ReadCommit implements store.ReadCommitter with one Lua script: the reads
// and the conditional commit happen at one instant, in one round trip.
func (s *Storage) ReadCommit(ctx context.Context, read []string, conds []store.Cond, writes []store.Write) ([][]byte, bool, error) {
	keys := []string{s.indexKey(), s.streamKey()}
	for _, k := range read {
		if _, isAudit := streamID(k); isAudit {
			return nil, false, fmt.Errorf("read-commit: audit record %q cannot be read with records", k)
		}
		keys = append(keys, s.dataKey(k))
	}
	keys, args := s.commitArgs(keys, []any{len(read)}, conds, writes)
	res, err := readCommitScript.Run(ctx, s.client, keys, args...).Slice()
	if err != nil {
		return nil, false, unavailable("read-commit", err)
	}
	if len(res) != len(read)+1 {
		return nil, false, fmt.Errorf("read-commit: %w: redis returned %d values for %d keys", store.ErrUnavailable, len(res)-1, len(read))
	}
	n, _ := res[0].(int64)
	out := make([][]byte, len(read))
	for i, v := range res[1:] {
		if str, ok := v.(string); ok {
			out[i] = []byte(str)
		}
	}
	return out, n == 1, nil
}

// Close implements store.Storage: it closes the client.
func (s *Storage) Close() error { return s.client.Close() }

func (s *Storage) publish(ctx context.Context, k store.Key, version int64) {
	_ = s.client.Publish(ctx, s.channel(), invalidation(k.Scope.Key(), k.Name, version)).Err()
}

func invalidation(sk, name string, version int64) string {
	return sk + " " + name + " " + strconv.FormatInt(version, 10)
}

// ParseInvalidation decodes an invalidation message.
func ParseInvalidation(msg string) (store.Key, int64, error) {
	parts := strings.Split(msg, " ")
	if len(parts) != 3 {
		return store.Key{}, 0, fmt.Errorf("bad invalidation %q", msg)
	}
	sc, err := store.ParseScopeKey(parts[0])
	if err != nil {
		return store.Key{}, 0, err
	}
	v, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil {
		return store.Key{}, 0, fmt.Errorf("bad invalidation %q", msg)
	}
	return store.Key{Scope: sc, Name: parts[1]}, v, nil
}

// Invalidations subscribes to the invalidation channel: every write by any
// process sends the key it changed. The channel closes when ctx ends.
func (s *Store) Invalidations(ctx context.Context) (<-chan store.Key, error) {
	ps := s.st.client.Subscribe(ctx, s.Channel())
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return nil, unavailable("subscribe", err)
	}
	out := make(chan store.Key, 64)
	go func() {
		defer close(out)
		defer ps.Close()
		ch := ps.Channel()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				if k, _, err := ParseInvalidation(m.Payload); err == nil {
					select {
					case out <- k:
					case <-ctx.Done():
						return
					}
				}
			}
		}
	}()
	return out, nil
}
