package masking

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// derive appends to dst the forms of value that are registered with it: the
// value, its trimmed form, each trimmed line of a multi-line value, the string
// and number leaves of a JSON value, the texts programs print for a JSON number
// (numberForms), and for each of those the encodings below. Forms shorter
// than minLen are skipped.
func derive(value string, minLen int, dst []string) []string {
	bases := []string{value}
	if t := strings.TrimSpace(value); t != value {
		bases = append(bases, t)
	}
	// Multi-line values: a log line usually shows one line of a key or
	// certificate at a time (actions/runner#161).
	if strings.ContainsAny(value, "\r\n") {
		for _, line := range strings.FieldsFunc(value, func(r rune) bool { return r == '\r' || r == '\n' }) {
			if line = strings.TrimSpace(line); len(line) >= minLen {
				bases = append(bases, line)
			}
		}
	}
	// A JSON secret ({"user":…,"password":…}) leaks field by field when a
	// task pulls one field out (actions/runner#2232): register its leaves.
	if t := strings.TrimSpace(value); len(t) > 0 && (t[0] == '{' || t[0] == '[') {
		var v any
		if json.Unmarshal([]byte(t), &v) == nil {
			// The leaves are read from a decoding that keeps each number's
			// text: 12345678901234567890 is that, not its nearest double.
			var exact any
			d := json.NewDecoder(strings.NewReader(t))
			d.UseNumber()
			if d.Decode(&exact) == nil {
				bases = jsonLeaves(exact, minLen, bases)
			}
			// Fields shorter than minLen are not registered, so the
			// document is, whole, in the spellings programs re-encode it
			// to: compact (JavaScript, Go), keys sorted (Go maps) and
			// Python's json.dumps spacing.
			bases = append(bases, jsonSpellings(t, v)...)
		}
	}
	bases = append(bases, numberForms(strings.TrimSpace(value))...)
	add := func(f string) {
		if len(f) >= minLen {
			dst = append(dst, f)
		}
	}
	for _, b := range bases {
		add(b)
		add(jsonEscape(b))
		add(goJSONEscape(b))
		add(url.QueryEscape(b))
		add(strings.ReplaceAll(url.QueryEscape(b), "+", "%20"))
		add(url.PathEscape(b))
		for _, f := range base64Forms(b) {
			add(f)
		}
		// A value written into a JSON document that is then base64-encoded
		// (a JWT's payload, jq's tostring | @base64, an "X-Payload:
		// base64(json)" header) is there JSON-escaped: where escaping
		// changes it, the base64 of its escaped spellings too.
		// A JSON document quoted as a string inside another before the
		// base64 (an echo service's body, a token whose payload carries a
		// request) escapes it twice.
		for _, esc := range []func(string) string{jsonEscape, goJSONEscape} {
			e := esc(b)
			if e == b {
				continue
			}
			for _, f := range base64Forms(e) {
				add(f)
			}
			if e2 := esc(e); e2 != e {
				for _, f := range base64Forms(e2) {
					add(f)
				}
			}
		}
	}
	return dst
}

// jsonLeaves appends to dst the string and number leaves of v (decoded
// with UseNumber) at least minLen bytes long: a number as its text in the
// document and as programs print it (numberForms), as a secret that is a
// number is registered. true, false and null are not secret.
func jsonLeaves(v any, minLen int, dst []string) []string {
	switch x := v.(type) {
	case string:
		if len(x) >= minLen {
			dst = append(dst, x)
		}
	case json.Number:
		if n := string(x); len(n) >= minLen {
			dst = append(append(dst, n), numberForms(n)...)
		}
	case map[string]any:
		for _, e := range x {
			dst = jsonLeaves(e, minLen, dst)
		}
	case []any:
		for _, e := range x {
			dst = jsonLeaves(e, minLen, dst)
		}
	}
	return dst
}

// base64Forms returns the base64 text that reveals b wherever b sits inside a
// larger base64-encoded blob, in the standard and the URL-safe alphabets.
//
// Base64 encodes 3-byte groups as 4 characters. If b starts at a blob offset
// k (mod 3), the characters produced for b depend on k, and the first and last
// characters of b's stretch mix in bits of the neighbouring bytes. The
// actions/runner encoders handle the offset by dropping 1 or 2 leading bytes
// of the value before encoding (so one of the three shifted values starts on a
// group boundary), but they keep the '=' padding and the final partial
// character, so they only match a value that ends the blob on a group
// boundary: base64("user:"+password) is caught only for some prefix lengths.
//
// wfrun instead prefixes k zero bytes (k = 0, 1, 2), encodes, and keeps
// exactly the characters fully determined by b: it drops the characters that
// contain prefix bits (0, 2 or 3 characters for k = 0, 1, 2), the '='
// padding, and, when the total length is not a multiple of 3, the last
// character, which shares bits with whatever follows b. Each form is thus a
// substring of the blob's encoding whatever precedes or follows b, so HTTP
// Basic auth headers, kubeconfig blobs and the like are masked. Prefixing
// rather than dropping keeps up to two more characters of b, which makes
// accidental matches rarer. The exact padded encoding is registered too, so a
// lone base64 of the value disappears entirely.
func base64Forms(b string) []string {
	if b == "" {
		return nil
	}
	out := make([]string, 0, 8)
	full := base64.StdEncoding.EncodeToString([]byte(b))
	out = append(out, full)
	skip := [3]int{0, 2, 3}
	buf := make([]byte, 0, len(b)+2)
	for k := 0; k < 3; k++ {
		buf = buf[:0]
		for i := 0; i < k; i++ {
			buf = append(buf, 0)
		}
		buf = append(buf, b...)
		enc := base64.RawStdEncoding.EncodeToString(buf)
		if len(buf)%3 != 0 {
			enc = enc[:len(enc)-1]
		}
		if len(enc) <= skip[k] {
			continue
		}
		out = append(out, enc[skip[k]:])
	}
	// URL-safe alphabet (JWTs, base64url tokens) differs only in two symbols.
	for i, n := 0, len(out); i < n; i++ {
		if strings.ContainsAny(out[i], "+/") {
			u := strings.NewReplacer("+", "-", "/", "_").Replace(out[i])
			out = append(out, strings.TrimRight(u, "="))
		}
	}
	return out
}

