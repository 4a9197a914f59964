package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"github.com/wfrun/wfrun/store/seal"
)

// Barrier is the one implementation of the store's rules (versions,
// history, tags, expiry, description, compare-and-swap, sweeping, rekeying,
// key safety and the audit trail) above a Storage. Every record it writes
// is sealed whole — value and metadata — under its exact storage key.
// Backends construct it (bolt.Open, redis.New, memory.New); a Barrier
// addresses the organization scope and InScope gives the others.
type Barrier struct {
	sh    *barrier
	scope Scope
}

var (
	_ Store     = (*Barrier)(nil)
	_ GetManyer = (*Barrier)(nil)
	_ KeyGetter = (*Barrier)(nil)
	_ Scoper    = (*Barrier)(nil)
	_ Sweeper   = (*Barrier)(nil)
	_ Rekeyer   = (*Barrier)(nil)
)

type barrier struct {
	st      Storage
	ring    *seal.Keyring
	where   string
	history int
	retries int
	now     func() time.Time
	onWrite func(ctx context.Context, k Key, version int64)
	audit   *auditLog

	mu   sync.Mutex
	keys keyState

	seen recordCache // last known current records, to read and audit in one step
}

// BarrierOption configures NewBarrier.
type BarrierOption func(*barrier)

// WithHistoryDepth sets how many versions are kept per secret (at least 2).
func WithHistoryDepth(n int) BarrierOption { return func(b *barrier) { b.history = max(n, 2) } }

// WithNow sets the clock used for timestamps and expiry.
func WithNow(now func() time.Time) BarrierOption {
	return func(b *barrier) {
		if now != nil {
			b.now = now
		}
	}
}

// WithWriteRetries sets how often an unconditional write retries after
// losing a race to a concurrent writer (default 100).
func WithWriteRetries(n int) BarrierOption { return func(b *barrier) { b.retries = max(n, 1) } }

// WithOnWrite registers a function called after every committed change of a
// secret (a Redis backend publishes an invalidation with it).
func WithOnWrite(f func(ctx context.Context, k Key, version int64)) BarrierOption {
	return func(b *barrier) { b.onWrite = f }
}

// WithWhere names the storage in errors ("secrets.db at /path", "redis at
// host:port").
func WithWhere(where string) BarrierOption { return func(b *barrier) { b.where = where } }

// NewBarrier returns the store on st, sealing with ring. It checks, before
// any write, that ring holds the key the store was written with (see
// ErrWrongKey); a new, empty store records ring's primary key.
func NewBarrier(ctx context.Context, st Storage, ring *seal.Keyring, opts ...BarrierOption) (*Barrier, error) {
	if st == nil || ring == nil {
		return nil, errors.New("store: nil storage or keyring")
	}
	b := &barrier{st: st, ring: ring, where: "secret store", history: DefaultHistory, retries: 100, now: time.Now}
	for _, o := range opts {
		o(b)
	}
	b.audit = &auditLog{b: b}
	if err := b.checkKeys(ctx); err != nil {
		return nil, err
	}
	return &Barrier{sh: b}, nil
}

// Storage returns the storage under the barrier (for tests and tools).
func (s *Barrier) Storage() Storage { return s.sh.st }

// InScope implements Scoper.
func (s *Barrier) InScope(scope Scope) Store { return &Barrier{sh: s.sh, scope: scope} }

// Close closes the storage.
func (s *Barrier) Close() error { return s.sh.st.Close() }

// record is the plaintext of one sealed record: the secret whole.
type record struct {
	Name        string            `json:"name"`
	Scope       string            `json:"scope"`
	Version     int64             `json:"version"`
	Value       []byte            `json:"value"` // base64 in the JSON: the bytes exactly as given
	Expires     *time.Time        `json:"expires,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Description string            `json:"description,omitempty"`
	CreatedAt   time.Time         `json:"createdAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
	Encoding    string            `json:"encoding,omitempty"`
}

func toRecord(s *Secret) *record {
	r := &record{Name: s.Name, Scope: s.Scope.Key(), Version: s.Version, Value: []byte(s.Value), Tags: s.Tags,
		Description: s.Description, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt, Encoding: s.Encoding}
	if !s.Expires.IsZero() {
		e := s.Expires
		r.Expires = &e
	}
	return r
}

