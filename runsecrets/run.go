package runsecrets

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"unicode/utf8"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/seal"
)

// Source is where a run reads secrets: by name, as the run's principal, in
// the run's scope. store.RunView is the access-controlled source wfrun uses;
// interpolate.MapSecrets serves tests and embedders with fixed values.
type Source = interpolate.SecretSource

// Writer is the optional part of a Source that UPDATE_SECRET needs: read a
// secret with its metadata (its version, for a compare-and-swap) and write a
// new version. store.RunView implements it.
type Writer interface {
	Get(ctx context.Context, name string) (*store.Secret, error)
	Put(ctx context.Context, name string, value json.RawMessage, ifVersion int64) (*store.Secret, error)
}

// Sentinel errors.
var (
	// ErrNoSource: the run reads a secret but was built without a Source.
	ErrNoSource = errors.New("the run has no secret source")
	// ErrReadOnly: the run writes a secret (UPDATE_SECRET) but its Source
	// does not implement Writer. It is store.ErrReadOnly, so errors.Is
	// matches either name.
	ErrReadOnly = store.ErrReadOnly
	// ErrNotFound is the one "no such secret" sentinel: store.ErrNotFound.
	// A Source that reports a missing name with interpolate.ErrSecretNotFound
	// is translated at this boundary, so errors.Is(err, ErrNotFound) holds
	// for every source.
	ErrNotFound = store.ErrNotFound
	// ErrSealed: a sealed member of a stored document does not open (wrong
	// key, edited bytes, or moved to another run or place).
	ErrSealed = errors.New("cannot unseal")
)

// Needs says what a run will do with secrets, so New can refuse a run it
// could not serve instead of failing a task half-way through.
type Needs struct {
	// Read is true when the run resolves or reads any secret (templates,
	// HTTP auth, EXEC bundles).
	Read bool
	// Write is true when the run writes secrets (UPDATE_SECRET).
	Write bool
}

// Option configures New.
type Option func(*config)

type config struct {
	maskerOpts   []masking.Option
	maskedFields []string
	needs        Needs
	parent       *Run
	also         *masking.Masker
}

// WithMaskerOptions passes options to the run's masker (minimum length,
// logger).
func WithMaskerOptions(opts ...masking.Option) Option {
	return func(c *config) { c.maskerOpts = append(c.maskerOpts, opts...) }
}

// WithMaskedFields names the keys of the workflow input and output that are
// handled like `_secrets` subtrees (the definition's maskedFields).
func WithMaskedFields(fields []string) Option {
	return func(c *config) { c.maskedFields = append([]string(nil), fields...) }
}

// Requiring makes New fail unless the source can serve needs.
func Requiring(needs Needs) Option { return func(c *config) { c.needs = needs } }

// ChildOf makes the run share parent's masker and registered values (a
// SUB_WORKFLOW or failure workflow): a value the parent used is masked in
// the child and the other way round. Sealing stays bound to the child's id.
func ChildOf(parent *Run) Option { return func(c *config) { c.parent = parent } }

// AlsoRegisterWith makes every value the run registers also registered
// with m, a masker of the embedder's own (a process-wide one for its log
// lines, say): values resolved from templates, `_secrets` leaves, both
// sides of an UPDATE_SECRET, values restored from a journal on resume,
// and those of child runs (ChildOf shares the parent's registry, so a
// child forwards to the masker its parent was given, and to its own if it
// names another). Each value is passed on once per run, as the run's
// masker gets it; m applies its own minimum length, and its own logger to
// the warning about a shorter value (give it masking.WithLogger(nil) so
// that the run's masker alone warns). m keeps a value once however many
// runs register it (masking.Masker.RegisterAll). m is not told which ids
// the run keeps whole (KeepID): a value found inside a run or task id is
// masked there.
func AlsoRegisterWith(m *masking.Masker) Option { return func(c *config) { c.also = m } }

// Run is the secret lifecycle of one workflow run. It is safe for
// concurrent use by the run's tasks.
type Run struct {
	id           string
	src          Source
	ring         *seal.Keyring
	maskedFields []string
	reg          *registry
}

