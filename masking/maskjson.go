package masking

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
	a := m.ac.Load()
	changed := false
	var spanBuf [16]span
	w := walker{src: doc, out: make([]byte, 0, len(doc))}
	if a != nil {
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
	if a == nil {
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
// contains each span by "***".
func redactValues(doc []byte, sp []span) []byte {
	out := make([]byte, 0, len(doc))
	// Leading and trailing whitespace around the top-level value.
	s := 0
	for s < len(doc) && isWS(doc[s]) {
		s++
	}
	e := valueEnd(doc, s)
	for _, x := range sp {
		if x.start < s || x.end > e {
			return []byte(`"` + Redacted + `"`)
		}
	}
	out = append(out, doc[:s]...)
	out = redactIn(out, doc, s, e, sp)
	return append(out, doc[e:]...)
}

func isWS(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// redactIn writes the value doc[s:e], every span of sp that lies inside it
// redacted at the smallest enclosing value.
func redactIn(out, doc []byte, s, e int, sp []span) []byte {
	// Spans inside [s,e): the parent only passes spans it could not place
	// elsewhere, and every span is inside [s,e) or disjoint from it.
	var inside []span
	for _, x := range sp {
		if x.start >= s && x.end <= e {
			inside = append(inside, x)
		}
	}
	if len(inside) == 0 {
		return append(out, doc[s:e]...)
	}
	if doc[s] != '{' && doc[s] != '[' {
		return append(out, `"`+Redacted+`"`...)
	}
	kids := childValues(doc, s)
	for _, x := range inside {
		placed := false
		for _, k := range kids {
			if x.start >= k.start && x.end <= k.end {
				placed = true
				break
			}
		}
		if !placed {
			return append(out, `"`+Redacted+`"`...)
		}
	}
	prev := s
	for _, k := range kids {
		out = append(out, doc[prev:k.start]...)
		out = redactIn(out, doc, k.start, k.end, inside)
		prev = k.end
	}
	return append(out, doc[prev:e]...)
}

// childValues lists the spans of the member values (objects) or elements
// (arrays) of the valid container at s.
func childValues(doc []byte, s int) []span {
	var kids []span
	i := s + 1
	skipWS := func() {
		for i < len(doc) && isWS(doc[i]) {
			i++
		}
	}
	isObj := doc[s] == '{'
	for {
		skipWS()
		if i >= len(doc) || doc[i] == '}' || doc[i] == ']' {
			return kids
		}
		if doc[i] == ',' {
			i++
			continue
		}
		if isObj {
			i = valueEnd(doc, i) // the key
			skipWS()
			i++ // ':'
			skipWS()
		}
		end := valueEnd(doc, i)
		kids = append(kids, span{i, end})
		i = end
	}
}
