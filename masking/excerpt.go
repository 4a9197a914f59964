package masking

import "unicode/utf8"

// Excerpt masks the whole of text and only then cuts the result to at most
// max bytes (at a UTF-8 boundary, with "…" appended when anything was cut).
// This is the order every excerpt, error preview, progress line and log chunk
// must use: a value cut first loses its tail, no registered pattern matches
// the head that remains, and the head would be shown in clear.
func (m *Masker) Excerpt(text []byte, max int) string {
	return cut(string(m.Mask(text)), max)
}

// ExcerptString is Excerpt for a string.
func (m *Masker) ExcerptString(s string, max int) string {
	return cut(m.MaskString(s), max)
}

// cut shortens already-masked text to at most max bytes plus the ellipsis,
// never splitting a UTF-8 sequence. It must only ever see masked text.
func cut(s string, max int) string {
	if max <= 0 || len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}
