package masking

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/rand"
	"runtime"
	"slices"
	"testing"
)

// A large text (a worker's output of 1 MiB of base64) costs the index a
// small part of its size, not many times it: it is kept as a Bloom filter
// of its grams, and still listed for a value it holds (in its plain and
// decoded spelling), and not for one it does not.
func TestIndexLargeTextCostsLessThanItsSize(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	raw := make([]byte, 3<<20/4)
	r.Read(raw)
	blob := base64.StdEncoding.EncodeToString(raw)
	doc, _ := json.Marshal(map[string]string{"blob": blob})
	m := New(WithLogger(nil))
	m.Register("some-secret-value")
	x := NewIndex[int](m)
	x.SetJSON(0, doc)
	x.SetText(1, []byte("a small text"))
	fp := x.footprint()
	t.Logf("doc %d bytes: index footprint %d bytes (%.2f per byte)", len(doc), fp, float64(fp)/float64(len(doc)))
	if fp > 3*len(doc) {
		t.Fatalf("index footprint %d bytes for a %d-byte text", fp, len(doc))
	}
	inBlob := blob[500000:500032]         // in the text
	decoded := string(raw[100000:100024]) // in its decoded view
	for _, p := range []string{inBlob, decoded} {
		since := m.Len()
		m.Register(p)
		if !slices.Contains(x.Candidates(since, nil), 0) {
			t.Fatalf("a value the large text holds: not listed")
		}
	}
	since2 := m.Len()
	m.Register("not-in-any-text-either-9a8b7c")
	if got := x.Candidates(since2, nil); len(got) != 0 {
		t.Fatalf("a value in no text lists %v", got)
	}
	runtime.KeepAlive(x)
}

// The property test, with nearly every text kept as a Bloom filter.
func TestIndexBloomTextsAgreeWithMaskingEverything(t *testing.T) {
	defer func(n int) { bigTextGrams = n }(bigTextGrams)
	bigTextGrams = 8
	TestIndexCandidatesAgreeWithMaskingEverything(t)
}

// A short run's index — a few dozen forms of a hundred-odd bytes, a task
// input and a sealed output per iteration — costs a few bytes per byte it
// indexes, not a table of buckets and 16 bytes a piece: its texts are
// kept as Bloom filters. Each is still listed for a value it holds, and
// hardly any for a value it does not.
func TestIndexOfAShortRunIsSmall(t *testing.T) {
	m := New(WithLogger(nil))
	x := NewIndex[int](m)
	const iterations = 12
	size := 0
	for i := range iterations {
		in := fmt.Sprintf(`{"evaluatorType":"javascript","i":%d,"expression":"({_secrets: {tok: 'token-value-' + $.i}})","echo":"token-value-%04d"}`, i, i)
		out := fmt.Sprintf(`{"result":{"_secrets":"wfrun-sealed:v1:ARA2ZDNmZjA3MTQyYTI3YzU12Sw9H79nEB2vlSU0IZgaCtYAbe+RsFo9vR92VejKht7xR+lyJ5H%04dDSZYNKBplSqFIy"}}`, i)
		x.SetJSON(2*i, []byte(in))
		x.SetJSON(2*i+1, []byte(out))
		size += len(in) + len(out)
	}
	fp := x.footprint()
	t.Logf("%d texts, %d bytes: index footprint %d bytes (%.1f per byte)", x.Len(), size, fp, float64(fp)/float64(size))
	if fp > 4*size {
		t.Fatalf("index footprint %d bytes for %d bytes of texts", fp, size)
	}
	listed := 0
	for i := range iterations {
		since := m.Len()
		m.Register(fmt.Sprintf("token-value-%04d", i))
		got := x.Candidates(since, nil)
		if !slices.Contains(got, 2*i) {
			t.Fatalf("value %d: its text not listed (got %v)", i, got)
		}
		listed += len(got)
	}
	if listed > 2*iterations {
		t.Fatalf("%d texts listed for %d values, one text holding each", listed, iterations)
	}
}
