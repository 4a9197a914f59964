// Package leakscan finds secret values in text, for wfrun's leak-hunt
// tests: a set of secrets of awkward shapes (specials, non-ASCII, a long
// number, multi-line, a JSON object, an EXEC bundle) and a matcher that
// looks for any form of any of them in one pass — each value whole in
// every encoding SPEC §3 masks (JSON escapes, URL escapes, HTML entities,
// base64 of each at any alignment) and every piece of 8 bytes, raw and
// escaped. A hit in text a test scanned is a leak; Scrub makes a report
// quotable.
package leakscan

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"html"
	"math/rand"
	"net/url"
	"strings"
	"unicode/utf8"
)

// Secret is one secret as a test puts it in a store (Name, Value) and
// what a scan looks for.
type Secret struct {
	Name  string
	Value json.RawMessage // as the secret source returns it
	// Needles are the raw values to look for (each ≥ 8 bytes): the
	// string value; a multi-line value and each of its lines; a JSON
	// object's compact form and each of its string fields.
	Needles []string
	// WholeOnly are values searched for whole (in every form), not by
	// pieces.
	WholeOnly []string
}

const (
	alnum   = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	special = "\"\\/<>&+= %?#'"
)

var nonASCII = []string{"é", "ü", "ß", "日", "本", "€", "ж", "🔑"}

// Value is a random value of n bytes (n in [min,max]) from a charset
// chosen by kind: 0 letters and digits, 1 with JSON/URL/HTML specials,
// 2 with non-ASCII too.
func Value(rng *rand.Rand, kind, min, max int) string {
	n := min + rng.Intn(max-min+1)
	var b strings.Builder
	// Start and end with a letter: a leading or trailing space would be
	// masked "trimmed", which is fine, but keeps reports simpler.
	b.WriteByte(alnum[rng.Intn(52)])
	for b.Len() < n-1 {
		switch r := rng.Intn(10); {
		case kind >= 1 && r < 3:
			b.WriteByte(special[rng.Intn(len(special))])
		case kind >= 2 && r == 3:
			s := nonASCII[rng.Intn(len(nonASCII))]
			if b.Len()+len(s) > n-1 {
				continue
			}
			b.WriteString(s)
		default:
			b.WriteByte(alnum[rng.Intn(len(alnum))])
		}
	}
	b.WriteByte(alnum[rng.Intn(52)])
	return b.String()
}

// Secrets are eight secrets named lh_*, their values drawn from rng:
// letters and digits, JSON/URL/HTML specials, non-ASCII, a token, a
// 19-digit number, three lines, a JSON object and an EXEC bundle.
func Secrets(rng *rand.Rand) []Secret {
	var out []Secret
	str := func(name, v string) {
		b, _ := json.Marshal(v)
		out = append(out, Secret{Name: name, Value: b, Needles: []string{v}})
	}
	str("lh_alnum", Value(rng, 0, 20, 40))
	str("lh_special", Value(rng, 1, 20, 40))
	str("lh_unicode", Value(rng, 2, 20, 40))
	str("lh_token", "tok-"+Value(rng, rng.Intn(3), 20, 36))
	// A JSON number too long for a double: masked as written and as
	// programs print the nearest double (SECURITY.md).
	num := fmt.Sprintf("%d%018d", 1+rng.Intn(9), rng.Int63n(1e18))
	out = append(out, Secret{Name: "lh_num", Value: json.RawMessage(num), Needles: []string{num}})
	// A multi-line value: each line ≥ 8 bytes.
	lines := []string{Value(rng, 0, 10, 14), Value(rng, 1, 10, 14), Value(rng, 0, 10, 14)}
	multi := strings.Join(lines, "\n")
	mb, _ := json.Marshal(multi)
	out = append(out, Secret{Name: "lh_multi", Value: mb, Needles: append([]string{multi}, lines...)})
	// A JSON-object secret: masked whole and by each field.
	obj := map[string]string{"user": Value(rng, 0, 10, 16), "pass": Value(rng, 1, 20, 30), "key": Value(rng, 2, 12, 20)}
	var ob bytes.Buffer
	enc := json.NewEncoder(&ob)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(obj)
	compact := strings.TrimSuffix(ob.String(), "\n")
	// The compact form is searched whole only (wholeOnly): its pieces
	// are JSON syntax that any document holds.
	out = append(out, Secret{Name: "lh_obj", Value: json.RawMessage(compact), Needles: []string{obj["user"], obj["pass"], obj["key"]}, WholeOnly: []string{compact}})
	// An EXEC bundle: its variable's value and its file's content are
	// secret, its names and paths are not.
	bv, bf := Value(rng, 1, 16, 24), Value(rng, 2, 16, 24)
	bundle, _ := json.Marshal(map[string]any{"env_vars": []any{map[string]string{"name": "LH_BV", "value": bv}},
		"files": []any{map[string]string{"path": "b.txt", "content": bf}}})
	out = append(out, Secret{Name: "lh_bundle", Value: bundle, Needles: []string{bv, bf}, WholeOnly: []string{string(bundle)}})
	return out
}

