package interpolate

import (
	"strings"

	"github.com/wfrun/wfrun/internal/jsonenc"
)

// expr is one ${...} or $<...> expression. When its path holds no nested expression it is
// compiled once into ref; otherwise pieces are spliced at execution time and the resulting
// path is compiled then.
type expr struct {
	src    string // the exact text, "${...}", kept for deferred secrets and unset CPEWF_TASK_ID
	off    int    // byte offset of src in the decoded string
	pieces []piece
	ref    *ref
}

type piece struct {
	lit string
	x   *expr
}

// parseString splits a decoded JSON string into literal parts and expressions. Escapes
// "$${" and "$$<" lose exactly one '$'. A '$' not followed by '{' or '<' is literal.
// With keepAngle, "$<" and "$$<" are literal text, kept as written (KeepAngle).
func parseString(s string, keepAngle bool) ([]part, error) {
	var parts []part
	var lit []byte
	flush := func() {
		if len(lit) > 0 {
			parts = append(parts, part{lit: jsonenc.AppendStringBody(nil, string(lit))})
			lit = lit[:0]
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 >= len(s) {
			lit = append(lit, c)
			i++
			continue
		}
		n := s[i+1]
		if keepAngle && (n == '<' || n == '$' && i+2 < len(s) && s[i+2] == '<') {
			// "$<" or "$$<": kept, both '$' of an escape too.
			for ; s[i] == '$'; i++ {
				lit = append(lit, '$')
			}
			lit = append(lit, '<')
			i++
			continue
		}
		if n == '$' && i+2 < len(s) && (s[i+2] == '{' || s[i+2] == '<') {
			lit = append(lit, '$', s[i+2])
			i += 3
			continue
		}
		if n != '{' && n != '<' {
			lit = append(lit, c)
			i++
			continue
		}
		x, end, err := scanExpr(s, i, 0, keepAngle)
		if err != nil {
			return nil, err
		}
		flush()
		parts = append(parts, part{x: x})
		i = end
	}
	flush()
	return parts, nil
}

// scanExpr reads the expression starting at s[start] ("${" or "$<") and returns it with the
// index just past its closing delimiter. "}" closes "${" when braces balance; ">" closes "$<"
// outside brackets and parentheses (so a filter like [?(@.n > 1)] is fine). Quoted text in
// brackets is skipped, except that nested expressions are recognised everywhere, so
// ['${workflow.input.key}'] works as in Conductor.
func scanExpr(s string, start, depth int, keepAngle bool) (*expr, int, error) {
	open := s[start+1]
	if depth >= maxNesting {
		return nil, 0, &Error{Offset: start, Msg: "expressions nested too deeply", Err: ErrSyntax}
	}
	x := &expr{off: start}
	var lit strings.Builder
	var quote byte
	brackets, braces := 0, 0
	for i := start + 2; i < len(s); {
		c := s[i]
		if c == '$' && i+1 < len(s) && (s[i+1] == '{' || s[i+1] == '<' && !keepAngle) {
			inner, end, err := scanExpr(s, i, depth+1, keepAngle)
			if err != nil {
				return nil, 0, err
			}
			if lit.Len() > 0 {
				x.pieces = append(x.pieces, piece{lit: lit.String()})
				lit.Reset()
			}
			x.pieces = append(x.pieces, piece{x: inner})
			i = end
			continue
		}
		if quote != 0 {
			if c == '\\' && i+1 < len(s) {
				lit.WriteByte(c)
				lit.WriteByte(s[i+1])
				i += 2
				continue
			}
			if c == quote {
				quote = 0
			}
			lit.WriteByte(c)
			i++
			continue
		}
		switch c {
		case '\'', '"':
			if brackets > 0 {
				quote = c
			}
		case '[', '(':
			brackets++
		case ']', ')':
			if brackets > 0 {
				brackets--
			}
		case '{':
			if open == '{' {
				braces++
			}
		case '}':
			if open == '{' {
				if braces == 0 {
					return x.finish(s[start:i+1], lit.String())
				}
				braces--
			}
		case '>':
			if open == '<' && brackets == 0 {
				return x.finish(s[start:i+1], lit.String())
			}
		}
		lit.WriteByte(c)
		i++
	}
	return nil, 0, &Error{Offset: start, Msg: `unterminated "$` + string(open) + `"`, Err: ErrSyntax}
}

func (x *expr) finish(src, tail string) (*expr, int, error) {
	x.src = src
	end := x.off + len(src)
	if tail != "" || len(x.pieces) == 0 {
		x.pieces = append(x.pieces, piece{lit: tail})
	}
	if len(x.pieces) == 1 && x.pieces[0].x == nil {
		r, err := compileRef(x.pieces[0].lit)
		if err != nil {
			return nil, 0, &Error{Offset: x.off, Msg: err.Error(), Err: unwrapSentinel(err)}
		}
		x.ref = r
		x.pieces = nil
		return x, end, nil
	}
	// Dynamic path. A secret must never feed a path, and a secret's name must never be
	// computed (it would let run input pick any secret, and defeats the static prefetch).
	for _, p := range x.pieces {
		if p.x != nil && p.x.readsSecret() {
			return nil, 0, &Error{Offset: p.x.off, Msg: "a secret cannot be used inside another expression's path", Err: ErrDynamicSecret}
		}
	}
	if first := x.pieces[0]; first.x == nil && staticSecretPrefix(first.lit) {
		return nil, 0, &Error{Offset: x.off, Msg: "a secret reference cannot contain a nested expression (its name and path must be static)", Err: ErrDynamicSecret}
	}
	return x, end, nil
}

func (x *expr) readsSecret() bool {
	if x.ref != nil {
		return x.ref.kind == kindSecret
	}
	for _, p := range x.pieces {
		if p.x != nil && p.x.readsSecret() {
			return true
		}
	}
	return staticSecretPrefix(x.pieces[0].lit)
}

// staticSecretPrefix reports whether a path prefix already selects workflow.secrets (in any
// spelling), so that a dynamic remainder would compute a secret name.
func staticSecretPrefix(p string) bool {
	p = strings.TrimSpace(p)
	p = strings.TrimPrefix(p, "$")
	p = strings.TrimPrefix(p, ".")
	var compact strings.Builder
	for _, r := range p {
		switch r {
		case ' ', '\t', '\n', '\r', '\'', '"', '[', ']', '.':
			compact.WriteByte('.')
		default:
			compact.WriteRune(r)
		}
	}
	q := compact.String()
	for strings.Contains(q, "..") {
		q = strings.ReplaceAll(q, "..", ".")
	}
	q = strings.TrimPrefix(q, ".")
	return q == "workflow.secrets" || strings.HasPrefix(q, "workflow.secrets.")
}