func (r *record) secret() (*Secret, error) {
	sc, err := ParseScopeKey(r.Scope)
	if err != nil {
		return nil, err
	}
	s := &Secret{Name: r.Name, Value: json.RawMessage(r.Value), Tags: r.Tags, Description: r.Description, Version: r.Version,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Scope: sc, Encoding: r.Encoding}
	if r.Expires != nil {
		s.Expires = *r.Expires
	}
	return s, nil
}

func (b *barrier) seal(key string, s *Secret) ([]byte, error) {
	pt, err := json.Marshal(toRecord(s))
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	c, err := b.ring.Seal(pt, recordAAD(key))
	if err != nil {
		return nil, fmt.Errorf("secret %q: %w", s.Name, err)
	}
	return c, nil
}

// open authenticates the record stored under key and checks that what it
// says matches where it is: a record copied from elsewhere never opens.
func (b *barrier) open(key, sk, name string, version int64, data []byte) (*Secret, error) {
	pt, err := b.ring.Open(data, recordAAD(key))
	if errors.Is(err, seal.ErrUnknownKey) {
		id, _ := seal.KeyIDOf(data)
		return nil, fmt.Errorf("secret %q: %w: the record is sealed under key %s, which this process does not hold", name, ErrWrongKey, id)
	}
	if err != nil {
		return nil, b.integrity(key, name)
	}
	defer clear(pt)
	var r record
	if err := json.Unmarshal(pt, &r); err != nil {
		return nil, b.integrity(key, name)
	}
	if r.Name != name || r.Scope != sk || (version > 0 && r.Version != version) {
		return nil, b.integrity(key, name)
	}
	s, err := r.secret()
	if err != nil {
		return nil, b.integrity(key, name)
	}
	if r.Value != nil {
		s.Value = append(json.RawMessage(nil), r.Value...)
	}
	return s, nil
}

func (b *barrier) integrity(key, name string) error {
	return fmt.Errorf("secret %q: %w: %s record %q was edited, or copied from another secret or version; restore the store from a backup or delete the secret", name, ErrIntegrity, b.where, key)
}

// expiredView returns the metadata of an expired secret and the error to
// report with it.
func expiredView(s *Secret) (*Secret, error) {
	return s.Metadata(), fmt.Errorf("secret %q: %w at %s", s.Name, ErrExpired, s.Expires.Format(time.RFC3339))
}

func (s *Barrier) check(name string) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	return s.scope.Validate()
}

// readCurrent returns the current record's bytes and secret (nil, nil, nil
// when absent). Expiry is not applied.
func (s *Barrier) readCurrent(ctx context.Context, sk, name string) ([]byte, *Secret, error) {
	key := currentKey(sk, name)
	got, err := s.sh.st.Get(ctx, key)
	if err != nil {
		return nil, nil, err
	}
	if got[0] == nil {
		return nil, nil, nil
	}
	sec, err := s.sh.open(key, sk, name, 0, got[0])
	return got[0], sec, err
}

// Get implements Store.
func (s *Barrier) Get(ctx context.Context, name string) (*Secret, error) {
	if err := s.check(name); err != nil {
		return nil, err
	}
	f, e, err := s.GetKeys(ctx, []Key{{Scope: s.scope, Name: name}})
	if err != nil {
		return nil, err
	}
	k := Key{Scope: s.scope, Name: name}
	return f[k], e[k]
}

// GetMany implements GetManyer.
func (s *Barrier) GetMany(ctx context.Context, names []string) (map[string]*Secret, map[string]error, error) {
	return GetManyInScope(ctx, s, s.scope, names)
}

// GetKeys implements KeyGetter with one storage read.
func (s *Barrier) GetKeys(ctx context.Context, keys []Key) (map[Key]*Secret, map[Key]error, error) {
	found, errs, _, err := s.getKeys(ctx, keys)
	return found, errs, err
}

// recordKeys returns the valid keys among keys and their current-record
// keys; errs holds the invalid names.
func recordKeys(keys []Key) (want []Key, rkeys []string, errs map[Key]error, err error) {
	errs = map[Key]error{}
	for _, k := range keys {
		if err := k.Scope.Validate(); err != nil {
			return nil, nil, nil, err
		}
		if err := ValidateName(k.Name); err != nil {
			errs[k] = err
			continue
		}
		want = append(want, k)
		rkeys = append(rkeys, currentKey(k.Scope.Key(), k.Name))
	}
	return want, rkeys, errs, nil
}

