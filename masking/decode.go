package masking

import (
	"bytes"
	"math/bits"
	"unicode/utf8"
)

// Decoded views.
//
// A value reaches text in more spellings than can be registered: JSON
// escapes may be applied to any subset of its characters (`\u0041`, `\/`),
// HTML entities come named or numeric, in decimal or hex, with leading
// zeros; URL escapes use either hex case; base64 is wrapped at 64 or 76
// columns with either line break. Enumerating every mix is impossible, so
// the masker also scans decoded views of the text: a copy with one level of
// escaping undone, each byte remembering the range of the original text it
// came from. A pattern found in a view is redacted over the whole original
// range its bytes came from, escapes included.
//
// The views of a text b are, for k = 0, 1, 2, … up to maxDecodeRounds:
// D0 = b, D(k+1) = decode(Dk) while decoding changes something, and for
// each Dk, join(Dk) when Dk holds a line break inside a base64 run. Several
// rounds catch nested escaping (a JSON document logged inside a JSON string,
// `&amp;lt;`, `\u0026lt;`); scanning every round, not only the last, keeps
// the values whose own text contains a backslash or an ampersand.

// maxDecodeRounds bounds the nesting of escapes that views undo.
const maxDecodeRounds = 3

// viewSlack is added to the Writer's look-behind, in view bytes: the most
// by which a view of a prefix of a stream can be longer than the same part
// of the view of the whole stream (an escape or entity still incomplete at
// the end of the prefix, which the whole stream decodes to fewer bytes, or
// a line break not yet known to be followed by base64).
const viewSlack = 16

// minJoinRun is how many base64 characters must precede a line break for
// join to remove it: wrapped base64 lines are 64 or 76 characters long,
// while prose and code rarely end a line with 16 letters and digits in a
// row, so views of ordinary multi-line text are not built.
const minJoinRun = 16

// view is a decoded copy of a text: b[i] came from text[lo[i]:hi[i]].
type view struct {
	b      []byte
	lo, hi []int32
}

// srcRange maps a span of the view to the range of the original text its
// bytes came from.
func (v *view) srcRange(s span) span {
	return span{int(v.lo[s.start]), int(v.hi[s.end-1])}
}

// maxViewText is the longest text views are built for (positions are
// int32). Longer texts are scanned as they are.
const maxViewText = 1<<31 - 1

// mayHaveViews reports whether b holds a byte that starts an escape or a
// line break, so that some view of b may differ from b. It is the fast
// path: most log lines hold none.
func mayHaveViews(b []byte) bool {
	if len(b) < 64 {
		// Short texts (most JSON strings): one loop beats five calls.
		for _, c := range b {
			if viewStart[c] {
				return true
			}
		}
		return false
	}
	return len(b) <= maxViewText && (bytes.IndexByte(b, '\\') >= 0 || bytes.IndexByte(b, '&') >= 0 ||
		bytes.IndexByte(b, '%') >= 0 || bytes.IndexByte(b, '\n') >= 0 || bytes.IndexByte(b, '\r') >= 0)
}

var viewStart = [256]bool{'\\': true, '&': true, '%': true, '\n': true, '\r': true}

// Escape families decodeOnce undoes.
const (
	escJSON = 1 << iota // backslash escapes
	escHTML             // character references
	escURL              // %HH
	escAll  = escJSON | escHTML | escURL
)

// views returns every view of b except b itself (nil when there is none):
// the chain D1, D2, … decoding every family at once with the joined view of
// each level, and, when b mixes several families, one view per family
// decoded alone — a value that itself holds "%41" or a backslash, written
// HTML-escaped, is only found when the other families are left as they are.
func views(b []byte) []*view {
	var out []*view
	cur := b
	var parent *view
	for round := 0; ; round++ {
		if j, ok := joinBreaks(cur, parent); ok {
			out = append(out, heapView(j))
		}
		if round == maxDecodeRounds {
			return out
		}
		if round == 0 && !hasEscapeChar(cur) {
			// Only line breaks (mayHaveViews): nothing to decode.
			return out
		}
		d, kinds, ok := decodeOnce(cur, parent, escAll)
		if !ok {
			return out
		}
		dp := heapView(d)
		out = append(out, dp)
		if round == 0 && bits.OnesCount8(kinds) > 1 {
			for _, k := range []uint8{escJSON, escHTML, escURL} {
				if kinds&k == 0 {
					continue
				}
				if one, _, ok := decodeOnce(b, nil, k); ok {
					out = append(out, heapView(one))
				}
			}
		}
		parent, cur = dp, d.b
	}
}

