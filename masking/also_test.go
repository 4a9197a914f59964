package masking

import "testing"

// WithAlso passes every value registered with a masker on to
// another, which applies its own minimum length and its own logger.
func TestMaskerWithAlso(t *testing.T) {
	proc := New(WithLogger(nil))
	m := New(WithLogger(nil), WithAlso(proc))
	m.RegisterAll("also-Hg5Fd3Sa1", "abc")
	if proc.MaskString("x also-Hg5Fd3Sa1 abc") != "x *** abc" {
		t.Fatalf("%q", proc.MaskString("x also-Hg5Fd3Sa1 abc"))
	}
}
