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
	cases := []struct {
		alpha            string
		minLen, maxLen   int
		textLen, samples int
	}{
		{"abcab*", 1, 7, 60, 3000},     // short patterns: every position probed
		{"abcd", 6, 30, 400, 2000},     // long patterns: sampled positions
		{"ab", 20, 40, 300, 500},       // many overlapping occurrences
		{"abcdefgh", 4, 12, 200, 1000}, // mixed
	}
	sampled := 0
	for _, c := range cases {
		for it := 0; it < c.samples; it++ {
			var pats []string
			for i := 0; i < 1+r.Intn(12); i++ {
				n := c.minLen + r.Intn(c.maxLen-c.minLen+1)
				var sb strings.Builder
				for j := 0; j < n; j++ {
					sb.WriteByte(c.alpha[r.Intn(len(c.alpha))])
				}
				pats = append(pats, sb.String())
			}
			a := buildAutomaton(pats)
			if a.pre.step > 1 {
				sampled++
			}
			var sb strings.Builder
			for sb.Len() < r.Intn(c.textLen) {
				if r.Intn(4) == 0 {
					sb.WriteString(pats[r.Intn(len(pats))])
				} else {
					sb.WriteByte(c.alpha[r.Intn(len(c.alpha))])
				}
			}
			text := []byte(sb.String())
			fast, ac := a.spans(text, nil), a.spansAC(text, nil)
			if !reflect.DeepEqual(fast, ac) {
				t.Fatalf("patterns %q text %q: prefiltered %v, Aho–Corasick %v", pats, text, fast, ac)
			}
		}
	}
	if sampled < 1000 {
		t.Errorf("only %d automata sampled positions", sampled)
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
