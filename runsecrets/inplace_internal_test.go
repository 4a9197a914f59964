package runsecrets

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/tidwall/sjson"

	"github.com/wfrun/wfrun/masking"
)

// randomDoc builds a JSON document with `_secrets` members (some spelled
// with escapes) at random places, registered values in and out of them,
// and keys that need escaping in a path.
func randomDoc(rng *rand.Rand, depth int) string {
	keys := []string{"a", "b.c", "*", "x?y", `q\"t`, "_secrets", `\u005fsecrets`, "_masked", "tok-Registered-Value-1", "0", "n"}
	leaf := func() string {
		switch rng.IntN(5) {
		case 0:
			return `"tok-Registered-Value-1"`
		case 1:
			return fmt.Sprint(rng.IntN(1000))
		case 2:
			return `"plain text"`
		case 3:
			return `"said tok-Registered-Value-1 twice"`
		}
		return "null"
	}
	if depth == 0 || rng.IntN(3) == 0 {
		return leaf()
	}
	if rng.IntN(3) == 0 {
		var parts []string
		for i := rng.IntN(3); i >= 0; i-- {
			parts = append(parts, randomDoc(rng, depth-1))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	var parts []string
	used := map[string]bool{}
	for i := rng.IntN(4); i >= 0; i-- {
		k := keys[rng.IntN(len(keys))]
		if used[k] || (k == "_secrets" && used[`\u005fsecrets`]) || (k == `\u005fsecrets` && used["_secrets"]) {
			continue
		}
		used[k] = true
		parts = append(parts, `"`+k+`": `+randomDoc(rng, depth-1))
	}
	return "{" + strings.Join(parts, ",") + "}"
}

func decoded(t *testing.T, b []byte) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	return v
}

// The in-place path gives the same documents as the decoding path, up to
// member order and spacing, and its stored form unseals to the same data.
func TestProtectInPlaceMatchesDecoding(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	inPlace, withMembers := 0, 0
	for i := 0; i < 3000; i++ {
		doc := []byte(randomDoc(rng, 4))
		ptr := "/tasks/t/outputData"
		var top map[string]bool
		if i%3 == 0 {
			ptr, top = "/input", map[string]bool{"n": true}
		}
		mk := func() *Run {
			r, err := New("run-x", nil, testRing(t), WithMaskedFields([]string{"n"}), WithMaskerOptions(masking.WithLogger(nil)))
			if err != nil {
				t.Fatal(err)
			}
			r.Register("tok-Registered-Value-1")
			return r
		}
		a, b := mk(), mk()
		v, err := decodeJSON(doc)
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		if leaves := secretLeaves(v, top); len(leaves) > 0 {
			a.register(leaves...)
			b.register(leaves...)
		}
		memA, storedA, ok, err := a.protectInPlace(doc, ptr, top)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			continue
		}
		inPlace++
		if m, _, _ := findSealed(doc, ptr, top, maxWalkDepth); len(m) > 0 {
			withMembers++
		}
		memB, storedB, err := b.protectDecoded(v, ptr, top)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(decoded(t, memA), decoded(t, memB)) {
			t.Fatalf("%s\nmem in place %s\nmem decoded  %s", doc, memA, memB)
		}
		ua, err := a.Unseal(storedA, ptr)
		if err != nil {
			t.Fatalf("%s: unseal %s: %v", doc, storedA, err)
		}
		ub, err := b.Unseal(storedB, ptr)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(decoded(t, ua), decoded(t, ub)) {
			t.Fatalf("%s\nunsealed in place %s\nunsealed decoded  %s", doc, ua, ub)
		}
		if strings.Contains(string(storedA), "tok-Registered-Value-1") {
			t.Fatalf("%s: stored %s", doc, storedA)
		}
	}
	if inPlace < 1000 || withMembers < 300 {
		t.Fatalf("only %d documents took the in-place path, %d with sealed members", inPlace, withMembers)
	}
	t.Logf("%d in place, %d with sealed members", inPlace, withMembers)
}

// Splicing the sealed members in one pass gives byte for byte what setting
// them one at a time with sjson gives, and putting the members back does
// too — leading spaces, escaped keys, members in arrays and at the top.
func TestSpliceSealedMatchesSettingEachMember(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	spliced := 0
	for i := 0; i < 3000; i++ {
		doc := []byte(strings.Repeat(" ", i%3) + randomDoc(rng, 4) + strings.Repeat("\n", i%2))
		ptr, top := "/tasks/t/outputData", map[string]bool(nil)
		if i%3 == 0 {
			ptr, top = "/input", map[string]bool{"n": true}
		}
		members, _, ok := findSealed(doc, ptr, top, maxWalkDepth)
		if !ok || len(members) == 0 {
			continue
		}
		sealed := make([]string, len(members))
		quoted := make([]string, len(members))
		want := doc
		for j, m := range members {
			sealed[j] = fmt.Sprintf("%sAAEC%03d+/=", SealedPrefix, j)
			quoted[j] = `"` + sealed[j] + `"`
			var err error
			if want, err = sjson.SetBytes(want, m.path, sealed[j]); err != nil {
				t.Fatal(err)
			}
		}
		got, ok := spliceRaw(doc, members, quoted)
		if !ok {
			t.Fatalf("%q: members not where the walk put them", doc)
		}
		if string(got) != string(want) {
			t.Fatalf("%q\nspliced %q\nsjson   %q", doc, got, want)
		}
		at, _, ok := findSealed(got, ptr, top, maxWalkDepth)
		if !ok || len(at) != len(members) {
			t.Fatalf("%q: sealed members not found again in %q", doc, got)
		}
		raws := make([]string, len(members))
		for j, m := range members {
			raws[j] = m.raw
		}
		back, ok := spliceRaw(got, at, raws)
		if !ok || string(back) != string(doc) {
			t.Fatalf("%q: put back %v %q", doc, ok, back)
		}
		spliced++
	}
	if spliced < 300 {
		t.Fatalf("only %d documents with sealed members", spliced)
	}
}
