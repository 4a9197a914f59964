package runsecrets

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/masking"
)

// randomValues returns n random 4-character base64-alphabet strings: each
// occurs in a long sealed string (random base64) often.
func randomValues(rng *rand.Rand, n int) []string {
	const alpha = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	vals := make([]string, n)
	for i := range vals {
		b := make([]byte, 4)
		for j := range b {
			b[j] = alpha[rng.IntN(len(alpha))]
		}
		vals[i] = string(b)
	}
	return vals
}

// A registered value that occurs in a sealed string must not be masked
// there: Protect masks the document before it seals the members, and
// Remask / RemaskSince mask around them. Every stored form still opens,
// and holds no registered value outside its sealed members.
func TestMaskingLeavesSealedStringsWhole(t *testing.T) {
	tests := []struct {
		name   string
		values int
		docs   int
		ptr    string
		fields []string
		doc    func(i int) string
	}{
		{"few values, one large member", 20, 20, "/tasks/t1/outputData", nil, func(i int) string {
			return fmt.Sprintf(`{"iter":%d,"_secrets":{"blob":%q}}`, i, strings.Repeat("z", 200000))
		}},
		{"many values, members in an array", 3000, 5, "/tasks/t1/outputData", nil, func(i int) string {
			return fmt.Sprintf(`{"it":[{"_secrets":{"a":%q}},{"x":1,"_secrets":{"b":%q}}],"n":%d}`,
				strings.Repeat("y", 20000), strings.Repeat("w", 30000), i)
		}},
		{"maskedFields of the input", 3000, 5, "/input", []string{"password"}, func(i int) string {
			return fmt.Sprintf(`{"password":%q,"user":"u%d","_secrets":{"k":%q}}`,
				strings.Repeat("p", 20000), i, strings.Repeat("q", 20000))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := New("run-x", nil, testRing(t), WithMaskedFields(tt.fields), WithMaskerOptions(masking.WithLogger(nil)))
			if err != nil {
				t.Fatal(err)
			}
			rng := rand.New(rand.NewPCG(5, 6))
			r.RegisterValues(randomValues(rng, tt.values)...)
			for i := 0; i < tt.docs; i++ {
				_, stored, err := r.Protect([]byte(tt.doc(i)), tt.ptr)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := r.Unseal(stored, tt.ptr); err != nil {
					t.Fatalf("doc %d: Protect's stored form no longer opens: %.200v", i, err)
				}
				// Values registered after the form was stored: masked
				// again, the sealed members stay whole.
				since := r.Generation()
				r.RegisterValues(randomValues(rng, tt.values)...)
				for _, re := range []struct {
					name string
					f    func([]byte) []byte
				}{
					{"Remask", func(b []byte) []byte { return r.Remask(b, tt.ptr) }},
					{"RemaskSince", func(b []byte) []byte { return r.RemaskSince(b, tt.ptr, since) }},
				} {
					again := re.f(stored)
					if _, err := r.Unseal(again, tt.ptr); err != nil {
						t.Fatalf("doc %d: %s's form no longer opens: %.200v", i, re.name, err)
					}
				}
			}
		})
	}
}

// Masking around the sealed members still masks everything else: a value
// registered after a form was stored is masked in it by Remask, next to
// sealed members, and Protect masks it outside `_secrets`.
func TestMaskingAroundSealedMembersMasksTheRest(t *testing.T) {
	r, err := New("run-x", nil, testRing(t), WithMaskedFields([]string{"password"}), WithMaskerOptions(masking.WithLogger(nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.RegisterValues("tok-early-1234")
	doc := `{"a":"tok-early-1234 and tok-later-5678","password":"pw","_secrets":{"k":"v-9876"},"b":["tok-later-5678"]}`
	mem, stored, err := r.Protect([]byte(doc), "/input")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(mem), "tok-early-1234") || strings.Contains(string(stored), "tok-early-1234") {
		t.Fatalf("registered value kept: mem %s stored %s", mem, stored)
	}
	if !strings.Contains(string(mem), `"_secrets":{"k":"v-9876"}`) {
		t.Fatalf("in-memory form lost its member: %s", mem)
	}
	r.RegisterValues("tok-later-5678")
	for _, again := range [][]byte{r.Remask(stored, "/input"), r.RemaskSince(stored, "/input", 0)} {
		if strings.Contains(string(again), "tok-later") {
			t.Fatalf("value registered later kept: %s", again)
		}
		open, err := r.Unseal(again, "/input")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(open), `"v-9876"`) || !strings.Contains(string(open), `"password":"pw"`) {
			t.Fatalf("unsealed %s", open)
		}
	}
}
