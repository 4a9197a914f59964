package masking

import (
	"bytes"
	"encoding/json"
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// FuzzIndex: a text (and, when it is JSON, a document) masked with one
// value, indexed, then a second value registered: if masking the stored
// form again changes it, the Index lists it.
func FuzzIndex(f *testing.F) {
	f.Add("user tok_8J2kL9qX logged in", "password1", "tok_8J2kL9qX")
	f.Add(`{"a":"tok\u005f8J2kL9qX","b":"password1"}`, "password1", "tok_8J2kL9qX")
	f.Add("dG9rXzhKMmtMOXFYdG9rXzhKMmtMOXFYdG9rXzhKMmtMOXFYdG9rXzhKMmtMOXFY\r\ndG9rXzhKMmtMOXFY", "nothing", "tok_8J2kL9qXtok_8J2kL9qXtok_8J2kL9qXtok_8J2kL9qXtok_8J2kL9qX")
	f.Add("&amp;lt;tok&amp;gt; %3Ctok%3e", "x", "<tok>")
	f.Add(`["a\\\"b\"","a\\\\\\\"b"]`, "zzzz", `a\"b"`)
	f.Add(strings.Repeat("x", 40)+"tokLATER-9f8e7d6c5b4a", "password1", "tokLATER-9f8e7d6c5b4a")
	f.Add(`{"log":"`+strings.Repeat("x", 40)+`tokLATER-9f8e7d6c5b4a"}`, "password1", "tokLATER-9f8e7d6c5b4a")
	f.Add(`{"log":"`+strings.Repeat("x", 40)+`tokLATER-9f8\u2026"}`, "password1", "tokLATER-9f8e7d6c5b4a")
	r := rand.New(rand.NewSource(3))
	for range 20 {
		vals := []string{indexValue(r), indexValue(r)}
		f.Add(indexText(r, vals), vals[0], vals[1])
		doc, _ := json.Marshal(indexDoc(r, 0, vals))
		f.Add(string(doc), vals[0], vals[1])
	}
	f.Fuzz(func(t *testing.T, text, old, value string) {
		// Texts kept as Bloom filters (the first few) and as postings.
		for _, small := range []int{smallTexts, 0} {
			m := New(WithLogger(nil))
			m.Register(old)
			x := NewIndex[int](m)
			x.small = small
			stored := m.Mask([]byte(text))
			x.SetText(0, stored)
			doc, err := m.MaskJSON([]byte(text))
			if err == nil {
				x.SetJSON(1, doc)
			}
			// An excerpt, cut where the next value may be.
			excerpt := []byte(m.Excerpt([]byte(text), len(text)*2/3))
			x.SetText(2, excerpt)
			since := m.Len()
			m.Register(value)
			got := x.Candidates(since, nil)
			if !bytes.Equal(m.MaskCut(stored, since), stored) && !slices.Contains(got, 0) {
				t.Fatalf("filters for %d texts: text changed by masking again, not listed: %q", small, stored)
			}
			if !bytes.Equal(m.MaskCut(excerpt, since), excerpt) && !slices.Contains(got, 2) {
				t.Fatalf("filters for %d texts: excerpt changed by masking again, not listed: %q", small, excerpt)
			}
			if err == nil {
				again, err := m.MaskCutJSON(doc, since)
				if err != nil {
					t.Fatalf("masked document no longer JSON: %v", err)
				}
				if !bytes.Equal(again, doc) && !slices.Contains(got, 1) {
					t.Fatalf("filters for %d texts: document changed by masking again, not listed: %q", small, doc)
				}
			}
		}
	})
}
