package masking_test

import (
	"strings"
	"testing"

	"github.com/wfrun/wfrun/masking"
)

func TestMaskFragments(t *testing.T) {
	m := masking.New(masking.WithLogger(nil))
	m.RegisterAll("ghp_abc-def", "tok3n.more.parts", "correct horse battery staple")
	for _, tc := range []struct{ in, want string }{
		// goja's errors for eval() of each value.
		{"ReferenceError: ghp_abc is not defined at <eval>:1:1(0)", "ReferenceError: *** is not defined at <eval>:1:1(0)"},
		{"ReferenceError: tok3n is not defined", "ReferenceError: *** is not defined"},
		{"Unexpected token 'battery'.", "Unexpected token '***'."},
		{"expected staple, found more: (horse)", "expected ***, found ***: (***)"},
		// The whole value is masked as before.
		{"value ghp_abc-def here", "value *** here"},
		// Words that are no piece of a value stay; so do short ones.
		{"SyntaxError: Unexpected identifier at <eval>:1:5(2)", "SyntaxError: Unexpected identifier at <eval>:1:5(2)"},
		{"invalid character 'g' looking for beginning of value", "invalid character 'g' looking for beginning of value"},
		{"", ""},
	} {
		if got := m.MaskFragmentsString(tc.in); got != tc.want {
			t.Errorf("MaskFragments(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// A value registered after a first call is searched by the next one.
func TestMaskFragmentsSeesLaterValues(t *testing.T) {
	m := masking.New(masking.WithLogger(nil))
	m.Register("first-value-1")
	if got := m.MaskFragmentsString("rotated is not defined"); got != "rotated is not defined" {
		t.Fatalf("got %q", got)
	}
	m.Register("rotated-value-2")
	if got := m.MaskFragmentsString("rotated is not defined"); got != "*** is not defined" {
		t.Fatalf("got %q", got)
	}
}

// Text without a piece of a value comes back as the same slice.
func TestMaskFragmentsUnchanged(t *testing.T) {
	m := masking.New(masking.WithLogger(nil))
	m.Register("some-secret-value")
	in := []byte("nothing to see here")
	if out := m.MaskFragments(in); &out[0] != &in[0] {
		t.Fatal("unchanged text was copied")
	}
	var nilMasker *masking.Masker
	if got := nilMasker.MaskFragments(in); string(got) != string(in) {
		t.Fatal("nil masker changed the text")
	}
}

// Past maxFragmentWords distinct words, every remaining long word is
// masked: a huge error cannot make the search unbounded, and it errs on
// the side of masking.
func TestMaskFragmentsBounded(t *testing.T) {
	m := masking.New(masking.WithLogger(nil))
	m.Register("needle-in-a-haystack")
	var b strings.Builder
	for i := 0; i < 3000; i++ {
		b.WriteString("word")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteByte(byte('a' + i%26))
		b.WriteByte(byte('a' + (i/26)%26))
		b.WriteByte(byte('a' + (i/676)%26))
		b.WriteByte(' ')
	}
	b.WriteString("needle")
	got := m.MaskFragmentsString(b.String())
	if !strings.HasSuffix(got, "***") {
		t.Fatalf("the piece after the bound is not masked: …%s", got[len(got)-40:])
	}
}
