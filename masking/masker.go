package masking

import (
	"context"
	"index/suffixarray"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"unsafe"
)

// Redacted replaces every masked value.
const Redacted = "***"

// DefaultMinLength is the shortest value Register accepts. Shorter values
// would mask common words and make logs unreadable (the Azure Pipelines agent
// and google-github-actions use 4–6 for the same reason).
const DefaultMinLength = 4

// Masker holds the secret values of one run and replaces them, and their
// encoded forms, by "***". Register and the Mask family may be called
// concurrently: Register publishes a new immutable snapshot atomically
// (see pending.go), so masking never waits for a registration.
type Masker struct {
	minLen int
	logger *slog.Logger

	mu       sync.Mutex // serialises Register; never held while masking
	seen     map[string]struct{}
	patterns []string    // every pattern, in registration order
	built    int         // patterns[:built] are in the automaton
	pend     *pendingSet // patterns[built:], nil until the first one
	patBytes int         // total length of patterns
	raws     []string    // the values themselves, for MaskFragments
	rawText  struct {    // raws joined by NUL and indexed, built on MaskFragments' first need
		n     int
		index *suffixarray.Index
	}

	compacting atomic.Bool // a background rebuild is under way (noteScan)

	since struct { // ContainsAny's matcher of patterns[from:to]
		from, to int
		mt       *matcher
	}

	snap atomic.Pointer[matcher]

	keep *idSet // KeepID's ids (keepids.go), shared by every snapshot

	also *Masker // WithAlso: every value registered here is registered there too
}

// Option configures a Masker.
type Option func(*Masker)

// WithMinLength sets the shortest value (and derived form) that is
// registered. Values below 1 are treated as 1.
func WithMinLength(n int) Option {
	return func(m *Masker) {
		if n < 1 {
			n = 1
		}
		m.minLen = n
	}
}

// WithLogger sets where the warning about a too-short value goes (default
// slog.Default(); nil silences it). The warning names the length, never the
// value.
func WithLogger(l *slog.Logger) Option {
	return func(m *Masker) { m.logger = l }
}

// WithAlso makes every value registered with the Masker also registered
// with m (a process-wide masker for log lines that knows more values than
// this one, say). m applies its own minimum length and logger. The chain
// must not loop back to the Masker.
func WithAlso(m *Masker) Option {
	return func(x *Masker) { x.also = m }
}

// New returns an empty Masker.
func New(opts ...Option) *Masker {
	m := &Masker{minLen: DefaultMinLength, seen: map[string]struct{}{}, logger: slog.Default(), keep: &idSet{}}
	for _, o := range opts {
		o(m)
	}
	return m
}

// Register adds value and its encoded forms (see derive). It returns false,
// and logs a warning, when value is shorter than the minimum length; nothing
// is registered then. Registering a value twice is harmless.
func (m *Masker) Register(value string) bool {
	return m.RegisterAll(value) == 1
}

