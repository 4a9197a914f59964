package masking

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzKeptIDs: with an id kept, every occurrence of the value that does
// not lie within an occurrence of the id is masked (its span covers it),
// no masked range lies within one; and a text holding no occurrence of
// the id is masked as a Masker keeping nothing masks it, by Mask, the
// Writer and MaskJSON.
func FuzzKeptIDs(f *testing.F) {
	f.Add("4821", "child "+keptID+" pin 4821")
	f.Add("c01f", `{"id":"`+keptID+`","x":"c01f"}`)
	f.Add("9e0f4821", keptID+keptID+"4821")
	f.Add("4c3f-8a11", "\\u0035b0d7a4e-4821-4c3f-8a11-9e0f4821c01f")
	f.Add(keptID, "run "+keptID+"0 and "+otherID)
	f.Add("pass-word", "cGFzcy13b3Jk "+keptID)
	f.Fuzz(func(t *testing.T, value, input string) {
		m, ref := New(), New()
		if !m.Register(value) {
			return
		}
		ref.Register(value)
		m.KeepID(keptID)
		b := []byte(input)
		if !strings.Contains(input, keptID) {
			if got, want := m.Mask(b), ref.Mask(b); !bytes.Equal(got, want) {
				t.Fatalf("Mask %q, without kept ids %q", got, want)
			}
			var got, want bytes.Buffer
			for _, mm := range []struct {
				m   *Masker
				out *bytes.Buffer
			}{{m, &got}, {ref, &want}} {
				w := mm.m.NewWriter(mm.out)
				w.Write(b[:len(b)/2])
				w.Write(b[len(b)/2:])
				w.Close()
			}
			if got.String() != want.String() {
				t.Fatalf("Writer %q, without kept ids %q", got.String(), want.String())
			}
			gj, gerr := m.MaskJSON(b)
			wj, werr := ref.MaskJSON(b)
			if (gerr == nil) != (werr == nil) || !bytes.Equal(gj, wj) {
				t.Fatalf("MaskJSON %q %v, without kept ids %q %v", gj, gerr, wj, werr)
			}
			return
		}
		within := withinKeptID(input)
		sp := m.snap.Load().spans(b, nil)
		for _, s := range sp {
			if within(s) {
				t.Fatalf("span %v within a kept id", s)
			}
		}
		refSpans := ref.snap.Load().spans(b, nil)
		for _, o := range refSpans {
			// Each range the plain masker masks is masked here too, unless
			// it lies within an occurrence of the id.
			if within(o) {
				continue
			}
			if !coveredBy(sp, o) {
				t.Fatalf("range %v masked without kept ids is not masked (spans %v)", o, sp)
			}
		}
	})
}