// heapView moves a view found to the heap (views that are not found, the
// usual case, then cost no allocation).
func heapView(v view) *view { return &v }

// hasEscapeChar reports whether b holds a character decodeOnce decodes from.
func hasEscapeChar(b []byte) bool {
	return bytes.IndexByte(b, '\\') >= 0 || bytes.IndexByte(b, '&') >= 0 || bytes.IndexByte(b, '%') >= 0
}

// builder accumulates a view of src, whose own origin is parent (nil: src
// is the original text).
type builder struct {
	v      view
	parent *view
}

func newBuilder(n int, parent *view) *builder {
	return &builder{v: view{b: make([]byte, 0, n), lo: make([]int32, 0, n), hi: make([]int32, 0, n)}, parent: parent}
}

// add appends decoded bytes that came from src[from:to].
func (bd *builder) add(dec []byte, from, to int) {
	lo, hi := int32(from), int32(to)
	if p := bd.parent; p != nil {
		lo, hi = p.lo[from], p.hi[to-1]
	}
	for _, c := range dec {
		bd.v.b = append(bd.v.b, c)
		bd.v.lo = append(bd.v.lo, lo)
		bd.v.hi = append(bd.v.hi, hi)
	}
}

// copy appends src[from:to] unchanged.
func (bd *builder) copy(src []byte, from, to int) {
	bd.v.b = append(bd.v.b, src[from:to]...)
	if p := bd.parent; p != nil {
		bd.v.lo = append(bd.v.lo, p.lo[from:to]...)
		bd.v.hi = append(bd.v.hi, p.hi[from:to]...)
		return
	}
	for i := from; i < to; i++ {
		bd.v.lo = append(bd.v.lo, int32(i))
		bd.v.hi = append(bd.v.hi, int32(i+1))
	}
}

// decodeOnce undoes one level of escaping: JSON backslash escapes (`\"`
// `\\` `\/` `\b` `\f` `\n` `\r` `\t` `\uXXXX`, surrogate pairs joined, a
// lone surrogate read as U+FFFD), HTML character references (`&lt;` `&gt;`
// `&amp;` `&quot;` `&apos;`, `&#NNN;`, `&#xHHH;`) and URL escapes (`%HH`).
// Only the families in kinds are decoded; anything else, including a
// malformed escape, is copied as it is. It reports which families it
// decoded, and false when there was nothing to decode.
func decodeOnce(src []byte, parent *view, kinds uint8) (view, uint8, bool) {
	var bd *builder
	var tmp [8]byte
	var found uint8
	prev := 0 // src[prev:i] is still to be copied
	for i := 0; i < len(src); {
		var k uint8
		switch src[i] {
		case '\\':
			k = escJSON
		case '&':
			k = escHTML
		case '%':
			k = escURL
		}
		if k&kinds == 0 {
			i++
			continue
		}
		dec, n := decodeToken(src[i:], tmp[:0])
		if n == 0 {
			i++
			continue
		}
		found |= k
		if bd == nil {
			bd = newBuilder(len(src), parent)
		}
		bd.copy(src, prev, i)
		bd.add(dec, i, i+n)
		i += n
		prev = i
	}
	if bd == nil {
		return view{}, 0, false
	}
	bd.copy(src, prev, len(src))
	return bd.v, found, true
}

// decodeToken decodes the escape at the start of s into dst and returns the
// number of bytes it spans, or 0 when s does not start with a well-formed
// escape.
func decodeToken(s []byte, dst []byte) ([]byte, int) {
	switch s[0] {
	case '\\':
		if len(s) < 2 {
			return nil, 0
		}
		switch s[1] {
		case '"', '\\', '/':
			return append(dst, s[1]), 2
		case 'b':
			return append(dst, '\b'), 2
		case 'f':
			return append(dst, '\f'), 2
		case 'n':
			return append(dst, '\n'), 2
		case 'r':
			return append(dst, '\r'), 2
		case 't':
			return append(dst, '\t'), 2
		case 'u':
			r, ok := hexRune(s[2:], 4)
			if !ok {
				return nil, 0
			}
			n := 6
			if 0xd800 <= r && r < 0xdc00 && len(s) >= 12 && s[6] == '\\' && s[7] == 'u' {
				if r2, ok := hexRune(s[8:], 4); ok && 0xdc00 <= r2 && r2 < 0xe000 {
					r = 0x10000 + (r-0xd800)<<10 + (r2 - 0xdc00)
					n = 12
				}
			}
			return utf8.AppendRune(dst, r), n // a lone surrogate becomes U+FFFD
		}
	case '%':
		if len(s) >= 3 {
			if r, ok := hexRune(s[1:], 2); ok {
				return append(dst, byte(r)), 3
			}
		}
	case '&':
		return decodeEntity(s, dst)
	}
	return nil, 0
}

