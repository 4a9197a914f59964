package runsecrets

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wfrun/wfrun/masking"
)

// spellKey writes name as a JSON key body, escaping the characters that
// mask selects (bit i of mask for character i) as \uXXXX in the case upper
// selects, or as \/ for a slash when slash is set.
func spellKey(name string, mask uint64, upper, slash bool) string {
	var b strings.Builder
	for i, c := range name {
		if mask&(1<<(uint(i)%64)) == 0 {
			b.WriteRune(c)
			continue
		}
		switch {
		case c == '/' && slash:
			b.WriteString(`\/`)
		case upper:
			fmt.Fprintf(&b, `\u%04X`, c)
		default:
			fmt.Fprintf(&b, `\u%04x`, c)
		}
	}
	return b.String()
}

// FuzzSecretsKeyRecogniser spells "_secrets" (and a few near misses) with
// random escapes, nests it in a document and checks that Protect seals the
// subtree exactly when the key decodes to "_secrets": the stored form never
// holds the value, the in-memory form keeps it, Unseal gives it back, and
// masking.KeyIs agrees.
func FuzzSecretsKeyRecogniser(f *testing.F) {
	f.Add("_secrets", uint64(1), false, false, uint8(0))
	f.Add("_secrets", uint64(0xff), true, false, uint8(2))
	f.Add("_Secrets", uint64(3), false, false, uint8(1))
	f.Add("_secrets/x", uint64(1<<8), false, true, uint8(0))
	f.Add("secrets", uint64(0), false, false, uint8(3))
	f.Fuzz(func(t *testing.T, name string, mask uint64, upper, slash bool, depth uint8) {
		if !utf8.ValidString(name) || len(name) > 40 || strings.ContainsAny(name, "\"\\") {
			return
		}
		for _, c := range name {
			if c < 0x20 || c > 0xffff {
				return
			}
		}
		const value = "fuzz-secret-Qw8Er4Ty6"
		key := spellKey(name, mask, upper, slash)
		doc := `{"` + key + `":{"v":"` + value + `"}}`
		for i := 0; i < int(depth%4); i++ {
			doc = `{"wrap":[` + doc + `]}`
		}
		if !masking.KeyIs([]byte(key), name) {
			t.Fatalf("KeyIs(%q, %q) = false", key, name)
		}
		r, err := New("run-fuzz", nil, testRing(t), WithMaskerOptions(masking.WithLogger(nil)))
		if err != nil {
			t.Fatal(err)
		}
		mem, stored, err := r.Protect([]byte(doc), "/tasks/t/outputData")
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		isSecrets := name == masking.SecretsKey
		if got := strings.Contains(string(stored), value); got == isSecrets {
			t.Fatalf("key %q (%q): stored %s", key, name, stored)
		}
		if isSecrets {
			if !strings.Contains(string(stored), SealedPrefix) || !strings.Contains(string(mem), value) {
				t.Fatalf("key %q: mem %s stored %s", key, mem, stored)
			}
			back, err := r.Unseal(stored, "/tasks/t/outputData")
			if err != nil || !strings.Contains(string(back), value) {
				t.Fatalf("unseal %s: %v %s", stored, err, back)
			}
			// Registered: the value is masked wherever else it appears.
			if got := r.Text("echo " + value); strings.Contains(got, value) {
				t.Fatalf("value not registered: %s", got)
			}
			// And View hides the subtree whatever the spelling.
			v, err := r.View([]byte(doc))
			if err != nil || strings.Contains(string(v), value) {
				t.Fatalf("view of %s: %v %s", doc, err, v)
			}
		}
	})
}
