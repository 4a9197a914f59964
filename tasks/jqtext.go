package tasks

import (
	"strings"
	"unicode/utf16"
)

// gojqText is query as gojq is to read it: two spellings jackson-jq's
// grammar (json-query.jj) reads otherwise than gojq's are rewritten, by
// jackson-jq's own tokens (jjLexer):
//   - a number followed by "." ("1.e3", "1.foo"): jackson-jq's number
//     ends before the dot, which starts a field access (1 | .e3); gojq
//     reads "1.e3" as 1000. The number is put in parentheses: (1).e3.
//   - a call with empty parentheses ("f()"), which jackson-jq reads as f
//     and gojq does not parse: the parentheses are left out.
//   - ".[:]", which jackson-jq reads as ".[]" (it iterates: an array's
//     or an object's values) and gojq does not parse: the colon is left
//     out.
//
// A query that jackson-jq's lexer does not read is returned as it is.
func gojqText(query string) string {
	if !strings.Contains(query, ".") && !strings.Contains(query, "(") && !strings.Contains(query, ":") {
		return query
	}
	lx := newJJLexer(query)
	type span struct {
		kind       jjKind
		start, end int
	}
	var toks []span
	for {
		tok, err := lx.next()
		if err != nil {
			return query
		}
		if tok.kind == jjEOF {
			break
		}
		toks = append(toks, span{tok.kind, lx.pos - len(tok.image), lx.pos})
	}
	src := lx.src
	var out []uint16
	last := 0
	changed := false
	for i, t := range toks {
		switch {
		case (t.kind == jjInteger || t.kind == jjFloat) && t.end < len(src) && src[t.end] == '.' &&
			i+1 < len(toks) && toks[i+1].start == t.end:
			out = append(out, src[last:t.start]...)
			out = append(out, '(')
			out = append(out, src[t.start:t.end]...)
			out = append(out, ')')
			last, changed = t.end, true
		case t.kind == jjIdentifier && i+2 < len(toks) && toks[i+1].kind == jjOpenPar && toks[i+2].kind == jjClosePar &&
			(i == 0 || toks[i-1].kind != jjAt && toks[i-1].kind != jjDollar):
			out = append(out, src[last:t.end]...)
			last, changed = toks[i+2].end, true
		case t.kind == jjOpenBracket && i+2 < len(toks) && toks[i+1].kind == jjColon && toks[i+2].kind == jjCloseBracket:
			out = append(out, src[last:t.end]...)
			last, changed = toks[i+2].start, true
		}
	}
	if !changed {
		return query
	}
	out = append(out, src[last:]...)
	return string(utf16.Decode(out))
}
