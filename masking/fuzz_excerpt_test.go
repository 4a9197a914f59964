package masking

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"math/rand"
	"net/url"
	"strings"
	"testing"
	"unicode/utf8"
)

// fillerAlphabet is what surrounds a value in FuzzExcerpt: no escape
// characters, so the form placed between fillers is the only thing a view
// decodes, and no '*'.
const fillerAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJ0123456789 .,:=-_/+"

func filler(b string) string {
	out := make([]byte, len(b))
	for i := 0; i < len(b); i++ {
		out[i] = fillerAlphabet[int(b[i])%len(fillerAlphabet)]
	}
	return string(out)
}

// fuzzForm writes v in form kind (seeded choices from r) and returns the
// text and the part of it that must not survive (for base64, the
// characters that depend on v only). ok is false when the form does not
// apply to v.
func fuzzForm(kind byte, v string, r *rand.Rand) (form, secret, noise string, ok bool) {
	form, secret, ok = fuzzForm1(kind, v, r)
	if ok && kind%11 >= 5 && kind%11 <= 7 {
		// The rest of the blob (the prefix's and tail's encoding) stays.
		noise = strings.Replace(unwrap(form), secret, " ", 1)
	}
	return form, secret, noise, ok
}

func fuzzForm1(kind byte, v string, r *rand.Rand) (form, secret string, ok bool) {
	text := utf8.ValidString(v)
	switch kind % 11 {
	case 0:
		return v, v, true
	case 1:
		if !text {
			return "", "", false
		}
		j, _ := json.Marshal(v)
		f := string(j[1 : len(j)-1])
		return f, f, true
	case 2:
		if !text {
			return "", "", false
		}
		f := escapeMix(r, v)
		return f, f, true
	case 3:
		if !text {
			return "", "", false
		}
		f := html.EscapeString(v)
		return f, f, true
	case 4:
		if !text {
			return "", "", false
		}
		var sb strings.Builder
		for _, c := range v {
			switch r.Intn(3) {
			case 0:
				fmt.Fprintf(&sb, "&#%d;", c)
			case 1:
				fmt.Fprintf(&sb, "&#x%X;", c)
			default:
				if c == '&' || c == '\\' || c == '%' {
					fmt.Fprintf(&sb, "&#%d;", c) // would start an escape of its own
				} else {
					sb.WriteRune(c)
				}
			}
		}
		return sb.String(), sb.String(), true
	case 5, 6, 7:
		prefix := strings.Repeat("p", r.Intn(80))
		enc := base64.StdEncoding
		if r.Intn(3) == 0 {
			enc = base64.RawURLEncoding
		}
		blob := enc.EncodeToString([]byte(prefix + v + "!tail"))
		det := determinedBase64(enc, prefix, v, "!tail")
		switch kind % 11 {
		case 6:
			blob = wrapLines(blob, []int{64, 76}[r.Intn(2)], []string{"\n", "\r\n"}[r.Intn(2)])
		case 7:
			blob = wrapLines(blob, []int{64, 76}[r.Intn(2)], []string{"\n", "\r\n"}[r.Intn(2)])
			j, _ := json.Marshal(blob)
			blob = string(j[1 : len(j)-1])
		}
		return blob, det, len(det) >= 4
	case 8:
		f := url.QueryEscape(v)
		return f, f, true
	case 9:
		f := url.PathEscape(v)
		return f, f, true
	default:
		lines := strings.FieldsFunc(v, func(c rune) bool { return c == '\n' || c == '\r' })
		if len(lines) == 0 {
			return "", "", false
		}
		l := strings.TrimSpace(lines[r.Intn(len(lines))])
		return l, l, len(l) >= DefaultMinLength
	}
}

