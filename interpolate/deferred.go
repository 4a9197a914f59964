package interpolate

import (
	"bytes"
	"context"

	"github.com/wfrun/wfrun/internal/jsonenc"
)

// Hole is one secret reference that a DeferSecrets output keeps as written: the bytes
// Doc[Start:End] of its Deferred. Whole: the string was exactly the reference (with its
// quotes in the range, the value keeps its JSON type); otherwise the reference is embedded
// in longer text (the range is inside the string's quotes).
type Hole struct {
	Start    int    `json:"start"`
	End      int    `json:"end"`
	Whole    bool   `json:"whole,omitempty"`
	Expr     string `json:"expr"`     // the reference as written: "${workflow.secrets.NAME…}"
	Location string `json:"location"` // JSON Pointer of the string (errors name it)
	Offset   int    `json:"offset"`   // of the reference in the decoded string
}

// Deferred is a DeferSecrets output together with where its secret references are: what an
// engine keeps for a task whose executor takes its input later (a remote worker's poll), so
// that the references are resolved then (Resolve) — from the stored form itself, without the
// template, its environment, or reading anything but the secrets. Doc is exactly what
// Execute in DeferSecrets mode gives; it holds no secret value.
type Deferred struct {
	Doc   []byte `json:"doc"`
	Holes []Hole `json:"holes,omitempty"`
}

// ExecuteDeferred is Execute in DeferSecrets mode that also records the places of the
// secret references it kept. No secret is read.
func (t *Template) ExecuteDeferred(ctx context.Context, env Env, dst []byte) (Deferred, error) {
	if len(t.nodes) == 0 {
		return Deferred{Doc: append(dst, t.src...)}, nil
	}
	st := state{ctx: ctx, env: env, mode: DeferSecrets, t: t, record: true}
	out, err := t.run(&st, dst)
	if err != nil {
		return Deferred{}, err
	}
	return Deferred{Doc: out, Holes: st.holes}, nil
}

// hole records a deferred secret reference written at out[start:end].
func (st *state) hole(n *strNode, x *expr, start, end int, whole bool) {
	if !st.record || x.ref == nil || x.ref.kind != kindSecret {
		return
	}
	st.holes = append(st.holes, Hole{Start: start, End: end, Whole: whole, Expr: x.src, Location: n.loc, Offset: x.off})
}

// HasSecrets reports whether the document holds secret references to resolve.
func (d Deferred) HasSecrets() bool { return len(d.Holes) > 0 }

// Resolve returns the document with every secret reference resolved from src — what Execute
// in ResolveSecrets mode gives from the same template and environment — and every secret
// value used, as Execute reports them. Errors are the same *Error values Execute returns (a
// missing, expired or forbidden secret names the secret and the location, never a value).
// A Deferred whose holes do not match its document (each must hold its reference as written,
// in order, without overlap) is an *Error wrapping ErrBadDocument. The check catches damage,
// not forgery: data that reads exactly like a reference cannot be told from one, so a
// Deferred that rested outside the process must come back authenticated (sealed).
func (d Deferred) Resolve(ctx context.Context, src SecretSource) (out []byte, used []Secret, err error) {
	if len(d.Holes) == 0 {
		return append([]byte(nil), d.Doc...), nil, nil
	}
	refs := make([]*expr, len(d.Holes))
	var names []string
	seen := map[string]bool{}
	prev := 0
	for i, h := range d.Holes {
		x, ok := h.check(d.Doc, prev)
		if !ok {
			return nil, nil, &Error{Location: h.Location, Offset: -1, Msg: "deferred secret reference does not match its document", Err: ErrBadDocument}
		}
		refs[i], prev = x, h.End
		if !seen[x.ref.name] {
			seen[x.ref.name] = true
			names = append(names, x.ref.name)
		}
	}
	st := state{ctx: ctx, env: secretsOnly{src}, mode: ResolveSecrets, t: &Template{secretNames: names}}
	out = make([]byte, 0, len(d.Doc)+64)
	prev = 0
	for i, h := range d.Holes {
		x := refs[i]
		out = append(out, d.Doc[prev:h.Start]...)
		v, err := st.secret(&strNode{loc: h.Location}, x, x.ref)
		if err != nil {
			return nil, nil, err
		}
		if h.Whole {
			out = append(out, v.raw...)
		} else {
			out = st.appendText(out, x, v)
		}
		prev = h.End
	}
	return append(out, d.Doc[prev:]...), st.used, nil
}

// check compiles the hole's reference and reports whether doc holds it, as written, at the
// hole's place (at or after prev).
func (h Hole) check(doc []byte, prev int) (*expr, bool) {
	if h.Start < prev || h.End < h.Start || h.End > len(doc) || len(h.Expr) < 3 || h.Expr[0] != '$' {
		return nil, false
	}
	x, end, err := scanExpr(h.Expr, 0, 0, false)
	if err != nil || end != len(h.Expr) || x.ref == nil || x.ref.kind != kindSecret {
		return nil, false
	}
	x.off = h.Offset
	want := jsonenc.AppendStringBody(nil, h.Expr)
	if h.Whole {
		want = append(append([]byte{'"'}, want...), '"')
	}
	return x, bytes.Equal(doc[h.Start:h.End], want)
}

// secretsOnly is an Env that serves secrets only (Deferred.Resolve reads nothing else).
type secretsOnly struct{ src SecretSource }

func (secretsOnly) Workflow() []byte           { return nil }
func (secretsOnly) Task(string) ([]byte, bool) { return nil, false }
func (secretsOnly) TaskID() string             { return "" }
func (e secretsOnly) Secrets() SecretSource    { return e.src }
func (secretsOnly) EnvValues() ValueSource     { return nil }