// registry is the masker and what was registered with it, shared by a run
// and its child runs.
type registry struct {
	masker *masking.Masker
	mu     sync.Mutex
	seen   map[string]bool // value → accepted by the masker
	values []string        // in registration order: the journal
	// views masks copies of `_masked` leaves in displayed documents.
	views *masking.Masker
	// journals caches each run's sealed Journal by how many values it holds.
	journals map[string]journal
	// also are the embedders' maskers (AlsoRegisterWith) that every value
	// accepted by masker is registered with too.
	also []*masking.Masker
}

// New returns the secret boundary of run id. src may be nil for a run that
// uses no secret (Requiring reports the ones that do); ring seals what the
// run stores and must be the same in every process that resumes the run.
func New(id string, src Source, ring *seal.Keyring, opts ...Option) (*Run, error) {
	if id == "" {
		return nil, errors.New("runsecrets: empty run id")
	}
	if ring == nil {
		return nil, errors.New("runsecrets: a keyring is required (it seals what the run stores)")
	}
	var c config
	for _, o := range opts {
		o(&c)
	}
	if c.needs.Read || c.needs.Write {
		if src == nil {
			return nil, fmt.Errorf("run %s uses secrets: %w (configure one: a store view, interpolate.MapSecrets, ...)", id, ErrNoSource)
		}
	}
	if c.needs.Write {
		if _, ok := src.(Writer); !ok {
			return nil, fmt.Errorf("run %s writes secrets (UPDATE_SECRET) but its source %T cannot: %w", id, src, ErrReadOnly)
		}
	}
	r := &Run{id: id, src: src, ring: ring, maskedFields: c.maskedFields}
	if c.parent != nil {
		r.reg = c.parent.reg
	} else {
		r.reg = &registry{
			masker: masking.New(c.maskerOpts...),
			views:  masking.New(masking.WithLogger(nil)),
			seen:   map[string]bool{},
		}
	}
	if c.also != nil {
		r.reg.addAlso(c.also)
	}
	// The run's own id is shown as it is (its workflowId): a value found
	// inside it is not masked there (masking.Masker.KeepID says why).
	r.reg.masker.KeepID(id)
	return r, nil
}

// KeepID names id, an id generated by the engine (or by the server a
// worker works for) and shown as it is — another run's (a child's, the
// failed run's of a failure run, one START_WORKFLOW started), a polled
// task's — as an id the run's masker leaves whole (masking.Masker.KeepID):
// false unless id is a lowercase UUID. Each run's own id is kept by New.
func (r *Run) KeepID(id string) bool { return r.reg.masker.KeepID(id) }

// KeepIDsWhere is KeepID for ids the engine makes by a rule (a run's task
// ids carry its tag): masking.Masker.KeepIDsWhere.
func (r *Run) KeepIDsWhere(match func(id []byte) bool) { r.reg.masker.KeepIDsWhere(match) }

// ID returns the run id bound into every seal.
func (r *Run) ID() string { return r.id }

// Masker returns the run's masker. Prefer the Run's own methods, which also
// keep the journal that Resume needs; the masker is exposed for streaming
// (masking.Writer) and for slog handlers.
func (r *Run) Masker() *masking.Masker { return r.reg.masker }

// MaskedFields returns the maskedFields the run seals.
func (r *Run) MaskedFields() []string { return append([]string(nil), r.maskedFields...) }

// RegisterValues registers several values at once.
func (r *Run) RegisterValues(values ...string) { r.register(values...) }

func (r *Run) register(values ...string) int {
	reg := r.reg
	reg.mu.Lock()
	defer reg.mu.Unlock()
	var fresh []string
	for _, v := range values {
		// "***" is what a masked value became (a `_secrets` leaf of a
		// message or document that left a run masked, fed back as input):
		// no value, and too short to register, it would only warn.
		if v == masking.Redacted {
			continue
		}
		if _, seen := reg.seen[v]; !seen && v != "" {
			reg.seen[v] = true
			fresh = append(fresh, v)
		}
	}
	if len(fresh) == 0 {
		return 0
	}
	reg.values = append(reg.values, fresh...)
	// One automaton rebuild for the batch.
	if n := reg.masker.RegisterAll(fresh...); n != len(fresh) && len(fresh) == 1 {
		reg.seen[fresh[0]] = false
	}
	// This is the one place a run's values reach its masker (resolution,
	// `_secrets` leaves, UPDATE_SECRET, Restore, child runs): the
	// embedders' maskers learn them here too. Each applies its own minimum
	// length (and its own logger to the warning about a shorter value).
	for _, m := range reg.also {
		m.RegisterAll(fresh...)
	}
	return len(fresh)
}

