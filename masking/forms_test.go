package masking

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"html"
	"math/rand"
	"strings"
	"testing"
)

// The forms a value takes on the wire and in logs beyond the registered
// encodings: wrapped base64, JSON escapes in any mix, HTML entities, a JSON
// secret embedded whole. Each test checks that no 4-byte piece of the value
// (in the form it was written) is left, through Mask, MaskJSON where the text
// is a JSON string, and a Writer split at every point.

// pieces4 returns the 4-byte windows of s that do not occur in context: a
// window the surrounding text holds anyway proves nothing.
func pieces4(s string, context ...string) []string {
	var out []string
	for i := 0; i+4 <= len(s); i++ {
		w := s[i : i+4]
		found := false
		for _, c := range context {
			if strings.Contains(c, w) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, w)
		}
	}
	return out
}

// unwrap removes line breaks, raw or JSON-escaped, so a wrapped base64 text
// can be searched as one line.
func unwrap(s string) string {
	return strings.NewReplacer("\r", "", "\n", "", `\r`, "", `\n`, "").Replace(s)
}

// assertNoPiece fails when got, or got with its line breaks removed, holds a
// piece from pieces.
func assertNoPiece(t *testing.T, where, got string, pieces []string) {
	t.Helper()
	flat := unwrap(got)
	for _, p := range pieces {
		if strings.Contains(got, p) || strings.Contains(flat, p) {
			t.Fatalf("%s: piece %q of the value survives in %q", where, p, got)
		}
	}
}

// checkText masks text as a whole and through a Writer split at every
// point, and checks that no piece survives.
func checkText(t *testing.T, m *Masker, where, text string, pieces []string) {
	t.Helper()
	assertNoPiece(t, where, m.MaskString(text), pieces)
	for i := 0; i <= len(text); i++ {
		var buf bytes.Buffer
		w := m.NewWriter(&buf)
		w.Write([]byte(text[:i]))
		w.Write([]byte(text[i:]))
		w.Close()
		assertNoPiece(t, fmt.Sprintf("%s (writer split at %d)", where, i), buf.String(), pieces)
	}
}

// determinedBase64 returns the characters of enc(prefix+v+suffix) that
// depend on v's bytes only: the stretch a masker can recognise whatever
// surrounds v.
func determinedBase64(enc *base64.Encoding, prefix, v, suffix string) string {
	full := enc.EncodeToString([]byte(prefix + v + suffix))
	lo, hi := 8*len(prefix), 8*(len(prefix)+len(v))
	first, last := -1, -1
	for c := 0; 6*c+6 <= 8*(len(prefix)+len(v)+len(suffix))+6 && c < len(full); c++ {
		if 6*c >= lo && 6*c+6 <= hi {
			if first < 0 {
				first = c
			}
			last = c
		}
	}
	if first < 0 {
		return ""
	}
	return full[first : last+1]
}

func wrapLines(s string, width int, brk string) string {
	var sb strings.Builder
	for len(s) > width {
		sb.WriteString(s[:width])
		sb.WriteString(brk)
		s = s[width:]
	}
	sb.WriteString(s)
	return sb.String()
}

func TestWrappedBase64(t *testing.T) {
	r := rand.New(rand.NewSource(9))
	long := make([]byte, 150)
	for i := range long {
		long[i] = byte(r.Intn(256))
	}
	values := []string{"sk-live-0123456789abcdefghij", string(long)}
	for _, v := range values {
		m := New()
		m.Register(v)
		for _, width := range []int{64, 76} {
			for _, brk := range []string{"\n", "\r\n"} {
				// Every prefix length puts the line breaks at another
				// place inside v's stretch of the encoding.
				for p := 0; p < width+3; p++ {
					prefix := strings.Repeat("P", p)
					blob := base64.StdEncoding.EncodeToString([]byte(prefix + v + "-tail"))
					det := determinedBase64(base64.StdEncoding, prefix, v, "-tail")
					wrapped := wrapLines(blob, width, brk)
					// Pieces the prefix's and tail's own encodings hold are no proof.
					ctx := []string{base64.StdEncoding.EncodeToString([]byte(prefix)), "-----BEGIN DATA-----"}
					pieces := pieces4(det, ctx...)
					where := fmt.Sprintf("len=%d width=%d break=%q prefix=%d", len(v), width, brk, p)
					text := "-----BEGIN DATA-----" + brk + wrapped + brk + "-----END DATA-----"
					got := m.MaskString(text)
					assertNoPiece(t, where, got, pieces)
					if p%17 == 0 {
						checkText(t, m, where, text, pieces)
					}
					// The same text inside a JSON string: the breaks are
					// written as \n or \r\n escapes.
					js, _ := json.Marshal(map[string]string{"pem": text})
					assertNoPiece(t, where+" (JSON-escaped)", m.MaskString(string(js)), pieces)
					mj, err := m.MaskJSON(js)
					if err != nil || !json.Valid(mj) {
						t.Fatalf("%s: MaskJSON: %v %q", where, err, mj)
					}
					assertNoPiece(t, where+" (MaskJSON)", string(mj), pieces)
				}
			}
		}
	}
}

