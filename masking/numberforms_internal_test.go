package masking

import (
	"slices"
	"testing"
)

// The texts programs print for a JSON number secret a double cannot hold
// exactly are registered with it.
func TestNumberForms(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string // among the forms
	}{
		{"12345678901234567890", []string{"12345678901234567000", "1.2345678901234567e+19", "1.2345678901234567E19", "12345678901234567168"}},
		// The double's exact integer value (Go's %.0f, int64(f), a Duration).
		{"9123456789012345678", []string{"9123456789012345856", "9123456789012346000"}},
		{"123456789.123456789", []string{"123456789.12345679", "1.2345678912345679e+08", "1.2345678912345679E8"}},
		{"123456789012345678901234", []string{"1.2345678901234569e+23", "1.2345678901234569E23"}},
		{"-0.00000012345678901234", []string{"-1.2345678901234e-07", "-1.2345678901234e-7", "-1.2345678901234E-7"}},
		{"12345678.5", []string{"1.23456785E7", "1.23456785e+07"}},
		{"98765.4321", []string{"9.87654321e+04"}},
	} {
		got := numberForms(c.in)
		for _, w := range c.want {
			if !slices.Contains(got, w) {
				t.Errorf("numberForms(%s) = %q: no %q", c.in, got, w)
			}
		}
		if slices.Contains(got, c.in) {
			t.Errorf("numberForms(%s) holds the number itself", c.in)
		}
	}
	for _, notNumber := range []string{"", "abc", "0x1F", "1e", "01234", "NaN", "Infinity", "1e999", " 12345"} {
		if got := numberForms(notNumber); len(got) != 0 {
			t.Errorf("numberForms(%q) = %q, want none", notNumber, got)
		}
	}
}

// A secret that is a JSON number is masked where a program prints the
// nearest double in its own notation.
func TestNumberSecretMaskedAsProgramsPrintIt(t *testing.T) {
	m := New(WithLogger(nil))
	m.Register("12345678901234567890")
	for _, text := range []string{
		"JS: 12345678901234567000 is not a function",
		"jq: 1.2345678901234567E19 (number) cannot be iterated",
		"go: 1.2345678901234567e+19",
	} {
		if got := m.MaskString(text); got == text || containsDigitsRun(got, 6) {
			t.Errorf("MaskString(%q) = %q", text, got)
		}
	}
}

// containsDigitsRun reports a run of n digits in s.
func containsDigitsRun(s string, n int) bool {
	run := 0
	for i := 0; i < len(s); i++ {
		if s[i] >= '0' && s[i] <= '9' {
			if run++; run >= n {
				return true
			}
		} else {
			run = 0
		}
	}
	return false
}

// TestJSONSecretNumberLeaves: a JSON secret's number leaves are registered
// as its string leaves are: a task that prints only the number shows ***.
func TestJSONSecretNumberLeaves(t *testing.T) {
	m := New(WithLogger(nil))
	m.Register(`{"user":"svc","pin":48213907,"big":12345678901234567890,"neg":-7351,"port":443,"tls":true,"f":0.5,"n":null}`)
	for _, text := range []string{
		"pin is 48213907",
		`{"pin":48213907}`,
		`{"pin":"48213907"}`,
		"account 12345678901234567890",
		"JS: 12345678901234567000",
		"jq: 1.2345678901234567E19",
		"go: 1.2345678901234567e+19",
		"offset -7351",
	} {
		got := m.MaskString(text)
		if containsDigitsRun(got, 4) {
			t.Errorf("MaskString(%q) = %q: a number leaf shows", text, got)
		}
	}
	// Leaves under 4 bytes are not registered (443 is everywhere), nor are
	// true and null: the whole document still is.
	for _, text := range []string{"port 443", "tls true", "n null", "f 0.5", "user svc"} {
		if got := m.MaskString(text); got != text {
			t.Errorf("MaskString(%q) = %q: a short leaf was registered", text, got)
		}
	}
	if got := m.MaskString(`x {"user":"svc","pin":48213907,"big":12345678901234567890,"neg":-7351,"port":443,"tls":true,"f":0.5,"n":null} y`); got != "x *** y" {
		t.Errorf("the whole document: %q", got)
	}
}

// TestJSONSecretSpellingsKeepGoNumbers: a document's re-encoded spellings
// are Go's, as a Go program prints the decoded document (1.0 as 1, 1e3 as
// 1000), whatever the leaves are read with.
func TestJSONSecretSpellingsKeepGoNumbers(t *testing.T) {
	m := New(WithLogger(nil))
	m.Register(`{"b":1e3,"a":1.0,"s":"xy"}`)
	if got := m.MaskString(`cfg {"a":1,"b":1000,"s":"xy"} end`); got != "cfg *** end" {
		t.Errorf("keys-sorted Go spelling not masked: %q", got)
	}
	// 1e3 and 1.0 are leaves too short to register.
	if got := m.MaskString("1e3 1.0"); got != "1e3 1.0" {
		t.Errorf("short number leaves registered: %q", got)
	}
}