// addAlso adds m to the maskers every registered value is passed on to
// (AlsoRegisterWith), with the values registered so far (a child run
// naming a masker its parent did not have).
func (reg *registry) addAlso(m *masking.Masker) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	for _, a := range reg.also {
		if a == m {
			return
		}
	}
	reg.also = append(reg.also, m)
	if len(reg.values) > 0 {
		m.RegisterAll(reg.values...)
	}
}

// Register is the door for a value that entered the run by any other way
// than the methods below (an embedder's own credential, say). It reports
// false when the value is too short to mask (under 4 bytes by default).
func (r *Run) Register(value string) bool {
	r.register(value)
	r.reg.mu.Lock()
	defer r.reg.mu.Unlock()
	return r.reg.seen[value]
}

// RegisterSecret registers a secret's JSON value: the text of a JSON string,
// or the compact JSON of anything else (the masker then registers its string
// and number leaves and the whole document); for an EXEC bundle, its values
// only (secretTexts).
func (r *Run) RegisterSecret(raw []byte) {
	r.register(secretTexts(raw)...)
}

// secretTexts are the texts to register for a secret's JSON value: its
// text (secretText), or for an EXEC bundle (store.ParseBundle) the values
// of its variables and the contents of its files, and nothing else. A
// bundle's variable names and file paths are not secret (`wfrun secret
// get` lists them, the command names them); registered, they would mask
// innocent text such as DEPLOY_TOKEN wherever it appears.
func secretTexts(raw []byte) []string {
	if texts, ok := bundleTexts(raw); ok {
		return texts
	}
	return []string{secretText(raw)}
}

// bundleTexts are the values and file contents of raw when it is a bundle.
func bundleTexts(raw []byte) ([]string, bool) {
	b, ok := store.ParseBundle(raw)
	if !ok {
		return nil, false
	}
	out := make([]string, 0, len(b.EnvVars)+len(b.Files))
	for _, v := range b.EnvVars {
		out = append(out, v.Value)
	}
	for _, f := range b.Files {
		out = append(out, f.Content)
	}
	return out, true
}

// secretText is the text a task would send for a secret value.
func secretText(raw []byte) string {
	v := bytes.TrimSpace(raw)
	if len(v) > 0 && v[0] == '"' {
		// A string without escapes is its own text (the usual token).
		if in := v[1:]; len(in) > 0 && in[len(in)-1] == '"' && plainJSONText(in[:len(in)-1]) {
			return string(in[:len(in)-1])
		}
		var s string
		if json.Unmarshal(v, &s) == nil {
			return s
		}
	}
	return string(v)
}

// plainJSONText reports whether b, between quotes, is a JSON string that
// decodes to exactly b: valid UTF-8 with no quote, backslash or control
// character.
func plainJSONText(b []byte) bool {
	for _, c := range b {
		if c < 0x20 || c == '"' || c == '\\' {
			return false
		}
	}
	return utf8.Valid(b)
}

// Secret reads secret name through the run's source and registers its value
// before returning it: the door for HTTP auth credentials and EXEC bundles.
// A missing name is ErrNotFound whatever the source.
func (r *Run) Secret(ctx context.Context, name string) ([]byte, error) {
	if r.src == nil {
		return nil, fmt.Errorf("secret %q: %w", name, ErrNoSource)
	}
	raw, err := r.src.Secret(ctx, name)
	if err != nil {
		return nil, normalise(name, err)
	}
	r.RegisterSecret(raw)
	return raw, nil
}

// Get reads a secret with its metadata (UPDATE_SECRET's compare-and-swap
// loop) and registers its value: the value a rotation replaces stays live
// during the grace window, so it stays masked.
func (r *Run) Get(ctx context.Context, name string) (*store.Secret, error) {
	w, err := r.writer(name)
	if err != nil {
		return nil, err
	}
	s, err := w.Get(ctx, name)
	if s != nil && len(s.Value) > 0 {
		r.RegisterSecret(s.Value)
	}
	if err != nil {
		return s, normalise(name, err)
	}
	return s, nil
}

