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
//
// An Index lists such a text whenever a new pattern's first gram is among
// its grams (a head of at least a gram's length starts with it), not only
// when the pattern's rarest gram is.

// CutMark is what Excerpt appends to a text it cut.
const CutMark = "…"

var cutMark = []byte(CutMark)

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
	if err != nil || !bytes.Contains(masked, cutMark) || len(m.patternsSince(since)) == 0 {
		return masked, err
	}
	changed := false
	w := walker{src: masked, out: make([]byte, 0, len(masked))}
	w.str = func(w *walker, raw []byte, escaped bool) {
		w.out = append(w.out, '"')
		defer func() { w.out = append(w.out, '"') }()
		if !bytes.Contains(raw, cutMark) {
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
	if len(b) == 0 || !bytes.Contains(b, cutMark) {
		return b
	}
	pats := m.patternsSince(since)
	if len(pats) == 0 {
		return b
	}
	minLen := max(m.minLen, 1)
	type span struct{ from, to int }
	var cuts []span
	for off := 0; ; {
		i := bytes.Index(b[off:], cutMark)
		if i < 0 {
			break
		}
		c := off + i
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
		off = c + len(cutMark)
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
