package masking

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"testing"
)

func TestMaskBasic(t *testing.T) {
	m := New()
	if !m.Register("hunter22") {
		t.Fatal("Register refused an 8-byte value")
	}
	cases := []struct{ in, want string }{
		{"pw=hunter22;", "pw=***;"},
		{"hunter22hunter22", "***"},          // adjacent occurrences merge
		{"no secret here", "no secret here"}, // untouched
		{"hunter2", "hunter2"},               // a prefix is not the value
		{"xhunter22x hunter22", "x***x ***"}, // several
		{"aHVudGVyMjI=", "***"},              // base64
		{"hunter22\n", "***\n"},              // line end
		{"%2Fhunter22%2F", "%2F***%2F"},      // inside an escaped URL
		{"\"hunter22\"", "\"***\""},          // quoted
		{"", ""},
	}
	for _, c := range cases {
		if got := m.MaskString(c.in); got != c.want {
			t.Errorf("MaskString(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func TestMaskOverlapMerge(t *testing.T) {
	m := New()
	m.RegisterAll("abcdef", "defghi", "ghijkl")
	if got := m.MaskString("xxabcdefghijklyy"); got != "xx***yy" {
		t.Fatalf("overlaps not merged: %q", got)
	}
	// A longer pattern ending later that starts before several earlier
	// ranges must swallow them all.
	m2 := New()
	m2.RegisterAll("bbbb", "dddd", "abbbbcdddde")
	if got := m2.MaskString("abbbbcdddde!"); got != "***!" {
		t.Fatalf("nested ranges not merged: %q", got)
	}
	if got := m2.MaskString("bbbb-dddd"); got != "***-***" {
		t.Fatalf("separate ranges merged: %q", got)
	}
}

func TestMaskReturnsInputWhenNothingMatches(t *testing.T) {
	m := New()
	m.Register("secret-value")
	in := []byte("nothing to see")
	out := m.Mask(in)
	if &out[0] != &in[0] {
		t.Fatal("Mask copied an input without matches")
	}
	in2 := []byte("a secret-value b")
	orig := string(in2)
	out2 := m.Mask(in2)
	if string(in2) != orig {
		t.Fatal("Mask modified its input")
	}
	if string(out2) != "a *** b" {
		t.Fatalf("got %q", out2)
	}
}

func TestMaskEmptyMasker(t *testing.T) {
	m := New()
	if got := m.MaskString("anything"); got != "anything" {
		t.Fatal(got)
	}
	var nilM *Masker
	if got := string(nilM.Mask([]byte("x"))); got != "x" {
		t.Fatal(got)
	}
	if m.Len() != 0 {
		t.Fatal(m.Len())
	}
}

func TestRegisterShortValueWarns(t *testing.T) {
	var logbuf bytes.Buffer
	m := New(WithLogger(slog.New(slog.NewTextHandler(&logbuf, nil))))
	if m.Register("abc") {
		t.Fatal("3-byte value accepted")
	}
	if m.Len() != 0 {
		t.Fatalf("short value registered %d patterns", m.Len())
	}
	if !strings.Contains(logbuf.String(), "too short") {
		t.Fatalf("no warning: %q", logbuf.String())
	}
	if strings.Contains(logbuf.String(), "abc") {
		t.Fatalf("warning contains the value: %q", logbuf.String())
	}
	m2 := New(WithMinLength(2))
	if !m2.Register("ab") {
		t.Fatal("WithMinLength(2) refused 2 bytes")
	}
	if m2.MaskString("xaby") != "x***y" {
		t.Fatal(m2.MaskString("xaby"))
	}
}

func TestEncodedForms(t *testing.T) {
	secret := `p@ss "w/ord"+&<x>`
	m := New()
	m.Register(secret)
	forms := map[string]string{
		"json":      jsonEscape(secret),
		"go-json":   goJSONEscape(secret),
		"query":     url.QueryEscape(secret),
		"path":      url.PathEscape(secret),
		"base64":    base64.StdEncoding.EncodeToString([]byte(secret)),
		"base64url": base64.RawURLEncoding.EncodeToString([]byte(secret)),
	}
	for name, f := range forms {
		got := m.MaskString("<<" + f + ">>")
		if strings.Contains(got, f) {
			t.Errorf("%s form survived: %q", name, got)
		}
	}
}

// A secret embedded in a larger base64 blob is caught at every alignment
// and with any suffix: HTTP Basic auth is base64(user + ":" + password).
func TestBase64EmbeddedEveryAlignment(t *testing.T) {
	pw := "s3cr3t-passw0rd"
	m := New()
	m.Register(pw)
	for pre := 0; pre < 9; pre++ {
		for suf := 0; suf < 4; suf++ {
			blob := strings.Repeat("u", pre) + ":" + pw + strings.Repeat("z", suf)
			enc := base64.StdEncoding.EncodeToString([]byte(blob))
			got := m.MaskString("Authorization: Basic " + enc)
			if !strings.Contains(got, Redacted) {
				t.Errorf("prefix %d suffix %d: not masked: %q", pre, suf, got)
				continue
			}
			// Whatever is left visible must not decode to anything holding
			// more than a few bytes of the password.
			rest := strings.SplitN(strings.TrimPrefix(got, "Authorization: Basic "), Redacted, 2)
			if len(rest[0])+len(rest[1]) > len(enc)-len(pw)*4/3+4 {
				t.Errorf("prefix %d suffix %d: too much left: %q", pre, suf, got)
			}
		}
	}
}

func TestMultiLineValue(t *testing.T) {
	key := "-----BEGIN KEY-----\r\n  MIIEvQIBADANBgkqhkiG9w0B  \nAQEFAASCBKcwggSjAgEAAoIB\n\nab\n-----END KEY-----"
	m := New()
	m.Register(key)
	for _, line := range []string{"MIIEvQIBADANBgkqhkiG9w0B", "AQEFAASCBKcwggSjAgEAAoIB", "-----END KEY-----"} {
		if got := m.MaskString("log: " + line + " end"); got != "log: *** end" {
			t.Errorf("line %q not masked: %q", line, got)
		}
	}
	// "ab" is under the minimum and must not be registered on its own.
	if got := m.MaskString("cab driver"); got != "cab driver" {
		t.Errorf("short line registered: %q", got)
	}
}

func TestJSONSecretLeaves(t *testing.T) {
	m := New()
	m.Register(`{"user":"svc-deploy","password":"Zq9!xx77","n":1}`)
	if got := m.MaskString("pw is Zq9!xx77"); got != "pw is ***" {
		t.Fatalf("JSON leaf not masked: %q", got)
	}
}

func TestPatternWithStarIsFixedPoint(t *testing.T) {
	m := New()
	m.RegisterAll("a***b", "xa**")
	got := m.MaskString("xa**a***bb")
	for _, p := range []string{"a***b", "xa**"} {
		if strings.Contains(got, p) {
			t.Fatalf("%q survives in %q", p, got)
		}
	}
}

func TestMaskError(t *testing.T) {
	m := New()
	m.Register("tok-123456")
	base := fmt.Errorf("call failed with token tok-123456: %w", fs.ErrPermission)
	err := m.MaskError(base)
	if strings.Contains(err.Error(), "tok-123456") {
		t.Fatal(err)
	}
	if !errors.Is(err, fs.ErrPermission) || errors.Unwrap(err) != base {
		t.Fatal("unwrap chain lost")
	}
	plain := errors.New("plain")
	if m.MaskError(plain) != plain {
		t.Fatal("unchanged error was wrapped")
	}
	if m.MaskError(nil) != nil {
		t.Fatal("nil error")
	}
}

func TestConcurrentRegisterAndMask(t *testing.T) {
	m := New()
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				m.Register(fmt.Sprintf("secret-%d-%d", g, i))
			}
		}()
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				_ = m.MaskString("line with secret-1-5 and secret-2-7 inside")
			}
		}()
	}
	wg.Wait()
	// After registration returned, every value is masked.
	for g := 0; g < 4; g++ {
		for i := 0; i < 100; i++ {
			v := fmt.Sprintf("secret-%d-%d", g, i)
			if got := m.MaskString("[" + v + "]"); got != "[***]" {
				t.Fatalf("%s: %q", v, got)
			}
		}
	}
}