// getKeys is GetKeys that also returns what it read as commit conditions.
func (s *Barrier) getKeys(ctx context.Context, keys []Key) (map[Key]*Secret, map[Key]error, []Cond, error) {
	found := map[Key]*Secret{}
	want, rkeys, errs, err := recordKeys(keys)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(want) == 0 {
		return found, errs, nil, nil
	}
	got, err := s.sh.st.Get(ctx, rkeys...)
	if err != nil {
		return nil, nil, nil, err
	}
	s.sh.rememberRead(rkeys, got)
	conds := make([]Cond, len(rkeys))
	for i, k := range rkeys {
		conds[i] = Cond{k, got[i]}
	}
	s.sh.openRecords(want, rkeys, got, found, errs)
	return found, errs, conds, nil
}

// openRecords opens the current records got, read under rkeys for want,
// into found and errs.
func (b *barrier) openRecords(want []Key, rkeys []string, got [][]byte, found map[Key]*Secret, errs map[Key]error) {
	now := b.now()
	for i, k := range want {
		if got[i] == nil {
			errs[k] = fmt.Errorf("secret %q: %w", k.Name, ErrNotFound)
			continue
		}
		sec, err := b.open(rkeys[i], k.Scope.Key(), k.Name, 0, got[i])
		switch {
		case err != nil:
			errs[k] = err
		case sec.Expired(now):
			found[k], errs[k] = expiredView(sec)
		default:
			found[k] = sec
		}
	}
}

// Put implements Store.
func (s *Barrier) Put(ctx context.Context, in *Secret, opts ...PutOption) (*Secret, error) {
	return s.put(ctx, in, OpSet, false, opts...)
}

