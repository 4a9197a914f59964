package interpolate

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"unsafe"

	"github.com/tidwall/gjson"
	"github.com/wfrun/wfrun/internal/jsonenc"
)

// Mode selects whether workflow.secrets.* references are resolved.
type Mode int

const (
	// DeferSecrets resolves everything except workflow.secrets.*, which stay exactly as
	// written ("${workflow.secrets.X}"). This is what the engine stores.
	DeferSecrets Mode = iota
	// ResolveSecrets resolves everything: the transient copy handed to a task's executor.
	// Always run it over the original template, never over a stored DeferSecrets output.
	ResolveSecrets
)

// Secret is one secret value resolved during an Execute, reported so a masker can register it.
type Secret struct {
	Name  string
	Value string
}

// Execute resolves the template against env and appends the resulting JSON to dst, which may
// be nil. A document without expressions is copied as is: with a dst of enough capacity that
// costs no allocation (a nil dst allocates one copy; the template's own bytes are never handed
// out, so callers may modify the result).
//
// used lists every secret value substituted, one entry per non-empty string or number leaf
// (strings unescaped). Values are never part of an error. On error out and used are nil.
func (t *Template) Execute(ctx context.Context, env Env, mode Mode, dst []byte) (out []byte, used []Secret, err error) {
	if len(t.nodes) == 0 {
		return append(dst, t.src...), nil, nil
	}
	st := state{ctx: ctx, env: env, mode: mode, t: t}
	out, err = t.run(&st, dst)
	if err != nil {
		return nil, nil, err
	}
	return out, st.used, nil
}

// run writes the document with every node resolved by st after dst.
func (t *Template) run(st *state, dst []byte) (out []byte, err error) {
	out = dst
	prev := 0
	for _, n := range t.nodes {
		out = append(out, t.src[prev:n.start]...)
		out, err = st.node(out, n)
		if err != nil {
			return nil, err
		}
		prev = n.end
	}
	return append(out, t.src[prev:]...), nil
}

// state is per-Execute: the template itself is never written to.
type state struct {
	ctx  context.Context
	env  Env
	mode Mode
	t    *Template

	wf     []byte
	wfDone bool

	secrets  map[string][]byte // fetched secret values (JSON), this execution only
	secErrs  map[string]error
	prefetch bool
	used     []Secret
	usedSet  map[Secret]struct{} // index of used once it is long enough to need one
	tmp      []byte

	holes  []Hole // ExecuteDeferred: where the deferred secret references are
	record bool
}

// value is a resolved expression: raw JSON text, or missing.
type value struct {
	raw     string
	missing bool
	literal bool // keep the expression text as written (deferred secret, unset task id)
}

func (st *state) node(out []byte, n *strNode) ([]byte, error) {
	if n.constant != nil {
		return append(out, n.constant...), nil
	}
	if n.whole {
		x := n.parts[0].x
		v, err := st.eval(n, x, 0)
		if err != nil {
			return nil, err
		}
		switch {
		case v.literal:
			start := len(out)
			out = append(out, '"')
			out = jsonenc.AppendStringBody(out, x.src)
			out = append(out, '"')
			st.hole(n, x, start, len(out), true)
			return out, nil
		case v.missing:
			return append(out, "null"...), nil
		}
		return append(out, v.raw...), nil
	}
	out = append(out, '"')
	for _, p := range n.parts {
		if p.x == nil {
			out = append(out, p.lit...)
			continue
		}
		v, err := st.eval(n, p.x, 0)
		if err != nil {
			return nil, err
		}
		start := len(out)
		out = st.appendText(out, p.x, v)
		if v.literal {
			st.hole(n, p.x, start, len(out), false)
		}
	}
	return append(out, '"'), nil
}

// appendText writes an embedded value as the inside of a JSON string: strings as they are,
// numbers and bools in JSON form, objects and arrays as compact JSON, missing and null as "".
func (st *state) appendText(out []byte, x *expr, v value) []byte {
	switch {
	case v.literal:
		return jsonenc.AppendStringBody(out, x.src)
	case v.missing || v.raw == "null":
		return out
	case v.raw[0] == '"':
		// The raw string's inside is already valid JSON-escaped text.
		return append(out, v.raw[1:len(v.raw)-1]...)
	case v.raw[0] == '{' || v.raw[0] == '[':
		st.tmp = st.tmp[:0]
		buf := bytes.NewBuffer(st.tmp)
		if json.Compact(buf, sbytes(v.raw)) == nil {
			st.tmp = buf.Bytes()
			return jsonenc.AppendStringBody(out, bstring(st.tmp))
		}
		return jsonenc.AppendStringBody(out, v.raw)
	default:
		return append(out, v.raw...)
	}
}

