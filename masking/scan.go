package masking

import "slices"

// matcher is one immutable snapshot of what a Masker matches. Register
// publishes a new one; Mask, Writer and MaskJSON each load one and use it
// throughout, so they never see half a registration.
type matcher struct {
	ac      *automaton
	pend    pendView // patterns registered since ac was built
	maxLen  int      // longest pattern; bounds the streaming look-behind
	hasStar bool     // some pattern contains '*', so a replacement may create a new match
	keep    *idSet   // the Masker's kept ids (nil: none; ContainsAny's matchers)
}

func (mt *matcher) empty() bool {
	return mt == nil || (mt.ac == nil || len(mt.ac.states) <= 1) && mt.pend.n == 0
}

// rawSpans appends the merged ranges of every pattern occurrence in b as it
// is (no view).
func (mt *matcher) rawSpans(b []byte, dst []span) []span {
	start := len(dst)
	dst = mt.ac.spans(b, dst)
	if mt.pend.n == 0 {
		return dst
	}
	before := len(dst)
	dst = mt.pend.spans(b, dst)
	if len(dst) == before {
		return dst
	}
	return dst[:start+len(mergeSpans(dst[start:]))]
}

// spans appends to dst the merged, sorted ranges of b to redact: every
// pattern occurrence in b and in each of its decoded views (see decode.go),
// mapped back to b.
func (mt *matcher) spans(b []byte, dst []span) []span {
	sp, _ := mt.scan(b, dst, -1)
	return sp
}

// scan is spans that also reports, when hold >= 0, the earliest position of
// b at which an occurrence that is not complete yet may start, given that an
// occurrence spans at most hold bytes of any view. The Writer keeps b from
// there on.
func (mt *matcher) scan(b []byte, dst []span, hold int) ([]span, int) {
	if mt.empty() {
		return dst, len(b)
	}
	base := len(dst)
	dst = mt.rawSpans(b, dst)
	cut := len(b)
	if hold >= 0 {
		cut = max(trimmedLen(b)-hold, 0)
	}
	if mayHaveViews(b) {
		dst, cut = mt.scanViews(b, dst, base, hold, cut)
	}
	return append(dst[:base], mt.keep.drop(b, dst[base:])...), cut
}

// scanViews is the part of scan for texts that have views (kept apart so
// the common path allocates nothing for the closure).
func (mt *matcher) scanViews(b []byte, dst []span, base, hold, cut int) ([]span, int) {
	merged := true
	var vbuf [8]span
	for _, v := range views(b) {
		if hold >= 0 && cut > 0 {
			if i := trimmedLen(v.b) - hold; i <= 0 {
				cut = 0
			} else if c := int(v.lo[i]); c < cut {
				cut = c
			}
		}
		vs := mt.rawSpans(v.b, vbuf[:0])
		for _, s := range vs {
			dst = append(dst, v.srcRange(s))
			merged = false
		}
	}
	if !merged {
		dst = append(dst[:base], mergeSpans(dst[base:])...)
	}
	return dst, cut
}

// mergeSpans sorts sp and merges overlapping and adjacent ranges, in place.
func mergeSpans(sp []span) []span {
	if len(sp) < 2 {
		return sp
	}
	slices.SortFunc(sp, func(a, b span) int { return a.start - b.start })
	out := sp[:1]
	for _, s := range sp[1:] {
		top := &out[len(out)-1]
		if s.start <= top.end {
			top.end = max(top.end, s.end)
			continue
		}
		out = append(out, s)
	}
	return out
}

// mask returns b with every occurrence, in b or a view of it, replaced by
// Redacted; b itself when nothing matches.
func (mt *matcher) mask(b []byte) []byte {
	if mt.empty() {
		return b
	}
	var buf [16]span
	sp := mt.spans(b, buf[:0])
	if len(sp) == 0 {
		return b
	}
	out := redact(b, sp)
	// A pattern containing '*' may be completed by an inserted "***". A
	// round only ever replaces text by "***", so the text stops changing;
	// the bound guards against patterns shorter than "***" (WithMinLength).
	for round := 0; mt.hasStar && round < 8; round++ {
		sp = mt.spans(out, sp[:0])
		if len(sp) == 0 {
			break
		}
		next := redact(out, sp)
		if string(next) == string(out) {
			break
		}
		out = next
	}
	return out
}

// trimmedLen is len(b) without trailing white space. The Writer measures its
// look-behind from there: a line break and indentation at the end of the
// data may yet be removed by a join (a base64 run continuing on the next
// line), so they must not count against it.
func trimmedLen(b []byte) int {
	n := len(b)
	for n > 0 && (b[n-1] == ' ' || b[n-1] == '\t' || b[n-1] == '\n' || b[n-1] == '\r') {
		n--
	}
	return n
}
