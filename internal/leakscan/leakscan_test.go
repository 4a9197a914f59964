package leakscan

import (
	"encoding/base64"
	"encoding/json"
	"html"
	"math/rand"
	"net/url"
	"strings"
	"testing"
)

// TestMatcher checks the leak hunts' detector: every form of a
// value, and every piece of 8 bytes, is found; text without one is not.
func TestMatcher(t *testing.T) {
	v := `ab"c\d/e<f&g+h=i j日k🔑lmnopq`
	b, _ := json.Marshal(v)
	m := NewMatcher([]Secret{{Name: "s", Value: b, Needles: []string{v}}})
	found := []string{
		"x" + v + "y",
		string(b),
		EscapeJSONAll(v),
		url.QueryEscape(v),
		url.PathEscape(v),
		html.EscapeString(v),
		base64.StdEncoding.EncodeToString([]byte("1" + v)),
		base64.URLEncoding.EncodeToString([]byte("12" + v + "3")),
		"…" + v[3:11] + "…",
		EscapeJSON(v[2:12], false),
		EscapeJSON(EscapeJSON(v, false), false),
		EscapeJSON(EscapeJSON(v[1:10], true), true),
	}
	for _, f := range found {
		if _, p := m.Find([]byte(f)); p == nil {
			t.Errorf("not found: form %q", m.Scrub([]byte(f)))
		}
	}
	for _, f := range []string{"***", v[:7], `{"a":"***","b":"x"}`, base64.StdEncoding.EncodeToString([]byte(v[:5]))} {
		if _, p := m.Find([]byte(f)); p != nil {
			t.Errorf("found %s in %q", p.Form, f)
		}
	}
	if got := m.Scrub([]byte("pre " + v + " post")); got != "pre <secret:s> post" {
		t.Errorf("scrub: %q", got)
	}
}

// TestSecretsShapes: every needle is long enough to be looked for by
// pieces, and each secret's value holds its needles.
func TestSecretsShapes(t *testing.T) {
	for seed := int64(0); seed < 50; seed++ {
		secrets := Secrets(rand.New(rand.NewSource(seed)))
		if len(secrets) != 8 {
			t.Fatalf("seed %d: %d secrets", seed, len(secrets))
		}
		for _, s := range secrets {
			if !json.Valid(s.Value) {
				t.Fatalf("seed %d: %s: value is not JSON", seed, s.Name)
			}
			for _, n := range s.Needles {
				if len(n) < 8 {
					t.Errorf("seed %d: %s: needle of %d bytes", seed, s.Name, len(n))
				}
				var str string
				if json.Unmarshal(s.Value, &str) == nil && !strings.Contains(str, n) {
					t.Errorf("seed %d: %s: a needle is not in the value", seed, s.Name)
				}
			}
			m := NewMatcher([]Secret{s})
			if _, p := m.Find(s.Value); p == nil {
				t.Errorf("seed %d: %s: the value as stored is not found", seed, s.Name)
			}
		}
	}
}

// SecretRef never names a skipped secret; HeaderRef never lh_multi.
func TestSecretRef(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	secrets := Secrets(rng)
	skip := func(n string) bool { return n == "lh_bundle" }
	seen := map[string]bool{}
	for i := 0; i < 500; i++ {
		r := SecretRef(rng, secrets, skip)
		if strings.Contains(r, "lh_bundle") || !strings.HasPrefix(r, "${workflow.secrets.lh_") {
			t.Fatalf("SecretRef: %s", r)
		}
		seen[r] = true
		if h := HeaderRef(rng, secrets, skip); strings.Contains(h, "lh_multi") || strings.Contains(h, "lh_bundle") {
			t.Fatalf("HeaderRef: %s", h)
		}
	}
	if !seen["${workflow.secrets.lh_obj}"] || !seen["${workflow.secrets.lh_obj.pass}"] || !seen["${workflow.secrets.lh_multi}"] {
		t.Errorf("not every shape drawn: %v", seen)
	}
}
