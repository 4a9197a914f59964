package masking

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// FuzzMask registers fuzzed values and masks fuzzed input as text, as a
// stream and as JSON: no panic, no registered value left, valid JSON in →
// valid JSON out.
func FuzzMask(f *testing.F) {
	f.Add("s3cret-value", `{"a":"s3cret-value","b":[1,2,"x s3cret-value y"]}`, 3)
	f.Add(`pa"ss\word`, `{"k":"pa\"ss\\word"}`, 1)
	f.Add("12345678", `[12345678, {"12345678": 1.5e3}]`, 0)
	f.Add("line one\nline two", "\"line one\\nline two\"", 7)
	f.Add("****", `"*****"`, 2)
	f.Add(`{"x":"yyyy"}`, `{"a":{"x":"yyyy"}}`, 5)
	f.Fuzz(func(t *testing.T, value, input string, cut int) {
		m := New()
		registered := m.Register(value)
		out := m.Mask([]byte(input))
		if registered && !strings.Contains(value, "*") && strings.Contains(string(out), value) {
			t.Fatalf("value survives Mask")
		}
		// The writer, split anywhere, never leaks the value either.
		cut %= len(input) + 1
		if cut < 0 {
			cut += len(input) + 1
		}
		var buf bytes.Buffer
		w := m.NewWriter(&buf)
		w.Write([]byte(input[:cut]))
		w.Write([]byte(input[cut:]))
		w.Close()
		if registered && !strings.Contains(value, "*") && strings.Contains(buf.String(), value) {
			t.Fatalf("value survives Writer")
		}
		js, err := m.MaskJSON([]byte(input))
		valid := json.Valid([]byte(input))
		switch {
		case valid && err != nil && !errors.Is(err, ErrTooDeep):
			t.Fatalf("valid JSON rejected: %v", err)
		case !valid && err == nil:
			t.Fatalf("invalid JSON accepted")
		case err == nil && !json.Valid(js):
			t.Fatalf("MaskJSON produced invalid JSON: %q", js)
		}
		if err == nil && registered && !strings.ContainsAny(value, `*"`) && strings.Contains(string(js), value) {
			t.Fatalf("value survives MaskJSON")
		}
	})
}

// FuzzArchive runs View, Archive and ArchivedSecretsNeeded on fuzzed
// documents: no panic, valid JSON in → valid JSON out, input untouched,
// and the output agrees with encoding/json about validity.
func FuzzArchive(f *testing.F) {
	f.Add([]byte(runDoc), "apiKey")
	f.Add([]byte(`{"input":{"_secrets":{"a":[1,{"b":"c"}]}},"_masked":"m"}`), "x")
	f.Add([]byte(`[{"_secr\u0065ts":1}, "_secrets", {"_masked":{}}]`), "")
	f.Add([]byte(` {"tasks":[{"status":"COMPLETED","outputData":{"_secrets":"***"}}]} `), "")
	f.Fuzz(func(t *testing.T, doc []byte, field string) {
		orig := append([]byte(nil), doc...)
		valid := json.Valid(doc)
		for _, fn := range []func([]byte, []string) ([]byte, error){View, Archive} {
			out, err := fn(doc, []string{field})
			if !bytes.Equal(doc, orig) {
				t.Fatal("input modified")
			}
			switch {
			case valid && err != nil && !errors.Is(err, ErrTooDeep):
				t.Fatalf("valid JSON rejected: %v", err)
			case !valid && err == nil:
				t.Fatalf("invalid JSON accepted")
			case err == nil && !json.Valid(out):
				t.Fatalf("invalid JSON out: %q", out)
			}
			if err == nil {
				// Idempotent: a second pass changes nothing.
				again, err2 := fn(out, []string{field})
				if err2 != nil || !bytes.Equal(again, out) {
					t.Fatalf("not idempotent")
				}
			}
		}
		if arch, err := Archive(doc, []string{field}); err == nil {
			for _, p := range ArchivedSecretsNeeded(arch) {
				if !strings.HasSuffix(p, "/_secrets") {
					t.Fatalf("pointer %q does not name a _secrets member", p)
				}
			}
		}
	})
}
