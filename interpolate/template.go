package interpolate

import (
	"encoding/json"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// Option configures Compile.
type Option func(*config)

type config struct {
	location  string
	keepAngle bool
}

// WithLocation sets the JSON Pointer prefix used in error messages, e.g.
// "/tasks/2/inputParameters", so an error reads
// "/tasks/2/inputParameters/headers/Authorization: unterminated "${" at offset 7".
func WithLocation(prefix string) Option {
	return func(c *config) { c.location = strings.TrimSuffix(prefix, "/") }
}

// KeepAngle makes `$<…>` plain text: it, and its escape `$$<`, are kept as
// written, for the component that executes the task to resolve (a remote
// worker: SPEC §1); `${…}` and `$${` are what they always are.
func KeepAngle() Option { return func(c *config) { c.keepAngle = true } }

// Template is a compiled JSON document. It is immutable after Compile and safe for
// concurrent use by many goroutines; all per-execution state lives in Execute.
type Template struct {
	src   []byte
	nodes []*strNode // string values holding expressions or escapes, in document order
	// location and keepAngle are the options it was compiled with.
	location  string
	keepAngle bool
	// angle is the KeepAngle form, compiled once when first asked for.
	angleOnce sync.Once
	angle     *Template
	angleErr  error

	hasExpr     bool
	hasSecrets  bool
	secretNames []string
	refs        []string
}

// strNode is one JSON string value of the document that needs rewriting.
type strNode struct {
	start, end int    // the raw token (with its quotes) in Template.src
	loc        string // JSON Pointer, for errors
	parts      []part
	whole      bool   // exactly one expression and nothing else: the value keeps its type
	constant   []byte // when there is no expression (only escapes): the final JSON string
	secret     bool   // an expression in it reads workflow.secrets.* (nested ones too)
}

// part is either literal text (already JSON-escaped, without quotes) or an expression.
type part struct {
	lit []byte
	x   *expr
}

// maxNesting bounds expression nesting so hostile input cannot exhaust the stack.
const maxNesting = 16

// Compile parses a JSON document once. Object keys are never interpolated; every string value
// may hold expressions. Errors are *Error values locating the string (JSON Pointer) and the
// byte offset of the expression inside the decoded string.
func Compile(doc []byte, opts ...Option) (*Template, error) {
	var cfg config
	for _, o := range opts {
		o(&cfg)
	}
	if !json.Valid(doc) {
		var v any
		err := json.Unmarshal(doc, &v)
		off := -1
		var se *json.SyntaxError
		if errors.As(err, &se) {
			off = int(se.Offset)
		}
		msg := "malformed JSON document"
		if err != nil {
			msg += " (" + err.Error() + ")"
		}
		return nil, &Error{Location: cfg.location, Offset: off, Msg: msg, Err: ErrSyntax}
	}
	t := &Template{src: doc, location: cfg.location, keepAngle: cfg.keepAngle}
	c := compiler{t: t, prefix: cfg.location, secrets: map[string]bool{}, refs: map[string]bool{}}
	if err := c.walk(); err != nil {
		return nil, err
	}
	t.secretNames = sortedKeys(c.secrets)
	t.refs = sortedKeys(c.refs)
	t.hasSecrets = c.anySecret
	return t, nil
}

// CompileExpr compiles one expression string as if it were a JSON string value, e.g.
// `${task1.output.items}`; useful for an outputFilter or a loop condition input.
func CompileExpr(expr string, opts ...Option) (*Template, error) {
	b, err := json.Marshal(expr)
	if err != nil {
		return nil, &Error{Offset: -1, Msg: "expression is not valid text", Err: ErrSyntax}
	}
	return Compile(b, opts...)
}

// MustCompile is Compile that panics on error; for tests and examples with constant input.
func MustCompile(doc []byte, opts ...Option) *Template {
	t, err := Compile(doc, opts...)
	if err != nil {
		panic("interpolate: MustCompile: " + err.Error())
	}
	return t
}

// HasExpressions reports whether any string of the document holds an expression.
func (t *Template) HasExpressions() bool { return t.hasExpr }

// HasSecrets reports whether the document references workflow.secrets.*.
func (t *Template) HasSecrets() bool { return t.hasSecrets }

// SecretNames returns the secret names referenced, sorted and unique, for a batch prefetch.
// All secret names are static: dynamic names are rejected by Compile.
func (t *Template) SecretNames() []string { return append([]string(nil), t.secretNames...) }

// References returns the task reference names the document reads, sorted and unique. Only
// statically known roots are listed (a root computed by a nested expression is not).
func (t *Template) References() []string { return append([]string(nil), t.refs...) }

// KeepingAngle returns t compiled with KeepAngle (t itself when it was):
// the same document and location. It is compiled once, on first use, and
// kept with t.
func (t *Template) KeepingAngle() (*Template, error) {
	if t.keepAngle {
		return t, nil
	}
	t.angleOnce.Do(func() { t.angle, t.angleErr = Compile(t.src, WithLocation(t.location), KeepAngle()) })
	return t.angle, t.angleErr
}

// Source returns the document the template was compiled from. The engine must run
// ResolveSecrets over this original, never over a stored DeferSecrets output: escapes were
// already removed there, so "$${workflow.secrets.x}" would turn into a live reference.
func (t *Template) Source() []byte { return t.src }

type frame struct {
	object    bool
	expectKey bool
	index     int
	keyStart  int // raw key token of the current member, for the pointer
	keyEnd    int
}

type compiler struct {
	t         *Template
	prefix    string
	stack     []frame
	secrets   map[string]bool
	refs      map[string]bool
	anySecret bool
}

// walk scans the (already validated) document iteratively, so deep nesting cannot overflow
// the stack, and compiles each string value that may hold an expression.
func (c *compiler) walk() error {
	src := c.t.src
	for i := 0; i < len(src); {
		switch ch := src[i]; ch {
		case '{':
			c.stack = append(c.stack, frame{object: true, expectKey: true})
			i++
		case '[':
			c.stack = append(c.stack, frame{})
			i++
		case '}', ']':
			c.stack = c.stack[:len(c.stack)-1]
			i++
		case ',':
			if top := c.top(); top != nil {
				if top.object {
					top.expectKey = true
				} else {
					top.index++
				}
			}
			i++
		case ':':
			c.top().expectKey = false
			i++
		case '"':
			end := stringEnd(src, i)
			if top := c.top(); top != nil && top.object && top.expectKey {
				top.keyStart, top.keyEnd = i, end
			} else if err := c.value(i, end); err != nil {
				return err
			}
			i = end
		default:
			i++
		}
	}
	return nil
}

func (c *compiler) top() *frame {
	if len(c.stack) == 0 {
		return nil
	}
	return &c.stack[len(c.stack)-1]
}

// stringEnd returns the index just past the closing quote of the string starting at i.
func stringEnd(src []byte, i int) int {
	for j := i + 1; j < len(src); j++ {
		switch src[j] {
		case '\\':
			j++
		case '"':
			return j + 1
		}
	}
	return len(src)
}

// pointer builds the JSON Pointer of the current value; only called when a string needs it.
func (c *compiler) pointer() string {
	var b strings.Builder
	b.WriteString(c.prefix)
	for _, f := range c.stack {
		b.WriteByte('/')
		if f.object {
			var k string
			_ = json.Unmarshal(c.t.src[f.keyStart:f.keyEnd], &k)
			k = strings.ReplaceAll(k, "~", "~0")
			b.WriteString(strings.ReplaceAll(k, "/", "~1"))
		} else {
			b.WriteString(strconv.Itoa(f.index))
		}
	}
	return b.String()
}

func (c *compiler) value(start, end int) error {
	raw := c.t.src[start:end]
	// Fast reject: a string can only hold an expression if it has a '$' (possibly written
	// as a \u escape, hence the '\\' check).
	if !containsAny(raw, '$', '\\') {
		return nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return &Error{Location: c.pointer(), Offset: -1, Msg: "bad string", Err: ErrSyntax}
	}
	if !strings.Contains(s, "$") {
		return nil
	}
	loc := c.pointer()
	parts, err := parseString(s, c.t.keepAngle)
	if err != nil {
		var e *Error
		if errors.As(err, &e) {
			e.Location = loc
		}
		return err
	}
	n := &strNode{start: start, end: end, loc: loc, parts: parts}
	exprs := 0
	for _, p := range parts {
		if p.x != nil {
			exprs++
			if c.note(p.x) {
				n.secret = true
			}
		}
	}
	switch {
	case exprs == 0:
		// Only escapes (or a lone '$'): the output is constant.
		out := []byte{'"'}
		for _, p := range parts {
			out = append(out, p.lit...)
		}
		out = append(out, '"')
		if string(out) == string(raw) {
			return nil
		}
		n.constant = out
	default:
		c.t.hasExpr = true
		n.whole = len(parts) == 1
	}
	c.t.nodes = append(c.t.nodes, n)
	return nil
}

// note records what an expression reads, for HasSecrets / SecretNames / References, and
// reports whether it (or one nested in it) reads a secret.
func (c *compiler) note(x *expr) (secret bool) {
	if x.ref != nil {
		switch x.ref.kind {
		case kindSecret:
			c.anySecret = true
			c.secrets[x.ref.name] = true
			secret = true
		case kindTask:
			c.refs[x.ref.name] = true
		}
	}
	for _, p := range x.pieces {
		if p.x != nil && c.note(p.x) {
			secret = true
		}
	}
	return secret
}

func containsAny(b []byte, x, y byte) bool {
	for _, c := range b {
		if c == x || c == y {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string]bool) []string {
	if len(m) == 0 {
		return nil
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