// escapeMix writes s as the body of a JSON string, each character either as
// it is (when JSON allows) or as \uXXXX (upper or lower hex, surrogate pairs
// beyond the BMP), and '/' either as it is, as \/ or as \u002f.
func escapeMix(r *rand.Rand, s string) string {
	var sb strings.Builder
	for _, c := range s {
		plainOK := c >= 0x20 && c != '"' && c != '\\'
		switch {
		case c == '/' && r.Intn(3) == 0:
			sb.WriteString(`\/`)
		case !plainOK || r.Intn(2) == 0:
			units := []rune{c}
			if c > 0xffff {
				c -= 0x10000
				units = []rune{0xd800 + (c >> 10), 0xdc00 + (c & 0x3ff)}
			}
			for _, u := range units {
				f := `\u%04x`
				if r.Intn(2) == 0 {
					f = `\u%04X`
				}
				fmt.Fprintf(&sb, f, u)
			}
		default:
			sb.WriteRune(c)
		}
	}
	return sb.String()
}

func TestJSONEscapesAnyMix(t *testing.T) {
	r := rand.New(rand.NewSource(10))
	values := []string{
		"https://hooks.example.com/T0/B1/xyzzy",
		`p<a>s&s"w'o\rd-é-€-😀`,
		"plainvalue-1234",
	}
	for _, v := range values {
		m := New()
		m.Register(v)
		for i := 0; i < 200; i++ {
			form := escapeMix(r, v)
			where := fmt.Sprintf("value %q form %q", v, form)
			pieces := append(pieces4(form, "log: ", " end"), pieces4(v, "log: ", " end")...)
			text := "log: " + form + " end"
			if i%20 == 0 {
				checkText(t, m, where, text, pieces)
			} else {
				assertNoPiece(t, where, m.MaskString(text), pieces)
			}
			// Inside a JSON document: decoded by MaskJSON, output still valid.
			doc := `{"msg":"` + form + `","n":1}`
			out, err := m.MaskJSON([]byte(doc))
			if err != nil || !json.Valid(out) {
				t.Fatalf("%s: MaskJSON: %v %q", where, err, out)
			}
			assertNoPiece(t, where+" (MaskJSON)", string(out), pieces)
		}
	}
}

func TestHTMLEntities(t *testing.T) {
	v := `Tok<en>&"quoted'-42`
	m := New()
	m.Register(v)
	numeric := func(hex, upper bool, pad int) func(rune) string {
		return func(c rune) string {
			switch {
			case hex && upper:
				return fmt.Sprintf("&#X%0*X;", pad, c)
			case hex:
				return fmt.Sprintf("&#x%0*x;", pad, c)
			}
			return fmt.Sprintf("&#%0*d;", pad, c)
		}
	}
	named := map[rune]string{'<': "&lt;", '>': "&gt;", '&': "&amp;", '"': "&quot;", '\'': "&#39;"}
	forms := []string{
		html.EscapeString(v), // &lt; &gt; &amp; &#34; &#39;
		strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;", "'", "&#x27;").Replace(v),
	}
	for _, enc := range []func(rune) string{numeric(false, false, 0), numeric(true, false, 0), numeric(true, true, 4), numeric(false, false, 5)} {
		// Only the special characters, then every character.
		var special, all strings.Builder
		for _, c := range v {
			all.WriteString(enc(c))
			if _, ok := named[c]; ok {
				special.WriteString(enc(c))
			} else {
				special.WriteRune(c)
			}
		}
		forms = append(forms, special.String(), all.String())
	}
	// HTML-escaped, then JSON-encoded by Go (which writes & as \u0026).
	gj, _ := json.Marshal(html.EscapeString(v))
	forms = append(forms, string(gj[1:len(gj)-1]))
	for _, form := range forms {
		where := fmt.Sprintf("form %q", form)
		pieces := append(pieces4(form, "<p>", "</p>"), pieces4(v, "<p>", "</p>")...)
		checkText(t, m, where, "<p>"+form+"</p>", pieces)
	}
}

func TestJSONSecretWithShortFieldsMaskedWhole(t *testing.T) {
	secrets := []string{
		`{"u":"ab","p":"xyz","n":7}`,
		"{\n  \"u\": \"ab\",\n  \"p\": \"xyz\",\n  \"n\": 7\n}", // pretty-printed at registration
	}
	for _, secret := range secrets {
		m := New()
		if !m.Register(secret) {
			t.Fatal("JSON secret refused")
		}
		compact := `{"u":"ab","p":"xyz","n":7}`
		sorted := `{"n":7,"p":"xyz","u":"ab"}` // re-encoded by a Go map
		spaced := `{"u": "ab", "p": "xyz", "n": 7}`
		for _, form := range []string{compact, sorted, spaced} {
			where := fmt.Sprintf("secret %q form %q", secret, form)
			pieces := []string{`"ab"`, `"xyz"`, `"n":7`, `"n": 7`}
			checkText(t, m, where, "creds="+form+";", pieces)
			// Embedded in a JSON string (escaped) and as a JSON value.
			js, _ := json.Marshal(map[string]any{"log": "got " + form, "v": json.RawMessage(form)})
			for _, text := range []string{string(js)} {
				assertNoPiece(t, where+" (as text)", m.MaskString(text), []string{`\"xyz\"`, `"xyz"`})
				out, err := m.MaskJSON([]byte(text))
				if err != nil || !json.Valid(out) {
					t.Fatalf("%s: MaskJSON: %v %q", where, err, out)
				}
				assertNoPiece(t, where+" (MaskJSON)", string(out), []string{`\"xyz\"`, `"xyz"`, `:7`})
			}
		}
	}
}
