package runsecrets

import (
	"io"
	"strings"
	"unicode/utf8"

	"github.com/wfrun/wfrun/masking"
)

// The text path: whatever is shown or stored as text (an error, an excerpt
// of a response body, a worker's stderr, a progress line, a stream) is
// masked whole, and only then cut, normalised or split. A value cut first
// loses its tail and no pattern matches the head left in clear; a TAB
// turned into a space first is no longer the registered value.

// Mask returns b with every registered value (in every registered form)
// replaced by "***". It returns b itself when nothing matched.
func (r *Run) Mask(b []byte) []byte { return r.reg.masker.Mask(b) }

// Text masks s.
func (r *Run) Text(s string) string { return r.reg.masker.MaskString(s) }

// Excerpt masks the whole of s, then cuts it to at most max bytes at a UTF-8
// boundary ("…" marks a cut).
func (r *Run) Excerpt(s string, max int) string { return r.reg.masker.ExcerptString(s, max) }

// Line masks the whole of s, then makes it one printable line (CR, LF and
// TAB become spaces, other control characters and invalid UTF-8 go) and cuts
// it to at most max bytes (0: no limit). For failure reasons that quote
// remote or user text.
func (r *Run) Line(s string, max int) string { return Line(r.reg.masker, s, max) }

// Masker is what the text path needs of a masker (*masking.Masker, *Run).
type Masker interface {
	Mask(b []byte) []byte
}

// Line is Run.Line for any masker (nil: no masking — only for text known to
// hold no secret).
func Line(m Masker, s string, max int) string {
	if m != nil && s != "" {
		s = string(m.Mask([]byte(s)))
	}
	s = strings.TrimSpace(strings.ToValidUTF8(s, "?"))
	s = strings.Map(func(c rune) rune {
		switch {
		case c == '\n' || c == '\r' || c == '\t':
			return ' '
		case c < 0x20 || c == 0x7f:
			return -1
		}
		return c
	}, s)
	return cutMasked(s, max)
}

// cutMasked shortens already-masked text to at most max bytes plus "…",
// never splitting a UTF-8 sequence.
func cutMasked(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// NewWriter returns a writer that masks a stream before it reaches w; a
// value split across writes is still masked. Cut or split the stream only
// after this writer (Close flushes what it holds back).
func (r *Run) NewWriter(w io.Writer) *masking.Writer { return r.reg.masker.NewWriter(w) }

// MaskFragments masks b, then every word of it that is a piece of a
// registered value (see masking.Masker.MaskFragments). For errors written by
// user code that cut a value into tokens: an evaluator's "abc is not
// defined" for a value "abc-def" quotes a piece no pattern matches.
func (r *Run) MaskFragments(b []byte) []byte { return r.reg.masker.MaskFragments(b) }

// CodeExcerpt is Excerpt for the errors of user code (INLINE and LAMBDA
// scripts, SWITCH and DO_WHILE expressions, jq queries): the whole text is
// masked, then every piece of a value in it, and only then is it cut.
func (r *Run) CodeExcerpt(s string, max int) string { return CodeExcerpt(r.reg.masker, s, max) }

// CodeExcerpt is Run.CodeExcerpt for any masker: one that has
// MaskFragments (*masking.Masker, *Run) masks the pieces of values too,
// another the whole text only (nil: no masking).
func CodeExcerpt(m Masker, s string, max int) string {
	if f, ok := m.(interface{ MaskFragments([]byte) []byte }); ok && s != "" {
		s = string(f.MaskFragments([]byte(s)))
	} else if m != nil && s != "" {
		s = string(m.Mask([]byte(s)))
	}
	return cutMasked(s, max)
}
