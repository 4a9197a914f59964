package masking

import (
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"
)

// The prefiltered scan and the Aho–Corasick pass agree on every text, short
// patterns (WithMinLength) and overlapping ones included.
func TestPrefilterAgreesWithAhoCorasick(t *testing.T) {
	r := rand.New(rand.NewSource(12))
	alpha := "abcab*"
	for it := 0; it < 3000; it++ {
		var pats []string
		for i := 0; i < 1+r.Intn(12); i++ {
			n := 1 + r.Intn(7)
			var sb strings.Builder
			for j := 0; j < n; j++ {
				sb.WriteByte(alpha[r.Intn(len(alpha))])
			}
			pats = append(pats, sb.String())
		}
		a := buildAutomaton(pats)
		var sb strings.Builder
		for j := 0; j < r.Intn(60); j++ {
			sb.WriteByte(alpha[r.Intn(len(alpha))])
		}
		text := []byte(sb.String())
		fast, ac := a.spans(text, nil), a.spansAC(text, nil)
		if !reflect.DeepEqual(fast, ac) {
			t.Fatalf("patterns %q text %q: prefiltered %v, Aho–Corasick %v", pats, text, fast, ac)
		}
	}
}

// A text built to make the trie walks long (the prefix of a long pattern,
// repeated) falls back to the linear pass instead of taking quadratic time.
func TestPrefilterHostileTextStaysLinear(t *testing.T) {
	long := strings.Repeat("a", 4000) + "b"
	m := New()
	m.Register(long)
	text := []byte(strings.Repeat("a", 1<<20))
	start := time.Now()
	if got := m.Mask(text); len(got) != len(text) {
		t.Fatal("masked a text that holds no pattern")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("1 MiB hostile text took %v", d)
	}
	a := m.snap.Load().ac
	if !reflect.DeepEqual(a.spans(text, nil), a.spansAC(text, nil)) {
		t.Fatal("fallback disagrees")
	}
}
