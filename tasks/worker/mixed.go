package worker

import "strings"

// A definition string can mix the server's `${…}` and the worker's `$<…>`:
// "https://${workflow.input.host}/v1?key=$<workflow.secrets.api>". The server
// substitutes the `${…}` parts and sends the `$<…>` parts as written; the
// worker must resolve those and only those, never a `$<…>` the substituted
// text brought in (run data choosing a secret). mixedLiteral aligns the
// polled string with the definition's: literal text and `$<…>` parts must
// appear as written, in order, and each `${…}` part matches whatever the
// server put there. Only a string that aligns in exactly one way is taken;
// its `$<…>` parts are kept for resolution and everything else is escaped.

// mixedPart is literal text, a `${…}` part (any text), or a `$<…>` part.
type mixedPart struct {
	text  string
	curly bool
	angle bool
}

// maxMixedLen bounds the polled strings aligned (the alignment costs
// parts × length).
const maxMixedLen = 64 << 10

// mixedParts splits a definition string into its parts. ok is false for a
// form the alignment does not take: escapes (`$${`, `$$<`), an unterminated
// part, or a `${…}` inside a `$<…>` (the server would choose the name).
func mixedParts(ts string) (parts []mixedPart, ok bool) {
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, mixedPart{text: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(ts); {
		if ts[i] != '$' || i+1 >= len(ts) {
			lit.WriteByte(ts[i])
			i++
			continue
		}
		switch ts[i+1] {
		case '$':
			if i+2 < len(ts) && (ts[i+2] == '{' || ts[i+2] == '<') {
				return nil, false
			}
			lit.WriteByte('$')
			i++
		case '{':
			depth, j := 0, i+1
			for ; j < len(ts); j++ {
				if ts[j] == '{' {
					depth++
				} else if ts[j] == '}' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			if j >= len(ts) {
				return nil, false
			}
			flush()
			parts = append(parts, mixedPart{text: ts[i : j+1], curly: true})
			i = j + 1
		case '<':
			brackets, j := 0, i+2
			for ; j < len(ts); j++ {
				switch ts[j] {
				case '[', '(':
					brackets++
				case ']', ')':
					brackets--
				case '$':
					if j+1 < len(ts) && (ts[j+1] == '{' || ts[j+1] == '<') {
						return nil, false
					}
				}
				if ts[j] == '>' && brackets <= 0 {
					break
				}
			}
			if j >= len(ts) {
				return nil, false
			}
			flush()
			parts = append(parts, mixedPart{text: ts[i : j+1], angle: true})
			i = j + 1
		default:
			lit.WriteByte('$')
			i++
		}
	}
	flush()
	return parts, true
}

// mixedLiteral returns the polled string s ready for the worker's
// interpolation when it aligns in exactly one way with the definition's
// string ts: the `$<…>` parts of ts kept, every other `${` and `$<` escaped
// (what the server substituted stays text). ok is false otherwise.
func mixedLiteral(s, ts string) (string, bool) {
	parts, ok := mixedParts(ts)
	if !ok {
		return "", false
	}
	ends, ok := alignMixed(s, parts)
	if !ok {
		return "", false
	}
	var b strings.Builder
	escape := func(t string) {
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "${", "$${"), "$<", "$$<"))
	}
	j := 0
	for i, p := range parts {
		switch {
		case p.angle:
			b.WriteString(p.text)
		case p.curly:
			escape(s[j:ends[i]])
		default:
			escape(p.text)
		}
		j = ends[i]
	}
	return b.String(), true
}

// alignMixed aligns the polled string s with the parts of a definition's
// string: literal text and `$<…>` parts as written, in order, each `${…}`
// part whatever the server put there. When s aligns in exactly one way,
// ends[i] is where part i ends in s; ok is false otherwise (no way, several,
// or s longer than maxMixedLen).
func alignMixed(s string, parts []mixedPart) (ends []int, ok bool) {
	if len(s) > maxMixedLen {
		return nil, false
	}
	n := len(s)
	// ways[i][j]: in how many ways (0, 1, or 2 for "more") parts[i:]
	// match s[j:].
	ways := make([][]uint8, len(parts)+1)
	for i := range ways {
		ways[i] = make([]uint8, n+1)
	}
	ways[len(parts)][n] = 1
	for i := len(parts) - 1; i >= 0; i-- {
		p := parts[i]
		if p.curly {
			// Any text: the sum of the next part's ways from j on.
			var acc uint8
			for j := n; j >= 0; j-- {
				acc = min(acc+ways[i+1][j], 2)
				ways[i][j] = acc
			}
			continue
		}
		for j := 0; j+len(p.text) <= n; j++ {
			if s[j:j+len(p.text)] == p.text {
				ways[i][j] = ways[i+1][j+len(p.text)]
			}
		}
	}
	if ways[0][0] != 1 {
		return nil, false
	}
	ends = make([]int, len(parts))
	j := 0
	for i, p := range parts {
		if !p.curly {
			j += len(p.text)
		} else {
			// The one end from which the rest matches.
			for ways[i+1][j] == 0 {
				j++
			}
		}
		ends[i] = j
	}
	return ends, true
}