// A value inside a JSON document that is then base64-encoded (a JWT's
// payload, jq's tostring | @base64) is there JSON-escaped: a value holding
// a character JSON escapes is caught too, at every alignment, in both
// alphabets and with both escapers' spellings (Go's escapes <, > and &).
func TestBase64OfJSONEscapedValue(t *testing.T) {
	for _, pw := range []string{`pass"word-Zq7Lm2Xv9Kp4`, `pass\word-Zq7Lm2Xv9Kp4`, "pass<word>&Zq7Lm2Xv9Kp4", "line1-Zq7Lm\nline2-Xv9Kp4"} {
		m := New()
		m.Register(pw)
		goEsc, _ := json.Marshal(pw)
		minimal := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(goEsc))
		// Twice: a JSON document quoted as a string inside another.
		twice, _ := json.Marshal(`{"pw":` + string(goEsc) + `}`)
		twiceMin, _ := json.Marshal(`{"pw":` + minimal + `}`)
		twiceMin = []byte(strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(twiceMin)))
		for _, esc := range []string{string(goEsc), minimal, string(twice), string(twiceMin)} {
			for pre := 0; pre < 4; pre++ {
				doc := `{"sub":"` + strings.Repeat("u", pre) + `","pw":` + esc + `,"n":1}`
				for name, enc := range map[string]*base64.Encoding{"std": base64.StdEncoding, "url": base64.RawURLEncoding} {
					blob := enc.EncodeToString([]byte(doc))
					got := m.MaskString("Bearer x." + blob + ".y")
					if !strings.Contains(got, Redacted) {
						t.Errorf("%q, escaped %q, prefix %d, %s: not masked", pw, esc, pre, name)
					}
				}
			}
		}
	}
}
