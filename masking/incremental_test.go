package masking

import (
	"encoding/base64"
	"fmt"
	"math/bits"
	"math/rand"
	"net/url"
	"strings"
	"testing"
	"time"
)

// Registering values one at a time masks exactly what registering them at
// once does, at every stage: while they sit in the pending set, across the
// rebuilds that fold it into the automaton, and for forms found in views.
func TestIncrementalAgreesWithRegisterAll(t *testing.T) {
	r := rand.New(rand.NewSource(11))
	values := benchSecrets(1500)
	// Some short values too: their forms go to the pending set's table
	// that is probed at every position.
	for i := 0; i < len(values); i += 50 {
		values[i] = fmt.Sprintf("sh%03d", i)
	}
	inc := New()
	builds, checkedPending := 0, 0
	prevBuilt := 0
	for i, v := range values {
		inc.Register(v)
		if inc.built != prevBuilt {
			builds++
			prevBuilt = inc.built
		}
		if i%97 != 0 && i != len(values)-1 {
			continue
		}
		if inc.pending() > 0 {
			checkedPending++
		}
		all := New()
		all.RegisterAll(values[:i+1]...)
		if inc.Len() != all.Len() {
			t.Fatalf("after %d values: Len %d, RegisterAll Len %d", i+1, inc.Len(), all.Len())
		}
		for k := 0; k < 20; k++ {
			s := values[r.Intn(i+1)]
			forms := []string{s, base64.StdEncoding.EncodeToString([]byte("u:" + s)), url.QueryEscape(s),
				`\u00` + fmt.Sprintf("%02x", s[0]) + s[1:], "&#" + fmt.Sprint(s[0]) + ";" + s[1:]}
			text := "a " + forms[r.Intn(len(forms))] + " b " + values[r.Intn(len(values))] + " c"
			if got, want := inc.MaskString(text), all.MaskString(text); got != want {
				t.Fatalf("after %d values: incremental %q, RegisterAll %q", i+1, got, want)
			}
			if strings.Contains(inc.MaskString(text), s) {
				t.Fatalf("after %d values: %q survives", i+1, s)
			}
		}
	}
	if checkedPending < 5 {
		t.Errorf("only %d checks ran with patterns pending", checkedPending)
	}
	t.Logf("%d builds, %d of the checks with patterns pending", builds, checkedPending)
	// Builds double in size: about log2(patterns / minPendingCap) of them.
	if builds > 12 {
		t.Errorf("%d automaton builds for %d values one at a time", builds, len(values))
	}
	if inc.pending() == 0 && inc.built != inc.Len() {
		t.Errorf("built %d of %d patterns, none pending", inc.built, inc.Len())
	}
}

// A batch larger than the pending set's room goes straight into a rebuilt
// automaton.
func TestRegisterAllLargeBatchRebuilds(t *testing.T) {
	m := New()
	m.Register("first-value-1234")
	m.RegisterAll(benchSecrets(100)...)
	if m.pending() != 0 || m.built != m.Len() {
		t.Fatalf("pending %d, built %d of %d", m.pending(), m.built, m.Len())
	}
	m.Register("later-value-5678")
	if m.pending() == 0 {
		t.Fatal("a single value after a build was not added incrementally")
	}
	if got := m.MaskString("first-value-1234 later-value-5678"); got != "*** ***" {
		t.Fatalf("got %q", got)
	}
}

// Registering N values one at a time builds the automaton a logarithmic
// number of times, with sizes that double: the patterns built in all add up
// to at most about twice the final count, so the registrations cost
// O(N log N) (the log being the sort inside each build) whatever the
// machine's caches do to the time per state (BenchmarkRegister).
func TestRegisterOneByOneBuildsGeometrically(t *testing.T) {
	for _, n := range []int{100, 1000, 10000} {
		m := New()
		builds, builtPatterns := 0, 0
		for _, v := range benchSecrets(n) {
			var before *automaton
			if mt := m.snap.Load(); mt != nil {
				before = mt.ac
			}
			m.Register(v)
			if m.snap.Load().ac != before {
				builds++
				builtPatterns += m.built
			}
		}
		final := m.Len()
		if maxBuilds := bits.Len(uint(final/minPendingCap)) + 2; builds > maxBuilds {
			t.Errorf("n=%d: %d builds for %d patterns, want at most %d", n, builds, final, maxBuilds)
		}
		if builtPatterns > 2*final+minPendingCap {
			t.Errorf("n=%d: the builds took %d patterns in all for %d registered, want at most about twice", n, builtPatterns, final)
		}
	}
}

func TestPendingWindowShorterThanFour(t *testing.T) {
	m := New(WithMinLength(2))
	m.RegisterAll(benchSecrets(10)...) // build
	m.Register("zq")                   // pending, 2-byte window
	m.Register("zq9")
	if got := m.MaskString("a zq b zq9 c zzq"); got != "a *** b *** c z***" {
		t.Fatalf("got %q", got)
	}
}

func TestContainsAny(t *testing.T) {
	m := New()
	m.Register("old-secret-aaaa")
	since := m.Len()
	if m.ContainsAny([]byte("anything at all"), since) {
		t.Fatal("nothing registered since, yet ContainsAny is true")
	}
	m.Register("new-secret-bbbb")
	cases := []struct {
		doc  string
		want bool
	}{
		{`{"out":"old-secret-aaaa"}`, false}, // masked by the old patterns already
		{`{"out":"new-secret-bbbb"}`, true},
		{`{"out":"new\u002dsecret-bbbb"}`, true}, // escaped
		{"Basic " + base64.StdEncoding.EncodeToString([]byte("u:new-secret-bbbb")), true},
		{`{"out":"nothing here"}`, false},
		{``, false},
	}
	for _, c := range cases {
		if got := m.ContainsAny([]byte(c.doc), since); got != c.want {
			t.Errorf("ContainsAny(%q) = %v, want %v", c.doc, got, c.want)
		}
	}
	if m.ContainsAny([]byte("new-secret-bbbb"), m.Len()) {
		t.Error("ContainsAny with since = Len() is true")
	}
	if !m.ContainsAny([]byte("old-secret-aaaa"), 0) {
		t.Error("ContainsAny with since = 0 misses an old value")
	}
}

// Masking a lot of text while patterns are pending rebuilds the automaton
// in the background; what is masked does not change.
func TestPendingCompactsAfterEnoughMasking(t *testing.T) {
	m := New()
	m.RegisterAll(benchSecrets(20)...)
	m.Register("late-value-0001")
	if m.pending() == 0 {
		t.Fatal("value not pending")
	}
	line := []byte(strings.Repeat("some log text without secrets ", 100) + "late-value-0001")
	deadline := time.Now().Add(10 * time.Second)
	for {
		if got := m.Mask(line); !strings.HasSuffix(string(got), " ***") {
			t.Fatalf("late value not masked: %q", got[len(got)-30:])
		}
		m.mu.Lock()
		p := m.pending()
		m.mu.Unlock()
		if p == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no background rebuild after masking many bytes")
		}
	}
	if got := m.MaskString("x late-value-0001 y"); got != "x *** y" {
		t.Fatalf("after the rebuild: %q", got)
	}
	for !m.compacting.CompareAndSwap(false, true) {
		time.Sleep(time.Millisecond) // let the rebuild goroutine finish
	}
}
