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
	"github.com/wfrun/wfrun/store/internal/sealed"
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

type shared struct {
	client goredis.UniversalClient
	ring   *seal.Keyring
	cfg    config
	tag    string // "{prefix}"
}

// Store is the organization view of a Redis secret store; InScope gives the
// others. Close closes the client.
type Store struct {
	sh    *shared
	scope store.Scope
}

var (
	_ store.Store     = (*Store)(nil)
	_ store.GetManyer = (*Store)(nil)
	_ store.KeyGetter = (*Store)(nil)
	_ store.Scoper    = (*Store)(nil)
	_ store.Sweeper   = (*Store)(nil)
	_ store.Rekeyer   = (*Store)(nil)
)

// New returns a store on client, sealing values with ring. The store owns
// client: Close closes it.
func New(client goredis.UniversalClient, ring *seal.Keyring, opts ...Option) (*Store, error) {
	if client == nil || ring == nil {
		return nil, errors.New("redis store: nil client or keyring")
	}
	cfg := config{prefix: DefaultPrefix, history: store.DefaultHistory, retries: 100, now: time.Now}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.prefix == "" || strings.ContainsAny(cfg.prefix, "{}") {
		return nil, fmt.Errorf("redis store: prefix %q must be non-empty without braces", cfg.prefix)
	}
	return &Store{sh: &shared{client: client, ring: ring, cfg: cfg, tag: "{" + cfg.prefix + "}"}}, nil
}

// Client returns the underlying client.
func (s *Store) Client() goredis.UniversalClient { return s.sh.client }

// InScope implements store.Scoper.
func (s *Store) InScope(scope store.Scope) store.Store { return &Store{sh: s.sh, scope: scope} }

func (sh *shared) recordKey(sk, name string) string  { return sh.tag + ":s:" + sk + ":" + name }
func (sh *shared) historyKey(sk, name string) string { return sh.tag + ":h:" + sk + ":" + name }
func (sh *shared) indexKey(sk string) string         { return sh.tag + ":i:" + sk }
func (sh *shared) scopesKey() string                 { return sh.tag + ":scopes" }

// Channel is the pub/sub channel carrying invalidations.
func (s *Store) Channel() string { return s.sh.tag + ":invalidate" }

