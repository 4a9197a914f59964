package masking

import (
	"context"
	"log/slog"
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
// concurrently: Register builds a new automaton and swaps it in atomically,
// so masking never waits for a registration.
type Masker struct {
	minLen int
	logger *slog.Logger

	mu       sync.Mutex // serialises Register; never held while masking
	seen     map[string]struct{}
	patterns []string

	snap atomic.Pointer[matcher]
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

// New returns an empty Masker.
func New(opts ...Option) *Masker {
	m := &Masker{minLen: DefaultMinLength, seen: map[string]struct{}{}, logger: slog.Default()}
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

// RegisterAll registers several values with a single automaton rebuild and
// reports how many were accepted. Use it when a run starts with many secrets:
// every call rebuilds the automaton from all registered patterns (about
// 0.1 ms with 10 values, 10 ms with 1 000, 100–200 ms with 10 000 on the
// benchmark machine; see BenchmarkRegister), while masking goes on with the
// previous automaton until the new one is swapped in.
func (m *Masker) RegisterAll(values ...string) int {
	accepted := 0
	var forms []string
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
		forms = derive(v, m.minLen, forms)
	}
	if len(forms) == 0 {
		return accepted
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	added := false
	for _, f := range forms {
		if _, ok := m.seen[f]; ok {
			continue
		}
		m.seen[f] = struct{}{}
		m.patterns = append(m.patterns, f)
		added = true
	}
	if added {
		// Copy-on-write: readers keep using the previous automaton until the
		// swap, which is fine because Register has not returned yet.
		a := buildAutomaton(m.patterns)
		m.snap.Store(&matcher{ac: a, maxLen: a.maxLen, hasStar: a.hasStar})
	}
	return accepted
}

// Len reports the number of registered patterns (values plus derived forms,
// without duplicates).
func (m *Masker) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.patterns)
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
	return m.snap.Load().mask(b)
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
