package masking

import (
	"bytes"
	"unsafe"
)

// Texts cut before a value was registered.
//
// Excerpt masks a text whole and only then cuts it, so no value registered
// at the time keeps its head in the excerpt. A value registered later is
// another matter: the stored excerpt may end with the head of it, cut
// where the excerpt ends, and no whole pattern matches a head. Masking such
// a text again therefore also masks, at each cut mark, the longest run of
// bytes before the mark that is the head of a new pattern — at least the
// minimum length long, as a value shorter than that is not masked at all.
// Any "…" is taken for a cut mark (when in doubt, mask): a reason quotes an
// excerpt cut in its middle, and a text may end with an ellipsis of its own.
// So is its JSON escape, \u2026: an excerpt quoted in a JSON text written
// by a producer that escapes what is not ASCII (a worker's log line, a
// remote body in a reason). nextCutMark is the one place that knows them.
//
// An Index lists such a text whenever a new pattern's first gram is among
// its grams (a head of at least a gram's length starts with it), not only
// when the pattern's rarest gram is.

// CutMark is what Excerpt appends to a text it cut.
const CutMark = "…"

// cutMarks are the spellings taken for a cut mark: CutMark as it is and
// JSON-escaped (the hex digits of U+2026 have no letter case).
var cutMarks = [...][]byte{[]byte(CutMark), []byte(`\u2026`)}

// holdsCutMark reports whether b holds a cut mark.
func holdsCutMark(b []byte) bool {
	for _, mark := range cutMarks {
		if bytes.Contains(b, mark) {
			return true
		}
	}
	return false
}

// cutMarkScan walks the cut marks of a text in order, each spelling
// searched for again only once the walk has passed its last find: linear
// in the text whatever the mix of spellings.
type cutMarkScan struct {
	b    []byte
	next [len(cutMarks)]int // where the next mark of each spelling starts, -1: none
}

func newCutMarkScan(b []byte) *cutMarkScan {
	s := &cutMarkScan{b: b}
	for k, mark := range cutMarks {
		s.next[k] = bytes.Index(b, mark)
	}
	return s
}

// mark returns where the next cut mark starts, -1 when there is none, and
// moves past it.
func (s *cutMarkScan) mark() int {
	at, n := -1, 0
	for k, i := range s.next {
		if i >= 0 && (at < 0 || i < at) {
			at, n = i, len(cutMarks[k])
		}
	}
	if at < 0 {
		return -1
	}
	for k, i := range s.next {
		if i >= 0 && i < at+n {
			if j := bytes.Index(s.b[at+n:], cutMarks[k]); j >= 0 {
				s.next[k] = at + n + j
			} else {
				s.next[k] = -1
			}
		}
	}
	return at
}

// MaskCut masks b as Mask does and then, before each CutMark in the
// result, the longest run of bytes that is the head (at least the minimum
// length) of a pattern registered after Len returned since: what masking
// again a text cut by Excerpt needs once values were registered after it
// was cut. It returns b itself when nothing changed.
func (m *Masker) MaskCut(b []byte, since int) []byte {
	if m == nil {
		return b
	}
	return m.maskCutTails(m.Mask(b), since)
}

// MaskCutString is MaskCut for strings.
func (m *Masker) MaskCutString(s string, since int) string {
	if s == "" || m == nil {
		return s
	}
	out := m.MaskCut([]byte(s), since)
	if string(out) == s {
		return s
	}
	return string(out)
}

// MaskCutJSON masks doc as MaskJSON does and then each string in it (keys
// too) as MaskCut does. It returns doc itself when nothing changed, and an
// error wrapping ErrInvalidJSON for a doc that is not JSON.
func (m *Masker) MaskCutJSON(doc []byte, since int) ([]byte, error) {
	if m == nil {
		return doc, nil
	}
	masked, err := m.MaskJSON(doc)
	if err != nil || !holdsCutMark(masked) || len(m.patternsSince(since)) == 0 {
		return masked, err
	}
	changed := false
	w := walker{src: masked, out: make([]byte, 0, len(masked))}
	w.str = func(w *walker, raw []byte, escaped bool) {
		w.out = append(w.out, '"')
		defer func() { w.out = append(w.out, '"') }()
		if !holdsCutMark(raw) {
			w.out = append(w.out, raw...)
			return
		}
		text := raw
		if escaped {
			text = unescape(raw)
		}
		out := m.maskCutTails(text, since)
		if len(out) == len(text) && &out[0] == &text[0] {
			w.out = append(w.out, raw...)
			return
		}
		changed = true
		w.out = appendJSONString(w.out, out)
	}
	if err := w.document(); err != nil {
		return nil, err
	}
	if !changed {
		return masked, nil
	}
	return w.out, nil
}

// maskCutTails masks, before each CutMark in b (already masked), the
// longest run of bytes that is the head of a pattern registered since.
func (m *Masker) maskCutTails(b []byte, since int) []byte {
	if len(b) == 0 || !holdsCutMark(b) {
		return b
	}
	pats := m.patternsSince(since)
	if len(pats) == 0 {
		return b
	}
	minLen := max(m.minLen, 1)
	type span struct{ from, to int }
	var cuts []span
	for scan := newCutMarkScan(b); ; {
		c := scan.mark()
		if c < 0 {
			break
		}
		from := c
		for _, p := range pats {
			if s := headBefore(b, c, p, minLen); s < from {
				from = s
			}
		}
		if from < c {
			if n := len(cuts); n > 0 && from <= cuts[n-1].to {
				cuts[n-1].to = c // overlaps the previous run: one "***"
			} else {
				cuts = append(cuts, span{from, c})
			}
		}
	}
	if len(cuts) == 0 {
		return b
	}
	out := make([]byte, 0, len(b))
	last := 0
	for _, s := range cuts {
		out = append(append(out, b[last:s.from]...), Redacted...)
		last = s.to
	}
	return append(out, b[last:]...)
}

// headBefore returns the smallest i such that b[i:c] is a head of p at
// least minLen long, or c when there is none.
func headBefore(b []byte, c int, p string, minLen int) int {
	if len(p) < minLen || c < minLen {
		return c
	}
	for i := max(c-len(p), 0); i+minLen <= c; {
		j := indexString(b[i:c], p[:minLen])
		if j < 0 {
			return c
		}
		i += j
		if p[:c-i] == string(b[i:c]) {
			return i
		}
		i++
	}
	return c
}

// indexString is bytes.Index of s in b without copying s.
func indexString(b []byte, s string) int {
	return bytes.Index(b, unsafe.Slice(unsafe.StringData(s), len(s)))
}