// Pattern is one byte string whose presence in a surface is a leak.
type Pattern struct {
	Text   string
	Secret string // the secret's name
	Form   string // which form (raw, json, base64 ...)
}

// Matcher finds any of many patterns (each ≥ 8 bytes) in one pass,
// indexed by their first 4 bytes.
type Matcher struct {
	byPrefix map[uint32][]int
	pats     []Pattern
}

// EscapeJSON is s inside a JSON string, without the quotes, as
// encoding/json writes it (html: with <, > and & as \u escapes).
func EscapeJSON(s string, html bool) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	_ = enc.Encode(s)
	out := strings.TrimSuffix(b.String(), "\n")
	return out[1 : len(out)-1]
}

// EscapeJSONAll escapes every non-alphanumeric byte-rune as \uXXXX (a
// JSON writer's fully escaped form), and '/' as \/.
func EscapeJSONAll(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'):
			b.WriteRune(r)
		case r == '/':
			b.WriteString(`\/`)
		case r > 0xFFFF:
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

// EscapeURIStrict is RFC 3986 percent-encoding of everything but the
// unreserved characters (jq's @uri, JavaScript's encodeURIComponent but
// for !'()*).
func EscapeURIStrict(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// Base64Forms are the base64 forms of v as it occurs at any alignment
// inside a longer encoded text: the full 4-character groups that only v's
// bytes determine.
func Base64Forms(v string) []string {
	var out []string
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding} {
		for shift := 0; shift < 3; shift++ {
			pad := strings.Repeat("\x00", shift)
			e := enc.EncodeToString([]byte(pad + v))
			start := 0
			if shift > 0 {
				start = 4 // the first group mixes padding and value
			}
			full := (shift + len(v)) / 3 * 4
			if full-start >= 12 { // at least 9 bytes of v
				out = append(out, e[start:full])
			}
		}
	}
	return out
}

// NewMatcher looks for every form of every value of secrets.
func NewMatcher(secrets []Secret) *Matcher {
	m := &Matcher{byPrefix: map[uint32][]int{}}
	seen := map[string]bool{}
	add := func(text, secret, form string) {
		if len(text) < 8 || seen[text] {
			return
		}
		seen[text] = true
		m.pats = append(m.pats, Pattern{Text: text, Secret: secret, Form: form})
		k := binary.LittleEndian.Uint32([]byte(text[:4]))
		m.byPrefix[k] = append(m.byPrefix[k], len(m.pats)-1)
	}
	escapes := []struct {
		form string
		fn   func(string) string
	}{
		{"raw", func(s string) string { return s }},
		{"json", func(s string) string { return EscapeJSON(s, false) }},
		{"json-html", func(s string) string { return EscapeJSON(s, true) }},
		{"json-all", EscapeJSONAll},
		{"url-query", url.QueryEscape},
		{"url-path", url.PathEscape},
		{"url-strict", EscapeURIStrict},
		{"html", html.EscapeString},
		// A JSON document quoted inside another (a stored error that
		// quotes a response body, a log line's JSON field).
		{"json twice", func(s string) string { return EscapeJSON(EscapeJSON(s, false), false) }},
		{"json-html twice", func(s string) string { return EscapeJSON(EscapeJSON(s, true), true) }},
	}
	for _, s := range secrets {
		for _, v := range s.WholeOnly {
			for _, e := range escapes {
				add(e.fn(v), s.Name, e.form+" whole")
			}
			for _, b := range Base64Forms(v) {
				add(b, s.Name, "base64")
			}
		}
		for _, v := range s.Needles {
			// Whole value, in every form, and base64 of each form (a
			// nested encoding: SECURITY.md masks them up to three
			// levels deep).
			for _, e := range escapes {
				add(e.fn(v), s.Name, e.form+" whole")
				for _, b := range Base64Forms(e.fn(v)) {
					add(b, s.Name, "base64 of "+e.form)
				}
			}
			// Every piece of ≥ 8 bytes (on rune boundaries for the
			// escaped forms), raw and escaped: 8 bytes is the shortest
			// piece, so windows of exactly 8 catch every longer one.
			for i := 0; i+8 <= len(v); i++ {
				add(v[i:i+8], s.Name, "raw piece")
				if !utf8.RuneStart(v[i]) {
					continue
				}
				j := i + 8
				for j < len(v) && !utf8.RuneStart(v[j]) {
					j++
				}
				for _, e := range escapes[1:] {
					add(e.fn(v[i:j]), s.Name, e.form+" piece")
				}
			}
		}
	}
	return m
}

// Find returns the first pattern found in text and its offset.
func (m *Matcher) Find(text []byte) (int, *Pattern) {
	for i := 0; i+8 <= len(text); i++ {
		idx, ok := m.byPrefix[binary.LittleEndian.Uint32(text[i:i+4])]
		if !ok {
			continue
		}
		for _, p := range idx {
			if bytes.HasPrefix(text[i:], []byte(m.pats[p].Text)) {
				return i, &m.pats[p]
			}
		}
	}
	return -1, nil
}

// Scrub replaces every pattern in text with <secret:NAME>, so that a
// report can quote a surface (the test's output is a surface too).
func (m *Matcher) Scrub(text []byte) string {
	var b strings.Builder
	for i := 0; i < len(text); {
		best := -1
		if i+8 <= len(text) {
			for _, p := range m.byPrefix[binary.LittleEndian.Uint32(text[i:i+4])] {
				if bytes.HasPrefix(text[i:], []byte(m.pats[p].Text)) && (best < 0 || len(m.pats[p].Text) > len(m.pats[best].Text)) {
					best = p
				}
			}
		}
		if best >= 0 {
			fmt.Fprintf(&b, "<secret:%s>", m.pats[best].Secret)
			i += len(m.pats[best].Text)
			continue
		}
		b.WriteByte(text[i])
		i++
	}
	out := b.String()
	if _, p := m.Find([]byte(out)); p != nil {
		return "<unprintable: scrubbing left a piece of a value>"
	}
	return out
}

// SecretRef is a `${workflow.secrets…}` reference to one of secrets, drawn
// from rng, skipping those skip names (a bundle, which only EXEC reads by
// name): a JSON secret is referenced whole or, half the time, by one of
// lh_obj's fields.
func SecretRef(rng *rand.Rand, secrets []Secret, skip func(name string) bool) string {
	s := secrets[rng.Intn(len(secrets))]
	for skip(s.Name) {
		s = secrets[rng.Intn(len(secrets))]
	}
	if s.Name == "lh_obj" && rng.Intn(2) == 0 {
		return "${workflow.secrets.lh_obj." + []string{"user", "pass", "key"}[rng.Intn(3)] + "}"
	}
	return "${workflow.secrets." + s.Name + "}"
}

// HeaderRef is SecretRef for a value that must make a valid HTTP header:
// never lh_multi, whose lines a header cannot hold.
func HeaderRef(rng *rand.Rand, secrets []Secret, skip func(name string) bool) string {
	for {
		if r := SecretRef(rng, secrets, skip); !strings.Contains(r, "lh_multi") {
			return r
		}
	}
}