// Keys returns every Redis key the store uses for secret name in scope, for
// tests and operators.
func (s *Store) Keys(scope store.Scope, name string) []string {
	sk := scope.Key()
	return []string{s.sh.recordKey(sk, name), s.sh.historyKey(sk, name), s.sh.indexKey(sk), s.sh.scopesKey()}
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
	ps := s.sh.client.Subscribe(ctx, s.Channel())
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

func (s *Store) read(data string, name string) (*store.Secret, error) {
	return sealed.Read(s.sh.ring, []byte(data), s.sh.cfg.now())
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, name string) (*store.Secret, error) {
	if err := store.ValidateName(name); err != nil {
		return nil, err
	}
	if err := s.scope.Validate(); err != nil {
		return nil, err
	}
	data, err := s.sh.client.Get(ctx, s.sh.recordKey(s.scope.Key(), name)).Result()
	if errors.Is(err, goredis.Nil) {
		return nil, fmt.Errorf("secret %q: %w", name, store.ErrNotFound)
	}
	if err != nil {
		return nil, unavailable(fmt.Sprintf("get secret %q", name), err)
	}
	return s.read(data, name)
}

// GetMany implements store.GetManyer with one MGET.
func (s *Store) GetMany(ctx context.Context, names []string) (map[string]*store.Secret, map[string]error, error) {
	return store.GetManyInScope(ctx, s, s.scope, names)
}

// GetKeys implements store.KeyGetter with one MGET, whatever the scopes.
func (s *Store) GetKeys(ctx context.Context, keys []store.Key) (map[store.Key]*store.Secret, map[store.Key]error, error) {
	found, errs := make(map[store.Key]*store.Secret, len(keys)), map[store.Key]error{}
	var valid []store.Key
	var rkeys []string
	for _, k := range keys {
		if err := k.Scope.Validate(); err != nil {
			return nil, nil, err
		}
		if err := store.ValidateName(k.Name); err != nil {
			errs[k] = err
			continue
		}
		valid = append(valid, k)
		rkeys = append(rkeys, s.sh.recordKey(k.Scope.Key(), k.Name))
	}
	if len(rkeys) == 0 {
		return found, errs, nil
	}
	vals, err := s.sh.client.MGet(ctx, rkeys...).Result()
	if err != nil {
		return nil, nil, unavailable("get secrets", err)
	}
	for i, k := range valid {
		str, ok := vals[i].(string)
		if !ok {
			errs[k] = fmt.Errorf("secret %q: %w", k.Name, store.ErrNotFound)
			continue
		}
		sec, err := s.read(str, k.Name)
		if err != nil && !errors.Is(err, store.ErrExpired) {
			// A record that does not decrypt fails this name, not the batch.
			errs[k] = err
			continue
		}
		if sec != nil {
			found[k] = sec
		}
		if err != nil {
			errs[k] = err
		}
	}
	return found, errs, nil
}

// putScript commits a new version if the stored version is still ARGV[1].
var putScript = goredis.NewScript(`
local cur = redis.call('GET', KEYS[1])
local v = 0
if cur then v = cjson.decode(cur)['version'] end
if tostring(v) ~= ARGV[1] then return {0, tostring(v)} end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('LPUSH', KEYS[2], ARGV[2])
redis.call('LTRIM', KEYS[2], 0, tonumber(ARGV[3]) - 1)
redis.call('ZADD', KEYS[3], 0, ARGV[4])
redis.call('SADD', KEYS[4], ARGV[7])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return {1, tostring(v)}
`)

// replaceScript swaps a record for a same-version rewrite (tags, rekey) if it
// is unchanged, and the matching history entries.
// KEYS: record, history. ARGV: old, new, channel, msg, then old/new pairs
// for history positions 0..n.
var replaceScript = goredis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for i = 5, #ARGV, 2 do
  local idx = (i - 5) / 2
  if redis.call('LINDEX', KEYS[2], idx) ~= ARGV[i] then return 0 end
end
redis.call('SET', KEYS[1], ARGV[2])
for i = 5, #ARGV, 2 do
  redis.call('LSET', KEYS[2], (i - 5) / 2, ARGV[i + 1])
end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`)

// deleteScript removes a secret, optionally only if its record is unchanged
// (ARGV[1] non-empty: the sweeper must not delete a secret just re-set).
var deleteScript = goredis.NewScript(`
if ARGV[1] ~= '' and redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`)

func (s *Store) currentRecord(ctx context.Context, sk, name string) (string, *store.Secret, error) {
	data, err := s.sh.client.Get(ctx, s.sh.recordKey(sk, name)).Result()
	if errors.Is(err, goredis.Nil) {
		return "", nil, nil
	}
	if err != nil {
		return "", nil, unavailable(fmt.Sprintf("read secret %q", name), err)
	}
	r, err := sealed.Parse([]byte(data))
	if err != nil {
		return "", nil, fmt.Errorf("secret %q: %w", name, err)
	}
	meta, err := r.Meta()
	return data, meta, err
}

// Put implements store.Store.
func (s *Store) Put(ctx context.Context, in *store.Secret, opts ...store.PutOption) (*store.Secret, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if err := s.scope.Validate(); err != nil {
		return nil, err
	}
	o := store.NewPutOptions(opts...)
	sk := s.scope.Key()
	sh := s.sh
	for range sh.cfg.retries {
		_, cur, err := s.currentRecord(ctx, sk, in.Name)
		if err != nil {
			return nil, err
		}
		next, err := store.PreparePut(cur, in, s.scope, o, sh.cfg.now())
		if err != nil {
			return nil, err
		}
		data, err := sealed.Encode(sh.ring, next)
		if err != nil {
			return nil, err
		}
		res, err := putScript.Run(ctx, sh.client,
			[]string{sh.recordKey(sk, next.Name), sh.historyKey(sk, next.Name), sh.indexKey(sk), sh.scopesKey()},
			strconv.FormatInt(next.Version-1, 10), string(data), sh.cfg.history, next.Name,
			s.Channel(), invalidation(sk, next.Name, next.Version), sk).Slice()
		if err != nil {
			return nil, unavailable(fmt.Sprintf("put secret %q", in.Name), err)
		}
		if ok, _ := res[0].(int64); ok == 1 {
			return next, nil
		}
		if o.CAS {
			return nil, fmt.Errorf("secret %q: %w: expected version %d, stored version is %v", in.Name, store.ErrConflict, o.IfVersion, res[1])
		}
	}
	return nil, fmt.Errorf("secret %q: %w: lost %d races to concurrent writers", in.Name, store.ErrConflict, sh.cfg.retries)
}

// Delete implements store.Store.
func (s *Store) Delete(ctx context.Context, name string) error {
	if err := store.ValidateName(name); err != nil {
		return err
	}
	if err := s.scope.Validate(); err != nil {
		return err
	}
	return s.deleteKey(ctx, s.scope.Key(), name, "")
}

func (s *Store) deleteKey(ctx context.Context, sk, name, ifRecord string) error {
	sh := s.sh
	_, err := deleteScript.Run(ctx, sh.client,
		[]string{sh.recordKey(sk, name), sh.historyKey(sk, name), sh.indexKey(sk)},
		ifRecord, name, s.Channel(), invalidation(sk, name, 0)).Result()
	return unavailable(fmt.Sprintf("delete secret %q", name), err)
}

// List implements store.Store from the name index, skipping expired
// secrets (a page costs one ZRANGEBYLEX and one MGET per batch).
func (s *Store) List(ctx context.Context, opt store.ListOptions) (*store.ListPage, error) {
	limit, after, err := store.NormalizeList(opt)
	if err != nil {
		return nil, err
	}
	if err := s.scope.Validate(); err != nil {
		return nil, err
	}
	sk := s.scope.Key()
	maxLex := "+"
	if opt.Prefix != "" {
		maxLex = "(" + opt.Prefix + "\xff"
	}
	page := &store.ListPage{Names: []string{}}
	now := s.sh.cfg.now()
	for {
		minLex := "[" + opt.Prefix
		if after != "" && after >= opt.Prefix {
			minLex = "(" + after
		}
		names, err := s.sh.client.ZRangeByLex(ctx, s.sh.indexKey(sk), &goredis.ZRangeBy{Min: minLex, Max: maxLex, Count: int64(limit + 1)}).Result()
		if err != nil {
			return nil, unavailable("list secrets", err)
		}
		if len(names) == 0 {
			return page, nil
		}
		rkeys := make([]string, len(names))
		for i, n := range names {
			rkeys[i] = s.sh.recordKey(sk, n)
		}
		vals, err := s.sh.client.MGet(ctx, rkeys...).Result()
		if err != nil {
			return nil, unavailable("list secrets", err)
		}
		for i, n := range names {
			after = n
			str, ok := vals[i].(string)
			if !ok {
				continue
			}
			r, err := sealed.Parse([]byte(str))
			if err != nil {
				return nil, fmt.Errorf("secret %q: %w", n, err)
			}
			if meta, err := r.Meta(); err != nil || meta.Expired(now) {
				continue
			}
			if len(page.Names) == limit {
				page.ContinuationToken = store.EncodeToken(page.Names[limit-1])
				return page, nil
			}
			page.Names = append(page.Names, n)
		}
		if len(names) <= limit {
			return page, nil
		}
	}
}

// History implements store.Store.
func (s *Store) History(ctx context.Context, name string, n int) ([]*store.Secret, error) {
	if err := store.ValidateName(name); err != nil {
		return nil, err
	}
	if err := s.scope.Validate(); err != nil {
		return nil, err
	}
	n = store.ClampHistory(n, s.sh.cfg.history)
	vals, err := s.sh.client.LRange(ctx, s.sh.historyKey(s.scope.Key(), name), 0, int64(n-1)).Result()
	if err != nil {
		return nil, unavailable(fmt.Sprintf("history of secret %q", name), err)
	}
	if len(vals) == 0 {
		return nil, fmt.Errorf("secret %q: %w", name, store.ErrNotFound)
	}
	out := make([]*store.Secret, 0, len(vals))
	for _, v := range vals {
		sec, err := s.read(v, name)
		if err != nil && !errors.Is(err, store.ErrExpired) {
			return nil, err
		}
		out = append(out, sec)
	}
	return out, nil
}

// rewrite applies change to the current record (same version) and to the
// history entries equal to it, atomically, retrying on concurrent change.
func (s *Store) rewrite(ctx context.Context, sk, name string, change func(r *sealed.Record, current bool) (bool, error)) (bool, error) {
	sh := s.sh
	for range sh.cfg.retries {
		old, meta, err := s.currentRecord(ctx, sk, name)
		if err != nil {
			return false, err
		}
		if meta == nil {
			return false, fmt.Errorf("secret %q: %w", name, store.ErrNotFound)
		}
		hist, err := sh.client.LRange(ctx, sh.historyKey(sk, name), 0, -1).Result()
		if err != nil {
			return false, unavailable(fmt.Sprintf("rewrite secret %q", name), err)
		}
		rewriteOne := func(data string, current bool) (string, bool, error) {
			r, err := sealed.Parse([]byte(data))
			if err != nil {
				return "", false, fmt.Errorf("secret %q: %w", name, err)
			}
			changed, err := change(r, current)
			if err != nil || !changed {
				return data, false, err
			}
			b, err := jsonMarshal(r)
			return string(b), true, err
		}
		newRec, changed, err := rewriteOne(old, true)
		if err != nil {
			return false, err
		}
		args := []any{old, newRec, s.Channel(), invalidation(sk, name, meta.Version)}
		for i, h := range hist {
			nh := h
			if i == 0 && h == old {
				nh = newRec
			} else if h != old {
				var c bool
				if nh, c, err = rewriteOne(h, false); err != nil {
					return false, err
				}
				changed = changed || c
			}
			args = append(args, h, nh)
		}
		if !changed {
			return false, nil
		}
		ok, err := replaceScript.Run(ctx, sh.client, []string{sh.recordKey(sk, name), sh.historyKey(sk, name)}, args...).Int()
		if err != nil {
			return false, unavailable(fmt.Sprintf("rewrite secret %q", name), err)
		}
		if ok == 1 {
			return true, nil
		}
	}
	return false, fmt.Errorf("secret %q: %w: lost %d races to concurrent writers", name, store.ErrConflict, sh.cfg.retries)
}

func (s *Store) updateTags(ctx context.Context, name string, set map[string]string, del []string) error {
	if err := store.ValidateName(name); err != nil {
		return err
	}
	if err := s.scope.Validate(); err != nil {
		return err
	}
	if _, err := store.ApplyTags(nil, set, nil); err != nil {
		return fmt.Errorf("secret %q: %w", name, err)
	}
	now := s.sh.cfg.now().UTC().Truncate(time.Millisecond)
	_, err := s.rewrite(ctx, s.scope.Key(), name, func(r *sealed.Record, current bool) (bool, error) {
		// Only the current record's tags change; history keeps its own.
		if !current {
			return false, nil
		}
		tags, err := store.ApplyTags(r.Tags, set, del)
		if err != nil {
			return false, fmt.Errorf("secret %q: %w", name, err)
		}
		r.Tags = tags
		r.UpdatedAt = now
		return true, nil
	})
	return err
}

// SetTags implements store.Store.
func (s *Store) SetTags(ctx context.Context, name string, tags map[string]string) error {
	return s.updateTags(ctx, name, tags, nil)
}

// DeleteTags implements store.Store.
func (s *Store) DeleteTags(ctx context.Context, name string, keys ...string) error {
	return s.updateTags(ctx, name, nil, keys)
}

// eachName calls fn for every indexed name of every scope in use.
func (s *Store) eachName(ctx context.Context, fn func(sk string, names []string, records []any) error) error {
	sh := s.sh
	scopes, err := sh.client.SMembers(ctx, sh.scopesKey()).Result()
	if err != nil {
		return unavailable("scan scopes", err)
	}
	for _, sk := range scopes {
		names, err := sh.client.ZRange(ctx, sh.indexKey(sk), 0, -1).Result()
		if err != nil {
			return unavailable("scan secrets", err)
		}
		for start := 0; start < len(names); start += 500 {
			batch := names[start:min(start+500, len(names))]
			rkeys := make([]string, len(batch))
			for i, n := range batch {
				rkeys[i] = sh.recordKey(sk, n)
			}
			vals, err := sh.client.MGet(ctx, rkeys...).Result()
			if err != nil {
				return unavailable("scan secrets", err)
			}
			if err := fn(sk, batch, vals); err != nil {
				return err
			}
		}
	}
	return nil
}

// Sweep implements store.Sweeper. Each removal is conditional on the record
// being unchanged, so a secret re-set meanwhile survives.
func (s *Store) Sweep(ctx context.Context) ([]store.Key, error) {
	var removed []store.Key
	now := s.sh.cfg.now()
	err := s.eachName(ctx, func(sk string, names []string, vals []any) error {
		scope, err := store.ParseScopeKey(sk)
		if err != nil {
			return err
		}
		for i, n := range names {
			str, ok := vals[i].(string)
			if !ok {
				// Index entry without a record (a crash between commands is
				// impossible with scripts, but be tolerant): drop it.
				if err := s.sh.client.ZRem(ctx, s.sh.indexKey(sk), n).Err(); err != nil {
					return unavailable("sweep", err)
				}
				continue
			}
			r, err := sealed.Parse([]byte(str))
			if err != nil {
				return fmt.Errorf("secret %q: %w", n, err)
			}
			meta, err := r.Meta()
			if err != nil || !meta.Expired(now) {
				continue
			}
			res, err := deleteScript.Run(ctx, s.sh.client,
				[]string{s.sh.recordKey(sk, n), s.sh.historyKey(sk, n), s.sh.indexKey(sk)},
				str, n, s.Channel(), invalidation(sk, n, 0)).Int()
			if err != nil {
				return unavailable("sweep", err)
			}
			if res == 1 {
				removed = append(removed, store.Key{Scope: scope, Name: n})
			}
		}
		return nil
	})
	return removed, err
}

// Rekey implements store.Rekeyer: each secret (record and history) is
// re-encrypted atomically; secrets already under the primary key are skipped,
// so an interrupted rekey can simply be run again.
func (s *Store) Rekey(ctx context.Context) (int, error) {
	n := 0
	err := s.eachName(ctx, func(sk string, names []string, _ []any) error {
		for _, name := range names {
			count := 0
			_, err := s.rewrite(ctx, sk, name, func(r *sealed.Record, current bool) (bool, error) {
				if current {
					count = 0 // a retried attempt starts over
				}
				ok, err := r.Reseal(s.sh.ring)
				if ok {
					count++
				}
				return ok, err
			})
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			n += count
		}
		return nil
	})
	return n, err
}

// Close closes the client.
func (s *Store) Close() error { return s.sh.client.Close() }