// text is a value as plain text, for splicing into an enclosing path.
func text(v value, x *expr) string {
	switch {
	case v.literal:
		return x.src
	case v.missing || v.raw == "null":
		return ""
	case v.raw[0] == '"':
		return gjson.Parse(v.raw).String()
	}
	return v.raw
}

func (st *state) eval(n *strNode, x *expr, depth int) (value, error) {
	r := x.ref
	if r == nil {
		// Nested: resolve inner expressions first and splice their text into the path.
		var path []byte
		for _, p := range x.pieces {
			if p.x == nil {
				path = append(path, p.lit...)
				continue
			}
			v, err := st.eval(n, p.x, depth+1)
			if err != nil {
				return value{}, err
			}
			path = append(path, text(v, p.x)...)
		}
		var err error
		r, err = compileRef(string(path))
		if err != nil {
			return value{}, &Error{Location: n.loc, Offset: x.off, Msg: "computed path: " + err.Error(), Err: unwrapSentinel(err)}
		}
		if r.kind == kindSecret {
			return value{}, &Error{Location: n.loc, Offset: x.off, Msg: "a computed path selects a secret", Err: ErrDynamicSecret}
		}
	}
	switch r.kind {
	case kindEmpty:
		return value{raw: `""`}, nil
	case kindTaskID:
		id := st.env.TaskID()
		if id == "" {
			return value{literal: true}, nil
		}
		return value{raw: string(jsonenc.AppendString(nil, id))}, nil
	case kindWorkflow:
		if !st.wfDone {
			st.wf, st.wfDone = st.env.Workflow(), true
		}
		return st.selectIn(n, x, st.wf, r.path, "workflow")
	case kindTask:
		if ts, ok := st.env.(TaskSelector); ok && !r.path.empty && r.path.jp == nil {
			if raw, found, handled := ts.SelectTask(r.name, r.path.gpath); handled {
				if !found {
					return value{missing: true}, nil
				}
				if !gjson.Valid(raw) {
					return value{}, &Error{Location: n.loc, Offset: x.off, Msg: "task " + r.name + " document is not valid JSON", Err: ErrBadDocument}
				}
				return value{raw: raw}, nil
			}
		}
		doc, ok := st.env.Task(r.name)
		if !ok {
			return value{missing: true}, nil
		}
		return st.selectIn(n, x, doc, r.path, "task "+r.name)
	case kindEnv:
		vs := st.env.EnvValues()
		if vs == nil {
			return value{missing: true}, nil
		}
		doc, ok, err := vs.Value(st.ctx, r.name)
		if err != nil {
			return value{}, &Error{Location: n.loc, Offset: x.off, Msg: "env value " + quote(r.name) + " unavailable", Err: err}
		}
		if !ok {
			return value{missing: true}, nil
		}
		return st.selectIn(n, x, doc, r.path, "env value "+r.name)
	case kindSecret:
		if st.mode != ResolveSecrets {
			return value{literal: true}, nil
		}
		return st.secret(n, x, r)
	}
	return value{missing: true}, nil
}

func (st *state) selectIn(n *strNode, x *expr, doc []byte, p docPath, what string) (value, error) {
	v, ok, err := selectPath(doc, p)
	if err != nil {
		return value{}, &Error{Location: n.loc, Offset: x.off, Msg: what + " document is not valid JSON", Err: ErrBadDocument}
	}
	if !ok {
		return value{missing: true}, nil
	}
	return value{raw: v}, nil
}