// FuzzExcerpt is the mask-then-cut path: a registered value in one of its
// forms between random text, cut anywhere by Excerpt. The excerpt is a
// prefix of the masked text, and never holds 4 consecutive bytes of the
// value's form that the surrounding text does not hold too.
func FuzzExcerpt(f *testing.F) {
	f.Add("s3cret-value-0001", "before", "after", byte(0), int64(1), 10)
	f.Add(`p<a>s&s"w'o\rd`, "x", "y", byte(2), int64(2), 7)
	f.Add("line one\nline two!", "", "tail", byte(10), int64(3), 100)
	f.Add("\x00\x01binary-ish\xff", "head", "", byte(6), int64(4), 50)
	f.Add("https://x.example/a/b?c=d e", "a", "b", byte(8), int64(5), 20)
	f.Add("tok-é-€-😀-1234", "a", "b", byte(4), int64(6), 33)
	f.Add(`{"u":"ab","p":"xy"}`, "a", "b", byte(1), int64(7), 64)
	f.Fuzz(func(t *testing.T, value, f1, f2 string, kind byte, seed int64, max int) {
		if strings.Contains(value, "*") || len(value) > 200 || len(f1) > 200 || len(f2) > 200 {
			return
		}
		m := New()
		if seed%2 == 0 {
			// Another value first: this one then sits in the pending set.
			m.Register("decoy-value-0000")
		}
		if !m.Register(value) {
			return
		}
		r := rand.New(rand.NewSource(seed))
		form, secret, noise, ok := fuzzForm(kind, value, r)
		if !ok {
			return
		}
		before, after := filler(f1)+" ", " "+filler(f2)
		text := before + form + after
		masked := m.MaskString(text)
		if max < 0 {
			max = -max
		}
		max %= len(text) + 8
		ex := m.ExcerptString(text, max)
		body := strings.TrimSuffix(ex, "…")
		if !strings.HasPrefix(masked, body) {
			t.Fatalf("excerpt %q is not a prefix of the masked text %q", ex, masked)
		}
		// The same text streamed through a Writer in random pieces.
		var streamed bytes.Buffer
		w := m.NewWriter(&streamed)
		for rest := text; len(rest) > 0; {
			n := min(1+r.Intn(len(text)), len(rest))
			w.Write([]byte(rest[:n]))
			rest = rest[n:]
		}
		w.Close()
		pieces := pieces4(secret, unwrap(before), unwrap(after), before, after, noise)
		for _, out := range []string{masked, body, streamed.String()} {
			flat := unwrap(out)
			for _, p := range pieces {
				if strings.Contains(out, p) || strings.Contains(flat, p) {
					t.Fatalf("kind %d: piece %q of %q survives in %q", kind%11, p, secret, out)
				}
			}
		}
	})
}

// FuzzDecodeViews checks the decoded views on any input: no panic; every
// view byte maps to a non-empty range of the source, ranges in order; a
// copied byte is the source byte; and a JSON string body decodes as
// encoding/json decodes it.
func FuzzDecodeViews(f *testing.F) {
	for _, s := range []string{`a\u0041\/b`, `&lt;&#60;&#x3C;&amp;lt;`, "%2F%2f%zz", "QUFB\nQkJC\r\n  Q0ND",
		`\ud83d\ude00 \ud83d x`, `\\u0041`, "&#1114112;&#xD800;", `\u00`, "plain"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		vs := views(src)
		for _, v := range vs {
			if len(v.lo) != len(v.b) || len(v.hi) != len(v.b) {
				t.Fatalf("view of %d bytes with %d/%d positions", len(v.b), len(v.lo), len(v.hi))
			}
			for i := range v.b {
				lo, hi := v.lo[i], v.hi[i]
				if lo < 0 || hi <= lo || int(hi) > len(src) {
					t.Fatalf("byte %d maps to [%d,%d) of %d", i, lo, hi, len(src))
				}
				if i > 0 && (lo < v.lo[i-1] || hi < v.hi[i-1]) {
					t.Fatalf("byte %d maps before byte %d", i, i-1)
				}
				if hi-lo == 1 && v.b[i] != src[lo] {
					t.Fatalf("byte %d copied from %d differs", i, lo)
				}
			}
			// A span over the whole view maps inside the source.
			if len(v.b) > 0 {
				s := v.srcRange(span{0, len(v.b)})
				if s.start < 0 || s.end > len(src) || s.start >= s.end {
					t.Fatalf("whole view maps to %v", s)
				}
			}
		}
		if len(vs) > 3*maxDecodeRounds+4 {
			t.Fatalf("%d views", len(vs))
		}
		// A JSON string body without '&' and '%' decodes as encoding/json does.
		if bytes.ContainsAny(src, "&%\r\n") || !utf8.Valid(src) {
			return
		}
		var want string
		if json.Unmarshal([]byte(`"`+string(src)+`"`), &want) != nil {
			return
		}
		got, _, ok := decodeOnce(src, nil, escAll)
		if !ok {
			got.b = src
		}
		if string(got.b) != want {
			t.Fatalf("decodeOnce(%q) = %q, encoding/json %q", src, got.b, want)
		}
	})
}