// put writes in as the next version, audited as op. exact takes the tags
// and description from in as they are (an import restores them), instead
// of keeping the stored ones when in leaves them empty.
func (s *Barrier) put(ctx context.Context, in *Secret, op string, exact bool, opts ...PutOption) (*Secret, error) {
	if in == nil {
		return nil, fmt.Errorf("%w: nil secret", ErrInvalidValue)
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	if err := s.check(in.Name); err != nil {
		return nil, err
	}
	o := NewPutOptions(opts...)
	sk := s.scope.Key()
	ck := currentKey(sk, in.Name)
	for range s.sh.retries {
		keysCond, err := s.sh.writable()
		if err != nil {
			return nil, err
		}
		curData, cur, err := s.readCurrent(ctx, sk, in.Name)
		if err != nil {
			return nil, err
		}
		next, err := PreparePut(cur, in, s.scope, o, s.sh.now())
		if err != nil {
			return nil, err
		}
		if exact {
			next.Tags, next.Description = maps.Clone(in.Tags), in.Description
			if len(next.Tags) == 0 {
				next.Tags = nil
			}
		}
		cdata, err := s.sh.seal(ck, next)
		if err != nil {
			return nil, err
		}
		vk := versionKey(sk, next.Name, next.Version)
		vdata, err := s.sh.seal(vk, next)
		if err != nil {
			return nil, err
		}
		writes := []Write{{ck, cdata}, {vk, vdata}}
		if old := next.Version - int64(s.sh.history); old > 0 {
			writes = append(writes, Write{Key: versionKey(sk, next.Name, old)})
		}
		ev := AuditEvent{Op: op, Scope: sk, Name: next.Name, Version: next.Version, Outcome: OutcomeAllowed}
		err = s.sh.audit.commitWith(ctx, []Cond{{ck, curData}, keysCond}, writes, ev)
		if errors.Is(err, ErrConflict) {
			if err := s.sh.refresh(ctx); err != nil {
				return nil, err
			}
			if o.CAS {
				return nil, fmt.Errorf("secret %q: %w: it changed while being written", in.Name, ErrConflict)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		s.sh.written(ctx, Key{s.scope, next.Name}, next.Version)
		return next, nil
	}
	return nil, fmt.Errorf("secret %q: %w: gave up after %d concurrent writes", in.Name, ErrConflict, s.sh.retries)
}

func (b *barrier) written(ctx context.Context, k Key, version int64) {
	if b.onWrite != nil {
		b.onWrite(ctx, k, version)
	}
}

// allVersions lists the history keys of name in sk, oldest first.
func (s *Barrier) allVersions(ctx context.Context, sk, name string) ([]string, error) {
	return s.sh.st.List(ctx, versionPrefix(sk, name), "", 0)
}

// Delete implements Store: the current record and every kept version go,
// and a Compactor leaves no copy of them behind.
func (s *Barrier) Delete(ctx context.Context, name string) error {
	if err := s.check(name); err != nil {
		return err
	}
	n, err := s.deleteIn(ctx, s.scope, name, OpDelete)
	if err != nil {
		return err
	}
	s.sh.written(ctx, Key{s.scope, name}, 0)
	if n == 0 {
		return nil
	}
	return s.sh.compact(ctx)
}

func (s *Barrier) deleteIn(ctx context.Context, scope Scope, name, op string) (int, error) {
	sk := scope.Key()
	vers, err := s.allVersions(ctx, sk, name)
	if err != nil {
		return 0, err
	}
	ck := currentKey(sk, name)
	got, err := s.sh.st.Get(ctx, ck)
	if err != nil {
		return 0, err
	}
	ev := AuditEvent{Op: op, Scope: sk, Name: name, Outcome: OutcomeAllowed}
	if got[0] == nil && len(vers) == 0 {
		ev.Outcome = OutcomeNotFound
		return 0, s.sh.audit.append(ctx, ev)
	}
	writes := []Write{{Key: ck}}
	for _, v := range vers {
		writes = append(writes, Write{Key: v})
	}
	return len(writes), s.sh.audit.commitWith(ctx, nil, writes, ev)
}

func (b *barrier) compact(ctx context.Context) error {
	if c, ok := b.st.(Compactor); ok {
		return c.Compact(ctx)
	}
	return nil
}

// List implements Store. Records are opened to leave expired secrets out.
func (s *Barrier) List(ctx context.Context, opt ListOptions) (*ListPage, error) {
	limit, after, err := NormalizeList(opt)
	if err != nil {
		return nil, err
	}
	if err := s.scope.Validate(); err != nil {
		return nil, err
	}
	sk := s.scope.Key()
	base := currentKey(sk, "")
	prefix := base + opt.Prefix
	cursor := ""
	if after != "" {
		cursor = base + after
	}
	page := &ListPage{Names: []string{}}
	now := s.sh.now()
	for {
		keys, err := s.sh.st.List(ctx, prefix, cursor, limit+1)
		if err != nil {
			return nil, err
		}
		if len(keys) == 0 {
			return page, nil
		}
		got, err := s.sh.st.Get(ctx, keys...)
		if err != nil {
			return nil, err
		}
		for i, k := range keys {
			if got[i] == nil {
				continue
			}
			name := k[len(base):]
			sec, err := s.sh.open(k, sk, name, 0, got[i])
			if err != nil {
				return nil, err
			}
			if sec.Expired(now) && !opt.Expired {
				continue
			}
			if len(page.Names) == limit {
				page.ContinuationToken = EncodeToken(page.Names[limit-1])
				return page, nil
			}
			page.Names = append(page.Names, name)
		}
		if len(keys) < limit+1 {
			return page, nil
		}
		cursor = keys[len(keys)-1]
	}
}

// History implements Store: the kept versions, newest first, each opened
// under its own key; an expired version comes back as metadata only.
func (s *Barrier) History(ctx context.Context, name string, n int) ([]*Secret, error) {
	if err := s.check(name); err != nil {
		return nil, err
	}
	sk := s.scope.Key()
	vers, err := s.allVersions(ctx, sk, name)
	if err != nil {
		return nil, err
	}
	if len(vers) == 0 {
		return nil, fmt.Errorf("secret %q: %w", name, ErrNotFound)
	}
	limit := ClampHistory(n, s.sh.history)
	if len(vers) > limit {
		vers = vers[len(vers)-limit:]
	}
	got, err := s.sh.st.Get(ctx, vers...)
	if err != nil {
		return nil, err
	}
	now := s.sh.now()
	out := make([]*Secret, 0, len(vers))
	for i := len(vers) - 1; i >= 0; i-- {
		if got[i] == nil {
			continue
		}
		var v int64
		if _, err := fmt.Sscanf(vers[i][len(versionPrefix(sk, name)):], "%x", &v); err != nil {
			return nil, s.sh.integrity(vers[i], name)
		}
		sec, err := s.sh.open(vers[i], sk, name, v, got[i])
		if err != nil {
			return nil, err
		}
		if sec.Expired(now) {
			sec = sec.Metadata()
		}
		out = append(out, sec)
	}
	return out, nil
}

func (s *Barrier) updateTags(ctx context.Context, name string, set map[string]string, del []string) error {
	if err := s.check(name); err != nil {
		return err
	}
	sk := s.scope.Key()
	ck := currentKey(sk, name)
	for range s.sh.retries {
		keysCond, err := s.sh.writable()
		if err != nil {
			return err
		}
		curData, cur, err := s.readCurrent(ctx, sk, name)
		if err != nil {
			return err
		}
		if cur == nil {
			return fmt.Errorf("secret %q: %w", name, ErrNotFound)
		}
		tags, err := ApplyTags(cur.Tags, set, del)
		if err != nil {
			return fmt.Errorf("secret %q: %w", name, err)
		}
		next := cur.Clone()
		next.Tags = maps.Clone(tags)
		next.UpdatedAt = s.sh.now().UTC().Truncate(time.Millisecond)
		cdata, err := s.sh.seal(ck, next)
		if err != nil {
			return err
		}
		writes := []Write{{ck, cdata}}
		vk := versionKey(sk, name, next.Version)
		if got, err := s.sh.st.Get(ctx, vk); err != nil {
			return err
		} else if got[0] != nil {
			vdata, err := s.sh.seal(vk, next)
			if err != nil {
				return err
			}
			writes = append(writes, Write{vk, vdata})
		}
		ev := AuditEvent{Op: OpTag, Scope: sk, Name: name, Version: next.Version, Outcome: OutcomeAllowed}
		err = s.sh.audit.commitWith(ctx, []Cond{{ck, curData}, keysCond}, writes, ev)
		if errors.Is(err, ErrConflict) {
			if err := s.sh.refresh(ctx); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		s.sh.written(ctx, Key{s.scope, name}, next.Version)
		return nil
	}
	return fmt.Errorf("secret %q: %w: gave up after %d concurrent writes", name, ErrConflict, s.sh.retries)
}

// SetTags implements Store.
func (s *Barrier) SetTags(ctx context.Context, name string, tags map[string]string) error {
	return s.updateTags(ctx, name, tags, nil)
}

// DeleteTags implements Store.
func (s *Barrier) DeleteTags(ctx context.Context, name string, keys ...string) error {
	return s.updateTags(ctx, name, nil, keys)
}

// eachCurrent calls fn for every current record of every scope.
func (b *barrier) eachCurrent(ctx context.Context, fn func(k Key, sec *Secret) error) error {
	after := ""
	for {
		keys, err := b.st.List(ctx, kindCurrent+"/", after, 500)
		if err != nil || len(keys) == 0 {
			return err
		}
		got, err := b.st.Get(ctx, keys...)
		if err != nil {
			return err
		}
		for i, rk := range keys {
			if got[i] == nil {
				continue
			}
			sc, name, err := parseCurrentKey(rk)
			if err != nil {
				return err
			}
			sec, err := b.open(rk, sc.Key(), name, 0, got[i])
			if err != nil {
				return err
			}
			if err := fn(Key{sc, name}, sec); err != nil {
				return err
			}
		}
		after = keys[len(keys)-1]
	}
}

// Sweep implements Sweeper: every expired secret, in every scope, is
// deleted with its history.
func (s *Barrier) Sweep(ctx context.Context) ([]Key, error) {
	now := s.sh.now()
	var doomed []Key
	err := s.sh.eachCurrent(ctx, func(k Key, sec *Secret) error {
		if sec.Expired(now) {
			doomed = append(doomed, k)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, k := range doomed {
		if _, err := s.deleteIn(ctx, k.Scope, k.Name, OpSweep); err != nil {
			return nil, err
		}
		s.sh.written(ctx, k, 0)
	}
	if len(doomed) > 0 {
		if err := s.sh.compact(ctx); err != nil {
			return nil, err
		}
	}
	return doomed, nil
}
