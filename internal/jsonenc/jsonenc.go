// Package jsonenc writes JSON string literals without HTML escaping, the one
// encoder interpolate (substituted values) and tasks (HTTP output) share.
package jsonenc

import "unicode/utf8"

// Eight-byte words for plainWord.
const (
	lows  = 0x0101010101010101
	highs = 0x8080808080808080
)

// plainWord reports whether the 8 bytes of x (little-endian) are all
// printable ASCII other than '"' and '\': bytes the loop below copies as
// they are. Each term sets a byte's high bit when the byte is (in order) not
// ASCII, a control character, '"' or '\'; the borrows of the subtractions
// may also flag a byte above a flagged one, never a word with none.
func plainWord(x uint64) bool {
	q, b := x^(lows*'"'), x^(lows*'\\')
	return (x|(x-lows*0x20)|((q-lows)&^q)|((b-lows)&^b))&highs == 0
}

// load64 reads the first 8 bytes of w (len(w) >= 8) as a little-endian
// word; the compiler makes it one load.
func load64(w string) uint64 {
	_ = w[7]
	return uint64(w[0]) | uint64(w[1])<<8 | uint64(w[2])<<16 | uint64(w[3])<<24 |
		uint64(w[4])<<32 | uint64(w[5])<<40 | uint64(w[6])<<48 | uint64(w[7])<<56
}

// AppendStringBody appends s as the inside of a JSON string: quotes, backslashes and control
// characters escaped, invalid UTF-8 replaced by U+FFFD, so the output is always valid JSON.
func AppendStringBody(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
		// Most text (ids, tokens, sealed strings, URLs) needs no escape:
		// it is checked a word at a time and copied in one append.
		for i+8 <= len(s) && plainWord(load64(s[i:i+8])) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// AppendString appends s as a quoted JSON string.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = AppendStringBody(dst, s)
	return append(dst, '"')
}
