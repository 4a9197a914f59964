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
		{"12345678901234567890", []string{"12345678901234567000", "1.2345678901234567e+19", "1.2345678901234567E19"}},
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
