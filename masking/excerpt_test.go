package masking

import (
	"strings"
	"testing"
)

func TestExcerptMasksBeforeCutting(t *testing.T) {
	m := New()
	const secret = "tok-0123456789abcdefghij"
	m.Register(secret)
	body := strings.Repeat("x", 240) + `{"error":"bad token ` + secret + `"}`
	for max := 1; max <= len(body); max++ {
		got := m.ExcerptString(body, max)
		for n := 4; n <= len(secret); n++ {
			for i := 0; i+n <= len(secret); i++ {
				if strings.Contains(got, secret[i:i+n]) {
					t.Fatalf("max=%d: excerpt %q holds %d bytes of the value", max, got, n)
				}
			}
		}
	}
	if got := m.Excerpt([]byte("héllo"), 2); got != "h…" {
		t.Fatalf("cut inside a rune: %q", got)
	}
	if got := m.ExcerptString("short", 100); got != "short" {
		t.Fatalf("uncut text changed: %q", got)
	}
}