// goJSONEscape is the body of the string literal encoding/json writes for s
// by default (HTML-safe escapes, invalid UTF-8 replaced), which is what Go
// programs logging JSON emit.
func goJSONEscape(s string) string {
	b, err := json.Marshal(s)
	if err != nil || len(b) < 2 {
		return ""
	}
	return string(b[1 : len(b)-1])
}

// jsonEscape returns the body of the JSON string literal for s (without the
// quotes), escaping only what JSON requires.
func jsonEscape(s string) string {
	const hex = "0123456789abcdef"
	var sb strings.Builder
	sb.Grow(len(s) + 8)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c == '\n':
			sb.WriteString(`\n`)
		case c == '\r':
			sb.WriteString(`\r`)
		case c == '\t':
			sb.WriteString(`\t`)
		case c == '\b':
			sb.WriteString(`\b`)
		case c == '\f':
			sb.WriteString(`\f`)
		case c < 0x20:
			sb.WriteString(`\u00`)
			sb.WriteByte(hex[c>>4])
			sb.WriteByte(hex[c&0xf])
		default:
			sb.WriteByte(c)
		}
	}
	return sb.String()
}

// jsonSpellings returns the re-encodings of the JSON document t (decoded
// as v) other than t itself.
func jsonSpellings(t string, v any) []string {
	var out []string
	var c bytes.Buffer
	if json.Compact(&c, []byte(t)) == nil {
		out = append(out, c.String(), pySpaced(c.Bytes()))
	}
	var sorted bytes.Buffer
	enc := json.NewEncoder(&sorted)
	enc.SetEscapeHTML(false)
	if enc.Encode(v) == nil {
		out = append(out, strings.TrimSuffix(sorted.String(), "\n"))
	}
	return out
}

// pySpaced respaces compact JSON as Python's json.dumps does by default:
// ", " between members and ": " after keys.
func pySpaced(compact []byte) string {
	out := make([]byte, 0, len(compact)+len(compact)/4)
	inStr := false
	for i := 0; i < len(compact); i++ {
		c := compact[i]
		out = append(out, c)
		switch {
		case inStr && c == '\\' && i+1 < len(compact):
			i++
			out = append(out, compact[i])
		case c == '"':
			inStr = !inStr
		case !inStr && (c == ',' || c == ':'):
			out = append(out, ' ')
		}
	}
	return string(out)
}

// jsonNumber matches a JSON number literal.
var jsonNumber = regexp.MustCompile(`^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$`)

// numberForms returns the texts other than t that programs print for the
// JSON number t. JavaScript, Java, Python, jq and Go read a JSON number as
// the nearest double and print that, in notations of their own: a secret
// 12345678901234567890 is printed 12345678901234567000 (JavaScript, Go's
// encoding/json), 1.2345678901234567e+19 (Go, Python) or
// 1.2345678901234567E19 (Java, jackson-jq), and 123456789.123456789 is
// 123456789.12345679 or 1.2345678912345679E8. None of them is t, and most
// of t's digits show in each: they are registered with it. A number a
// double holds exactly (most integers below 2^53) prints as itself in
// most of them, and adds little.
func numberForms(t string) []string {
	if len(t) == 0 || len(t) > 64 || (t[0] != '-' && (t[0] < '0' || t[0] > '9')) || !jsonNumber.MatchString(t) {
		return nil
	}
	f, err := strconv.ParseFloat(t, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil
	}
	var out []string
	addForm := func(s string) {
		if s != t && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if a := math.Abs(f); a < 1e21 {
		// JavaScript's Number#toString and Go's encoding/json below 1e21,
		// Python's repr between 1e-4 and 1e16.
		addForm(strconv.FormatFloat(f, 'f', -1, 64))
	}
	if a := math.Abs(f); a < 1e21 && f == math.Trunc(f) {
		// The double's exact integer value: what a program that turns it
		// into an integer prints (Go's %.0f, int64(f), a time.Duration of
		// that many units), 9123456789012345856 for 9123456789012345678.
		addForm(strconv.FormatFloat(f, 'f', 0, 64))
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // Go's %e, Python's repr outside that range
	addForm(e)
	addForm(strconv.FormatFloat(f, 'g', -1, 64)) // Go's %v
	mant, exp, _ := strings.Cut(e, "e")
	n, _ := strconv.Atoi(exp)
	// JavaScript past 1e21 (and below 1e-6): no leading zeros in the
	// exponent, its sign always.
	js := mant + "e+" + strconv.Itoa(n)
	if n < 0 {
		js = mant + "e" + strconv.Itoa(n)
	}
	addForm(js)
	// Java's Double.toString (jackson-jq, GraalJS's Java numbers): a plain
	// decimal between 1e-3 and 1e7, else computerized scientific notation,
	// a fraction part always.
	if a := math.Abs(f); a >= 1e-3 && a < 1e7 {
		d := strconv.FormatFloat(f, 'f', -1, 64)
		if !strings.Contains(d, ".") {
			d += ".0"
		}
		addForm(d)
	} else {
		if !strings.Contains(mant, ".") {
			mant += ".0"
		}
		addForm(mant + "E" + strconv.Itoa(n))
	}
	return out
}
