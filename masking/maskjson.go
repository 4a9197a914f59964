package masking

import "sort"

// MaskJSON masks registered values inside a JSON document and returns a valid
// JSON document; it returns an error wrapping ErrInvalidJSON (with the byte
// offset) when doc is not valid JSON. doc itself is returned when nothing was
// masked; doc is never modified.
//
// It works in two passes. The first decodes every string (object keys
// included), masks the decoded text and re-encodes it when something matched,
// so a value is found whatever escapes the document uses (\u0041, \/, …).
// The second scans the raw text for occurrences that cross token boundaries —
// a secret that is itself a JSON document, a number — and replaces the
// smallest JSON value that contains each of them by "***". Both passes only
// ever write whole, well-formed tokens, so the output is valid by
// construction.
func (m *Masker) MaskJSON(doc []byte) ([]byte, error) {
	a := m.snap.Load()
	defer m.noteScan(a, len(doc))
	changed := false
	var spanBuf [16]span
	w := walker{src: doc, out: make([]byte, 0, len(doc))}
	if !a.empty() {
		w.str = func(w *walker, raw []byte, escaped bool) {
			w.out = append(w.out, '"')
			if !escaped {
				sp := a.spans(raw, spanBuf[:0])
				if len(sp) == 0 {
					w.out = append(w.out, raw...)
				} else {
					changed = true
					// raw holds no escapes, so cutting it anywhere keeps it
					// a valid string body; masked text may still match a
					// pattern containing '*', hence a.mask on the result.
					r := redact(raw, sp)
					if a.hasStar {
						r = a.mask(r)
					}
					w.out = append(w.out, r...)
				}
			} else {
				dec := unescape(raw)
				masked := a.mask(dec)
				if len(masked) == len(dec) && (len(dec) == 0 || &masked[0] == &dec[0]) {
					w.out = append(w.out, raw...)
				} else {
					changed = true
					w.out = appendJSONString(w.out, masked)
				}
			}
			w.out = append(w.out, '"')
		}
	}
	if err := w.document(); err != nil {
		return nil, err
	}
	if a.empty() {
		return doc, nil
	}
	out := w.out
	// Replacing a value by "***" can complete a pattern that contains '*'
	// or '"'; repeat while that happens (bounded: a pattern inside a "***"
	// token itself cannot be removed by another round).
	for round := 0; round < 8; round++ {
		sp := a.spans(out, nil)
		if len(sp) == 0 {
			break
		}
		next := redactValues(out, sp)
		if string(next) == string(out) {
			break
		}
		out = next
		changed = true
	}
	if !changed {
		return doc, nil
	}
	return out, nil
}

// redactValues replaces, in the valid document doc, the smallest value that
// contains each span by "***". One walk reports every value's extent, inner
// values first; the first value that contains a span is the smallest one.
func redactValues(doc []byte, sp []span) []byte {
	assigned := make([]bool, len(sp))
	left := len(sp)
	var hits []span
	w := walker{src: doc, mute: 1}
	w.valueDone = func(start, end int) {
		if left == 0 {
			return
		}
		// Spans are sorted by start: only those starting in [start,end)
		// can be inside.
		i := sort.Search(len(sp), func(i int) bool { return sp[i].start >= start })
		hit := false
		for ; i < len(sp) && sp[i].start < end; i++ {
			if !assigned[i] && sp[i].end <= end {
				assigned[i] = true
				left--
				hit = true
			}
		}
		if hit {
			hits = append(hits, span{start, end})
		}
	}
	if w.document() != nil || left > 0 {
		// A span reaching outside the top-level value: nothing smaller holds it.
		return []byte(`"` + Redacted + `"`)
	}
	// Inner values come first; keep only the outermost of nested hits.
	sort.Slice(hits, func(i, j int) bool {
		if hits[i].start != hits[j].start {
			return hits[i].start < hits[j].start
		}
		return hits[i].end > hits[j].end
	})
	out := make([]byte, 0, len(doc))
	prev := 0
	for _, h := range hits {
		if h.start < prev {
			continue // inside a value already replaced
		}
		out = append(out, doc[prev:h.start]...)
		out = append(out, `"`+Redacted+`"`...)
		prev = h.end
	}
	return append(out, doc[prev:]...)
}
