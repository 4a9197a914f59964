package tasks

import (
	"slices"
	"unicode/utf16"
)

// gojqText is query as gojq is to read it: grouped as jackson-jq groups
// it (jacksonShape), and spellings jackson-jq's
// grammar (json-query.jj) reads otherwise than gojq's are rewritten, by
// jackson-jq's own tokens (jjLexer):
//   - a number followed by "." ("1.e3", "1.foo"): jackson-jq's number
//     ends before the dot, which starts a field access (1 | .e3); gojq
//     reads "1.e3" as 1000. The number is put in parentheses: (1).e3.
//   - a call with empty parentheses ("f()"), which jackson-jq reads as f
//     and gojq does not parse: the parentheses are left out.
//   - a key written as a format string: .@base64 "x" and {@base64 "x": 1},
//     which gojq does not parse, become .[@base64 "x"] and
//     {(@base64 "x"): 1}, and {@base64 "a\(x)"} (no value) {"a\(x | @base64)"};
//   - a number followed by a word ("0as", "1and"), which gojq reads as
//     a bad number: a space is put between;
//   - "$ x" and "@ base64", space or a comment between the two tokens,
//     which gojq reads as one: the space is left out;
//   - ".[:]", which jackson-jq reads as ".[]" (it iterates: an array's
//     or an object's values) and gojq does not parse: the colon is left
//     out.
//
// A query that jackson-jq's lexer does not read is returned as it is.
func gojqText(query string) string {
	query = jacksonShape(query)
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
	// formatKey is the index of the token after the string of a format
	// string starting at token i (@ NAME "…"), or -1.
	formatKey := func(i int) int {
		if i+2 >= len(toks) || toks[i].kind != jjAt || toks[i+1].kind != jjIdentifier || toks[i+2].kind != jjQuote {
			return -1
		}
		depth := 0
		for j := i + 2; j < len(toks); j++ {
			switch toks[j].kind {
			case jjQuote:
				depth++
			case jjEndQuote:
				if depth--; depth == 0 {
					return j + 1
				}
			}
		}
		return -1
	}
	termEnd := map[jjKind]bool{jjIdentAfterDot: true, jjClosePar: true, jjCloseBracket: true, jjCloseBrace: true,
		jjEndQuote: true, jjInteger: true, jjFloat: true, jjIdentifier: true, jjQuestion: true}
	type insert struct {
		at   int
		text string
	}
	var inserts []insert // before token at: text (the closing "]" and ")"), in order
	insertAt := func(at int) int {
		n := 0
		for n < len(inserts) && inserts[n].at <= at {
			n++
		}
		return n
	}
	for i, t := range toks {
		for len(inserts) > 0 && inserts[0].at == i {
			out = append(out, src[last:toks[i-1].end]...)
			out = append(out, utf16.Encode([]rune(inserts[0].text))...)
			last, inserts = toks[i-1].end, inserts[1:]
		}
		if t.kind == jjIdentifier && i > 0 && (toks[i-1].kind == jjDollar || toks[i-1].kind == jjAt) &&
			t.start > toks[i-1].end && last <= toks[i-1].end {
			// "$ x", "@ base64": two tokens to jackson-jq, space or a
			// comment between them; gojq's is one.
			out = append(out, src[last:toks[i-1].end]...)
			last, changed = t.start, true
		}
		if (t.kind == jjInteger || t.kind == jjFloat) && i+1 < len(toks) && toks[i+1].start == t.end && last <= t.end &&
			(isJJLetter(src[t.end]) && src[t.end] != 'e' && src[t.end] != 'E' || toks[i+1].kind == jjAnd || toks[i+1].kind == jjOr || toks[i+1].kind == jjAs) {
			// "0as", "1and": a number, then a word, to jackson-jq; one
			// bad number to gojq.
			out = append(out, src[last:t.end]...)
			out = append(out, ' ')
			last, changed = t.end, true
		}
		switch {
		case t.kind == jjDot && formatKey(i+1) > 0:
			out = append(out, src[last:t.start]...)
			if i > 0 && termEnd[toks[i-1].kind] {
				out = append(out, '[')
			} else {
				out = append(out, '.', '[')
			}
			last, changed = t.end, true
			inserts = slices.Insert(inserts, insertAt(formatKey(i+1)), insert{formatKey(i + 1), "]"})
		case t.kind == jjAt && i > 0 && (toks[i-1].kind == jjOpenBrace || toks[i-1].kind == jjComma) &&
			formatKey(i) > 0 && formatKey(i) < len(toks) && toks[formatKey(i)].kind == jjColon:
			out = append(out, src[last:t.start]...)
			out = append(out, '(')
			last, changed = t.start, true
			inserts = slices.Insert(inserts, insertAt(formatKey(i)), insert{formatKey(i), ")"})
		case t.kind == jjAt && i > 0 && (toks[i-1].kind == jjOpenBrace || toks[i-1].kind == jjComma) &&
			formatKey(i) > 0 && formatKey(i) < len(toks) && (toks[formatKey(i)].kind == jjComma || toks[formatKey(i)].kind == jjCloseBrace):
			// {@base64 "a\(x)"}: a key with no value, which gojq's
			// grammar has not; @f "a\(x)" is "a\(x | @f)".
			out = append(out, src[last:t.start]...)
			last, changed = toks[i+2].start, true
			format := "@" + string(utf16.Decode(src[toks[i+1].start:toks[i+1].end]))
			depth := 0
			for j := i + 3; j < formatKey(i)-1; j++ {
				switch toks[j].kind {
				case jjOpenInterp, jjOpenPar:
					depth++
				case jjClosePar:
					if depth--; depth == 0 {
						inserts = slices.Insert(inserts, insertAt(j), insert{j, " | " + format})
					}
				}
			}
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
	for _, in := range inserts {
		out = append(out, src[last:toks[in.at-1].end]...)
		out = append(out, utf16.Encode([]rune(in.text))...)
		last = toks[in.at-1].end
	}
	out = append(out, src[last:]...)
	return string(utf16.Decode(out))
}
