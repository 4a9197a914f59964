package masking

import (
	"index/suffixarray"
	"strings"
)

// maxFragmentWords bounds the distinct words MaskFragments looks up; past
// it, every remaining word long enough to be a piece of a value is masked
// (when in doubt, mask).
const maxFragmentWords = 2048

// MaskFragments masks b as Mask does, then also every word of the result
// that is at least the minimum length long and occurs inside a registered
// value. It is for text that user code wrote after cutting a value into
// tokens: a JavaScript engine asked to evaluate a token "ghp_abc-def"
// reports "ghp_abc is not defined", a piece that is no registered value, so
// Mask leaves it. Words are runs of bytes between spaces, quotes, brackets,
// commas and semicolons, with sentence punctuation trimmed from their ends.
//
// The values are searched through a suffix array built on the first need
// (and again after new registrations), so a word costs O(log n) whatever
// the number of values; it is still for error text (evaluator and parser
// errors), not for outputs or streams.
// It returns b itself when nothing changed.
func (m *Masker) MaskFragments(b []byte) []byte {
	if m == nil || len(b) == 0 {
		return b
	}
	b = m.Mask(b)
	corpus := m.rawIndex()
	if corpus == nil {
		return b
	}
	var out []byte
	last := 0
	looked := map[string]bool{}
	for i := 0; i < len(b); {
		if isFragmentBreak(b[i]) {
			i++
			continue
		}
		j := i
		for j < len(b) && !isFragmentBreak(b[j]) {
			j++
		}
		s, e := i, j
		for s < e && isFragmentTrim(b[s]) {
			s++
		}
		for e > s && isFragmentTrim(b[e-1]) {
			e--
		}
		if w := string(b[s:e]); len(w) >= m.minLen && w != Redacted {
			hit, ok := looked[w]
			if !ok {
				hit = len(looked) >= maxFragmentWords || len(corpus.Lookup([]byte(w), 1)) > 0
				looked[w] = hit
			}
			if hit {
				out = append(append(out, b[last:s]...), Redacted...)
				last = e
			}
		}
		i = j
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
}

// MaskFragmentsString is MaskFragments for strings.
func (m *Masker) MaskFragmentsString(s string) string {
	if s == "" {
		return s
	}
	return string(m.MaskFragments([]byte(s)))
}

// rawCorpus returns the registered values joined by NUL (no value holds a
// word with a NUL in it that a text could quote), rebuilt only when values
// were registered since the last call; nil without values.
func (m *Masker) rawIndex() *suffixarray.Index {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(m.raws) == 0 {
		return nil
	}
	if m.rawText.n != len(m.raws) {
		m.rawText.index, m.rawText.n = suffixarray.New([]byte(strings.Join(m.raws, "\x00"))), len(m.raws)
	}
	return m.rawText.index
}

func isFragmentBreak(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '\'', '`', '(', ')', '[', ']', '{', '}', '<', '>', ',', ';':
		return true
	}
	return false
}

func isFragmentTrim(c byte) bool {
	switch c {
	case '.', ':', '!', '?':
		return true
	}
	return false
}