// maxEntity bounds a numeric character reference (leading zeros included),
// so the Writer's look-behind stays bounded.
const maxEntity = 12

var namedEntities = []struct {
	name string
	c    byte
}{{"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"quot;", '"'}, {"apos;", '\''},
	{"LT;", '<'}, {"GT;", '>'}, {"AMP;", '&'}, {"QUOT;", '"'}}

func decodeEntity(s []byte, dst []byte) ([]byte, int) {
	if len(s) < 4 {
		return nil, 0
	}
	if s[1] != '#' {
		for _, e := range namedEntities {
			if bytes.HasPrefix(s[1:], []byte(e.name)) {
				return append(dst, e.c), 1 + len(e.name)
			}
		}
		return nil, 0
	}
	i, base := 2, rune(10)
	if s[2] == 'x' || s[2] == 'X' {
		i, base = 3, 16
	}
	start := i
	r := rune(0)
	for ; i < len(s) && i < maxEntity; i++ {
		d := hexDigit(s[i])
		if d < 0 || rune(d) >= base {
			break
		}
		r = r*base + rune(d)
	}
	if i == start || i >= len(s) || s[i] != ';' || r > utf8.MaxRune || (0xd800 <= r && r < 0xe000) {
		return nil, 0
	}
	return utf8.AppendRune(dst, r), i + 1
}

func hexDigit(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// hexRune reads exactly n hex digits.
func hexRune(s []byte, n int) (rune, bool) {
	if len(s) < n {
		return 0, false
	}
	r := rune(0)
	for _, c := range s[:n] {
		d := hexDigit(c)
		if d < 0 {
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	return r, true
}

func isBase64Char(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '+' || c == '/' || c == '=' || c == '-' || c == '_'
}

// joinBreaks removes each line break ("\n", "\r\n" or "\r", with the
// indentation that follows it) that sits inside a base64 run: preceded by
// at least minJoinRun base64 characters and followed by one. This is how
// PEM (64 columns), MIME (76) and YAML block scalars wrap base64, and the
// base64 forms registered for a value match the joined text. It reports
// false when no break qualifies.
func joinBreaks(src []byte, parent *view) (view, bool) {
	var bd *builder
	prev := 0
	// The next '\n' and '\r' at or after i (-1: none), each found with one
	// IndexByte scan: a line break is rare, and IndexAny walks byte by byte.
	nl, cr := nextByte(src, 0, '\n'), nextByte(src, 0, '\r')
	for i := 0; i < len(src); {
		if nl >= 0 && nl < i {
			nl = nextByte(src, i, '\n')
		}
		if cr >= 0 && cr < i {
			cr = nextByte(src, i, '\r')
		}
		switch {
		case nl < 0 && cr < 0:
			i = len(src)
			continue
		case nl < 0 || (cr >= 0 && cr < nl):
			i = cr
		default:
			i = nl
		}
		n := 1
		if src[i] == '\r' && i+1 < len(src) && src[i+1] == '\n' {
			n = 2
		}
		k := i + n
		for k < len(src) && (src[k] == ' ' || src[k] == '\t') {
			k++
		}
		if k < len(src) && isBase64Char(src[k]) && base64RunBefore(src, i) {
			if bd == nil {
				bd = newBuilder(len(src), parent)
			}
			bd.copy(src, prev, i)
			prev = k
		}
		i += n
	}
	if bd == nil {
		return view{}, false
	}
	bd.copy(src, prev, len(src))
	return bd.v, true
}

// nextByte is the index of the first c in src at or after from, or -1.
func nextByte(src []byte, from int, c byte) int {
	if j := bytes.IndexByte(src[from:], c); j >= 0 {
		return from + j
	}
	return -1
}

// base64RunBefore reports whether at least minJoinRun base64 characters
// end at src[i-1].
func base64RunBefore(src []byte, i int) bool {
	if i < minJoinRun {
		return false
	}
	for _, c := range src[i-minJoinRun : i] {
		if !isBase64Char(c) {
			return false
		}
	}
	return true
}
