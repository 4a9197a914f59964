package jsonenc

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

// appendStringBodyByByte is AppendStringBody without the word-at-a-time
// path: the reference the fast path must match byte for byte.
func appendStringBodyByByte(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	start := 0
	for i := 0; i < len(s); {
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

func TestAppendString(t *testing.T) {
	long := strings.Repeat("abcdefgh", 9)
	tests := []struct{ in, want string }{
		{"", `""`},
		{"plain", `"plain"`},
		{long, `"` + long + `"`},
		{long + `"`, `"` + long + `\""`},
		{`0123456"89abcdef`, `"0123456\"89abcdef"`},
		{`01234567\9abcdef`, `"01234567\\9abcdef"`},
		{"0123456789ab\ncdef", `"0123456789ab\ncdef"`},
		{"0123456789\x00abcdef", `"0123456789\u0000abcdef"`},
		{"0123456789\x1fabcdef", `"0123456789\u001fabcdef"`},
		{"01234567\x7fabcdefg", "\"01234567\x7fabcdefg\""},
		{"0123456789é ü 0123456", `"0123456789é ü 0123456"`},
		{"01234567\xffabcdefgh", `"01234567\ufffdabcdefgh"`},
		{"<tag>&amp; 12345678", `"<tag>&amp; 12345678"`},
		{"\t\t\t\t\t\t\t\t\t", `"\t\t\t\t\t\t\t\t\t"`},
	}
	for _, tt := range tests {
		got := string(AppendString(nil, tt.in))
		if got != tt.want {
			t.Errorf("AppendString(%q) = %s, want %s", tt.in, got, tt.want)
		}
		var back string
		if err := json.Unmarshal([]byte(got), &back); err != nil {
			t.Errorf("AppendString(%q) = %s: not valid JSON: %v", tt.in, got, err)
		} else if back != strings.ToValidUTF8(tt.in, "\uFFFD") && utf8.ValidString(tt.in) {
			t.Errorf("AppendString(%q) decodes to %q", tt.in, back)
		}
	}
}

// TestPlainWordEveryByte checks the word test against the byte rule for
// every byte value at every position of a word of plain bytes.
func TestPlainWordEveryByte(t *testing.T) {
	for pos := 0; pos < 8; pos++ {
		for c := 0; c < 256; c++ {
			var x uint64
			for i := 0; i < 8; i++ {
				b := uint64('a')
				if i == pos {
					b = uint64(c)
				}
				x |= b << (8 * i)
			}
			want := c >= 0x20 && c < 0x80 && c != '"' && c != '\\'
			if got := plainWord(x); got != want {
				t.Errorf("byte %#x at %d: plainWord = %v, want %v", c, pos, got, want)
			}
		}
	}
}

func FuzzAppendStringBody(f *testing.F) {
	for _, s := range []string{"", "plain text here", "0123456\"89abcdef", "é\xff\x00\\\"\n", strings.Repeat("x", 40) + "\x01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, want := AppendStringBody([]byte("p"), s), appendStringBodyByByte([]byte("p"), s)
		if string(got) != string(want) {
			t.Fatalf("AppendStringBody(%q) = %q, byte by byte %q", s, got, want)
		}
		if !json.Valid(AppendString(nil, s)) {
			t.Fatalf("AppendString(%q) is not valid JSON", s)
		}
	})
}

func BenchmarkAppendString(b *testing.B) {
	for _, c := range []struct{ name, s string }{
		{"token-16", "tok-9f8e7d6c5b4a"},
		{"sealed-120", strings.Repeat("AbCdEfGh0123456789+/", 6)},
		{"escapes-120", strings.Repeat("ab\"cd\\ef\n", 13)},
	} {
		buf := make([]byte, 0, 512)
		b.Run("impl=words/"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.s)))
			for b.Loop() {
				buf = AppendString(buf[:0], c.s)
			}
		})
		b.Run("impl=bytes/"+c.name, func(b *testing.B) {
			b.SetBytes(int64(len(c.s)))
			for b.Loop() {
				buf = append(appendStringBodyByByte(append(buf[:0], '"'), c.s), '"')
			}
		})
	}
}