// selectPath returns the raw JSON selected by p in doc. Definite gjson paths return a slice of
// doc itself (no copy); the fragment is checked with json.Valid so a broken document can never
// produce invalid output.
func selectPath(doc []byte, p docPath) (string, bool, error) {
	if p.empty {
		if len(bytes.TrimSpace(doc)) == 0 {
			return "", false, nil
		}
		if !gjson.ValidBytes(doc) {
			return "", false, ErrBadDocument
		}
		return bstring(doc), true, nil
	}
	if p.jp == nil {
		r := gjson.Get(bstring(doc), p.gpath)
		if !r.Exists() {
			return "", false, nil
		}
		if !gjson.Valid(r.Raw) {
			return "", false, ErrBadDocument
		}
		return r.Raw, true, nil
	}
	if !gjson.ValidBytes(doc) {
		return "", false, ErrBadDocument
	}
	res := p.jp.Get(decodeOrdered(gjson.ParseBytes(doc)))
	var sel any
	if p.indefinite {
		if res == nil {
			res = []any{}
		}
		sel = res
	} else {
		if len(res) == 0 {
			return "", false, nil
		}
		sel = res[0]
	}
	return string(appendOrdered(nil, sel)), true, nil
}

func (st *state) secret(n *strNode, x *expr, r *ref) (value, error) {
	fail := func(msg string, err error) (value, error) {
		return value{}, &Error{Location: n.loc, Offset: x.off, Secret: r.name, Msg: msg, Err: err}
	}
	src := st.env.Secrets()
	if src == nil {
		return fail("cannot be resolved", ErrNoSecretSource)
	}
	raw, err := st.fetch(src, r.name)
	if err != nil {
		return fail("cannot be resolved", err)
	}
	v, ok, err := selectPath(raw, r.path)
	if err != nil {
		return fail("value is not valid JSON", ErrSecretValue)
	}
	if !ok {
		return fail("field "+quote(r.path.text)+" not found", ErrSecretValue)
	}
	st.appendLeaves(r.name, v)
	return value{raw: v}, nil
}

// fetch returns a secret's JSON value, prefetching every static name in one call when the
// source supports batches (one round trip per task for a remote store).
func (st *state) fetch(src SecretSource, name string) ([]byte, error) {
	if b, ok := src.(BatchSecretSource); ok && !st.prefetch {
		st.prefetch = true
		vals, errs, err := b.Secrets(st.ctx, st.t.secretNames)
		if err != nil {
			return nil, err
		}
		st.secrets, st.secErrs = vals, errs
	}
	if st.prefetch {
		if err := st.secErrs[name]; err != nil {
			return nil, err
		}
		if v, ok := st.secrets[name]; ok {
			return v, nil
		}
		return nil, ErrSecretNotFound
	}
	// A plain source is asked each time: caching here would cost a map per Execute, and a
	// source that is slow to ask should implement BatchSecretSource.
	return src.Secret(st.ctx, name)
}

// appendLeaves reports each non-empty string or number leaf of a secret value (raw JSON).
func (st *state) appendLeaves(name string, raw string) {
	switch raw[0] {
	case '"':
		if len(raw) > 2 {
			st.addUsed(Secret{Name: name, Value: unquote(raw)})
		}
	case '{', '[':
		gjson.Parse(raw).ForEach(func(_, v gjson.Result) bool {
			st.appendLeaves(name, v.Raw)
			return true
		})
	case 't', 'f', 'n':
	default:
		st.addUsed(Secret{Name: name, Value: strings.Clone(raw)})
	}
}

// usedScanMax is how many used entries a linear scan checks before addUsed indexes them
// in a map: below it the scan is cheaper than hashing and allocates nothing, above it
// the scan would make a template with many references quadratic.
const usedScanMax = 8

// addUsed appends s to st.used unless it is already there. st.used keeps first-use order.
func (st *state) addUsed(s Secret) {
	if st.usedSet == nil {
		for _, u := range st.used {
			if u == s {
				return
			}
		}
		st.used = append(st.used, s)
		if len(st.used) > usedScanMax {
			st.usedSet = make(map[Secret]struct{}, 2*len(st.used))
			for _, u := range st.used {
				st.usedSet[u] = struct{}{}
			}
		}
		return
	}
	if _, ok := st.usedSet[s]; ok {
		return
	}
	st.usedSet[s] = struct{}{}
	st.used = append(st.used, s)
}

func quote(s string) string { return string(jsonenc.AppendString(nil, s)) }

// bstring and sbytes view bytes as a string and back without copying. Used only on data that
// is not modified while the view is alive (documents handed in by the Env for one call).
func bstring(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

func sbytes(s string) []byte {
	if s == "" {
		return nil
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