// Put writes a new version of a secret (UPDATE_SECRET). The new value is
// registered before it is written, so it is masked from the moment it
// exists.
func (r *Run) Put(ctx context.Context, name string, value json.RawMessage, ifVersion int64) (*store.Secret, error) {
	w, err := r.writer(name)
	if err != nil {
		return nil, err
	}
	r.RegisterSecret(value)
	s, err := w.Put(ctx, name, value, ifVersion)
	if err != nil {
		return s, normalise(name, err)
	}
	return s, nil
}

func (r *Run) writer(name string) (Writer, error) {
	if r.src == nil {
		return nil, fmt.Errorf("secret %q: %w", name, ErrNoSource)
	}
	w, ok := r.src.(Writer)
	if !ok {
		return nil, fmt.Errorf("secret %q: %w", name, ErrReadOnly)
	}
	return w, nil
}

// normalise makes a "not found" from any source match ErrNotFound (and
// still interpolate.ErrSecretNotFound when that is what the source said).
func normalise(name string, err error) error {
	if errors.Is(err, interpolate.ErrSecretNotFound) && !errors.Is(err, store.ErrNotFound) {
		return &notFound{name: name, err: err}
	}
	return err
}

type notFound struct {
	name string
	err  error
}

func (e *notFound) Error() string {
	return fmt.Sprintf("secret %q: %v", e.name, store.ErrNotFound)
}
func (e *notFound) Unwrap() []error { return []error{store.ErrNotFound, e.err} }

// Reread reads names again and registers their values: after a resume, the
// secrets the definition names statically (template references, HTTP auth,
// EXEC bundles, UPDATE_SECRET keys). Names that no longer resolve are
// skipped: the task that needs one fails when it runs.
func (r *Run) Reread(ctx context.Context, names []string) {
	if r.src == nil || len(names) == 0 {
		return
	}
	if b, ok := r.src.(interpolate.BatchSecretSource); ok {
		vals, _, err := b.Secrets(ctx, names)
		if err == nil {
			for _, v := range vals {
				r.RegisterSecret(v)
			}
			return
		}
	}
	for _, n := range names {
		if v, err := r.src.Secret(ctx, n); err == nil {
			r.RegisterSecret(v)
		}
	}
}

// sourceOnly hides a Writer: interpolate only ever reads.
type sourceOnly struct{ r *Run }

func (s sourceOnly) Secret(ctx context.Context, name string) ([]byte, error) {
	if s.r.src == nil {
		return nil, interpolate.ErrNoSecretSource
	}
	v, err := s.r.src.Secret(ctx, name)
	if err != nil {
		return nil, normalise(name, err)
	}
	return v, nil
}

// batchSource keeps a source's one-round-trip lookup.
type batchSource struct{ sourceOnly }

func (s batchSource) Secrets(ctx context.Context, names []string) (map[string][]byte, map[string]error, error) {
	vals, errs, err := s.r.src.(interpolate.BatchSecretSource).Secrets(ctx, names)
	for n, e := range errs {
		errs[n] = normalise(n, e)
	}
	return vals, errs, err
}

func (r *Run) source() interpolate.SecretSource {
	if r.src == nil {
		return nil
	}
	if _, ok := r.src.(interpolate.BatchSecretSource); ok {
		return batchSource{sourceOnly{r}}
	}
	return sourceOnly{r}
}

type ctxKey struct{}

// NewContext returns ctx carrying run, for code that the engine calls with a
// context only (a worker function): it can then mask its own text, before
// it cuts it, with FromContext(ctx).
func NewContext(ctx context.Context, run *Run) context.Context {
	return context.WithValue(ctx, ctxKey{}, run)
}

// FromContext returns the Run NewContext put in ctx, or nil.
func FromContext(ctx context.Context) *Run {
	r, _ := ctx.Value(ctxKey{}).(*Run)
	return r
}

// ForTask returns ctx marked for the secret reads task taskRef of this run
// makes (store.ForRun): the store's audit trail records the run id and the
// task with every read. Pass it to Resolve and to the task's executor.
func (r *Run) ForTask(ctx context.Context, taskRef string) context.Context {
	if run, task := store.RunOf(ctx); run == r.id && task == taskRef {
		return ctx // already marked: a task's steps share one context
	}
	return store.ForRun(ctx, r.id, taskRef)
}
