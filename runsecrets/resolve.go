package runsecrets

import (
	"bytes"
	"context"
	"sync"

	"github.com/wfrun/wfrun/interpolate"
)

// Resolve executes a compiled template in both modes, from one walk of
// the compiled form (interpolate.Template.ExecuteSplit), and returns:
//
//   - stored: everything resolved except secret references, which stay
//     exactly as written (${workflow.secrets.X}): what the run keeps;
//   - transient: everything resolved, secret values included: what the
//     task's executor receives and drops;
//
// and registers every secret value it substituted before returning, so
// whatever the task does with them afterwards is masked. Secrets are read
// through the run's source, whatever env.Secrets says. A template without
// secret references returns the same slice twice. When only a secret
// cannot be resolved, stored is returned with the error (and no transient).
func (r *Run) Resolve(ctx context.Context, tpl *interpolate.Template, env interpolate.Env) (stored, transient []byte, err error) {
	if !tpl.HasSecrets() {
		stored, _, err = tpl.Execute(ctx, envWith{Env: env, src: r.source()}, interpolate.DeferSecrets, outBuf(tpl))
		if err != nil {
			return nil, nil, err
		}
		return stored, stored, nil
	}
	rec, src := r.recorder()
	stored, transient, used, err := tpl.ExecuteSplit(ctx, envWith{Env: env, src: src}, outBuf(tpl), outBuf(tpl))
	if err != nil {
		return stored, nil, err
	}
	r.registerResolved(rec, used)
	return stored, transient, nil
}

// ResolveOnly is the transient half of Resolve: every reference resolved,
// every substituted value registered.
func (r *Run) ResolveOnly(ctx context.Context, tpl *interpolate.Template, env interpolate.Env) ([]byte, error) {
	rec, src := r.recorder()
	out, used, err := tpl.Execute(ctx, envWith{Env: env, src: src}, interpolate.ResolveSecrets, outBuf(tpl))
	if err != nil {
		return nil, err
	}
	r.registerResolved(rec, used)
	return out, nil
}

// recorder returns the run's secret source wrapped to remember the values
// it returns (nil when the run has no source).
func (r *Run) recorder() (*recording, interpolate.SecretSource) {
	rec := newRecording(r.source())
	var src interpolate.SecretSource = rec
	if _, ok := rec.src.(interpolate.BatchSecretSource); ok {
		src = batchRecording{rec}
	}
	if rec.src == nil {
		src = nil
	}
	return rec, src
}

// registerResolved registers the values a resolution substituted (used),
// with rec the values its source returned.
func (r *Run) registerResolved(rec *recording, used []interpolate.Secret) {
	switch {
	case len(used) == 1 && rec.isText(used[0].Name, used[0].Value):
		// The usual task: one string secret, used whole; its text is the
		// one value to register.
		r.register(used[0].Value)
	case len(used) > 0:
		r.register(usedValues(rec, used)...)
	}
}

// usedValues are the texts to register for the values a resolution
// substituted (used), with rec the values its source returned: each leaf,
// and each secret's whole value (a JSON secret whose fields are all too
// short to mask is still masked where it appears whole). A bundle's leaves
// are left out, its names and paths among them: its values and contents
// stand for it (secretTexts).
func usedValues(rec *recording, used []interpolate.Secret) []string {
	vals := make([]string, 0, len(used)+1)
	// Names whose whole value is in vals, true for a bundle; one name
	// needs no map.
	var seen map[string]bool
	for _, s := range used {
		if bundle, done := seen[s.Name]; done {
			if !bundle {
				vals = append(vals, s.Value)
			}
			continue
		}
		raw, ok := rec.get(s.Name)
		if !ok {
			vals = append(vals, s.Value)
			continue
		}
		texts, bundle := bundleTexts(raw)
		if bundle {
			vals = append(vals, texts...)
		} else {
			vals = append(vals, s.Value, secretText(raw))
		}
		if len(used) > 1 {
			if seen == nil {
				seen = map[string]bool{}
			}
			seen[s.Name] = bundle
		}
	}
	return vals
}

// isText reports whether the value recorded for name is a JSON string
// whose text is text: secretText of it would be text again.
func (s *recording) isText(name, text string) bool {
	raw, ok := s.get(name)
	if !ok {
		return false
	}
	v := bytes.TrimSpace(raw)
	return len(v) == len(text)+2 && v[0] == '"' && v[len(v)-1] == '"' && string(v[1:len(v)-1]) == text
}

// outBuf is room for a template's output: its source and some, so that a
// document whose references resolve to short values is written without
// growing.
func outBuf(tpl *interpolate.Template) []byte {
	return make([]byte, 0, len(tpl.Source())+64)
}

// recording is a source that remembers the raw values it returned.
type recording struct {
	src interpolate.SecretSource
	mu  sync.Mutex
	// raw holds the values by name: a short list scanned (a task reads a
	// few secrets), indexed once it grows past recordScanMax.
	raw   []namedRaw
	index map[string][]byte
	// first is raw's room for the usual task's one secret, in the same
	// allocation as the recording.
	first [1]namedRaw
}

type namedRaw struct {
	name string
	raw  []byte
}

const recordScanMax = 8

func newRecording(src interpolate.SecretSource) *recording {
	rec := &recording{src: src}
	rec.raw = rec.first[:0]
	return rec
}

func (s *recording) put(name string, v []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index != nil {
		s.index[name] = v
		return
	}
	for i := range s.raw {
		if s.raw[i].name == name {
			s.raw[i].raw = v
			return
		}
	}
	if len(s.raw) < recordScanMax {
		s.raw = append(s.raw, namedRaw{name, v})
		return
	}
	s.index = make(map[string][]byte, 2*len(s.raw))
	for _, n := range s.raw {
		s.index[n.name] = n.raw
	}
	s.index[name], s.raw = v, nil
}

func (s *recording) get(name string) ([]byte, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.index != nil {
		v, ok := s.index[name]
		return v, ok
	}
	for _, n := range s.raw {
		if n.name == name {
			return n.raw, true
		}
	}
	return nil, false
}

func (s *recording) Secret(ctx context.Context, name string) ([]byte, error) {
	v, err := s.src.Secret(ctx, name)
	if err == nil {
		s.put(name, v)
	}
	return v, err
}

type batchRecording struct{ *recording }

func (s batchRecording) Secrets(ctx context.Context, names []string) (map[string][]byte, map[string]error, error) {
	vals, errs, err := s.src.(interpolate.BatchSecretSource).Secrets(ctx, names)
	for n, v := range vals {
		s.put(n, v)
	}
	return vals, errs, err
}

// envWith is env with the run's secret source.
type envWith struct {
	interpolate.Env
	src interpolate.SecretSource
}

func (e envWith) Secrets() interpolate.SecretSource { return e.src }

// SelectTask passes the environment's own lookups into large task documents
// through (interpolate.TaskSelector): embedding the Env interface alone
// would hide them.
func (e envWith) SelectTask(ref, gpath string) (raw string, found, handled bool) {
	if ts, ok := e.Env.(interpolate.TaskSelector); ok {
		return ts.SelectTask(ref, gpath)
	}
	return "", false, false
}

var _ interpolate.TaskSelector = envWith{}