// RegisterAll registers several values and reports how many were accepted.
// New patterns join a pending set matched beside the automaton; when that
// set would outgrow the automaton, the automaton is rebuilt with every
// pattern (copy-on-write: masking goes on with the previous snapshot until
// the new one is swapped in). Builds thus double in size, and registering N
// values one at a time costs O(N log N) overall, within a small factor of
// one RegisterAll of the same values (BenchmarkRegister). A batch is still
// cheaper than the same values one by one, so pass what you have at once.
func (m *Masker) RegisterAll(values ...string) int {
	if m.also != nil {
		defer m.also.RegisterAll(values...) // after m.mu is released
	}
	accepted := 0
	var forms, vals []string
	for _, v := range values {
		if len(v) < m.minLen {
			if v != "" && m.logger != nil {
				m.logger.LogAttrs(context.Background(), slog.LevelWarn,
					"secret value too short to mask; not registered",
					slog.Int("length", len(v)), slog.Int("minLength", m.minLen))
			}
			continue
		}
		accepted++
		vals = append(vals, v)
		forms = derive(v, m.minLen, forms)
	}
	if len(forms) == 0 {
		return accepted
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var batch map[string]struct{} // a value given twice in one call is kept once
	if len(vals) > 1 {
		batch = make(map[string]struct{}, len(vals))
	}
	for _, v := range vals {
		if _, ok := m.seen[v]; ok {
			continue
		}
		if batch != nil {
			if _, dup := batch[v]; dup {
				continue
			}
			batch[v] = struct{}{}
		}
		m.raws = append(m.raws, v)
	}
	start := len(m.patterns)
	for _, f := range forms {
		if _, ok := m.seen[f]; ok {
			continue
		}
		m.seen[f] = struct{}{}
		m.patterns = append(m.patterns, f)
		m.patBytes += len(f)
	}
	if len(m.patterns) > start {
		m.publish(m.patterns[start:])
	}
	return accepted
}

// publish makes fresh, the patterns just appended, visible to Mask: into
// the pending set while it has room, else by rebuilding the automaton with
// every pattern (copy-on-write: readers keep the previous snapshot until
// the swap, which is fine because Register has not returned yet).
func (m *Masker) publish(fresh []string) {
	cur := m.snap.Load()
	pendCap := max(minPendingCap, m.built)
	if cur == nil || m.pending()+len(fresh) > pendCap {
		m.rebuild()
		return
	}
	if m.pend == nil {
		m.pend = newPendingSet(min(m.minLen, 4), pendCap, m.patBytes)
	}
	next := *cur
	for _, f := range fresh {
		m.pend.add(f)
		next.maxLen = max(next.maxLen, len(f))
		next.hasStar = next.hasStar || strings.IndexByte(f, '*') >= 0
	}
	next.pend = pendView{set: m.pend, n: m.pend.len(), nShort: int32(m.pend.short.n), nLong: int32(m.pend.long.n)}
	m.snap.Store(&next)
}

// rebuild builds the automaton from every pattern and empties the pending
// set. Callers hold m.mu.
func (m *Masker) rebuild() {
	a := buildAutomaton(m.patterns)
	m.built, m.pend = len(m.patterns), nil
	m.snap.Store(&matcher{ac: a, maxLen: a.maxLen, hasStar: a.hasStar, keep: m.keep})
}

func (m *Masker) pending() int {
	if m.pend == nil {
		return 0
	}
	return m.pend.len()
}

// Len reports the number of registered patterns (values plus derived forms,
// without duplicates). It only grows; a value of it is the "since" that
// ContainsAny takes.
func (m *Masker) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.patterns)
}

// ContainsAny reports whether b holds, in any form Mask recognises, one of
// the patterns registered after Len returned since: whether masking b again
// could change it now. An engine that stored documents masked when Len was
// since re-masks only those for which ContainsAny is true, instead of every
// document whenever a value is registered mid-run.
//
// The first call for a given (since, Len) pair builds a small matcher of
// the new patterns only; later calls with the same pair reuse it, so
// checking many stored documents costs one pass over each.
func (m *Masker) ContainsAny(b []byte, since int) bool {
	if m == nil || len(b) == 0 {
		return false
	}
	since = max(since, 0)
	m.mu.Lock()
	to := len(m.patterns)
	if since >= to {
		m.mu.Unlock()
		return false
	}
	c := &m.since
	if c.mt == nil || c.from != since || c.to != to {
		a := buildAutomaton(m.patterns[since:to])
		c.from, c.to, c.mt = since, to, &matcher{ac: a, maxLen: a.maxLen, hasStar: a.hasStar}
	}
	mt := c.mt
	m.mu.Unlock()
	var buf [4]span
	return len(mt.spans(b, buf[:0])) > 0
}

// Mask replaces every occurrence of a registered pattern in b by "***",
// also where b spells it with escapes (see the package documentation for
// the forms); overlapping and adjacent occurrences become a single "***".
// When nothing matches it returns b itself; otherwise a new slice, b is
// never modified.
func (m *Masker) Mask(b []byte) []byte {
	if m == nil {
		return b
	}
	mt := m.snap.Load()
	out := mt.mask(b)
	m.noteScan(mt, len(b))
	return out
}

// MaskString is Mask for strings; it returns s itself when nothing matches.
func (m *Masker) MaskString(s string) string {
	if s == "" {
		return s
	}
	// Mask only reads its input, so scanning the string's bytes in place is
	// safe and saves a copy on the common no-match path.
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	out := m.Mask(b)
	if len(out) == len(b) && (len(out) == 0 || &out[0] == &b[0]) {
		return s
	}
	return string(out)
}

// MaskError returns an error whose Error() is masked and which unwraps to
// err, so errors.Is and errors.As keep working. It returns err itself when
// its message contains nothing to mask, and nil for nil.
func (m *Masker) MaskError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	masked := m.MaskString(msg)
	if masked == msg {
		return err
	}
	return &maskedError{msg: masked, err: err}
}

type maskedError struct {
	msg string
	err error
}

func (e *maskedError) Error() string { return e.msg }
func (e *maskedError) Unwrap() error { return e.err }

var _ interface{ Unwrap() error } = (*maskedError)(nil)
