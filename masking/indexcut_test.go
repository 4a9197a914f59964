package masking

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// A text cut (Excerpt) before a value was registered keeps the value's
// head where it was cut: masking it again masks the head at each cut
// mark, at least the minimum length long, and nothing else.
func TestMaskCutMasksHeadsOfNewValuesAtCuts(t *testing.T) {
	const v = "tokLATER-9f8e7d6c5b4a"
	for _, tt := range []struct {
		name, text, want string
	}{
		{"excerpt of a long line", strings.Repeat("x", 20) + v[:12] + CutMark, strings.Repeat("x", 20) + "***" + CutMark},
		{"a whole value too", "a " + v + " b " + v[:9] + CutMark, "a *** b ***" + CutMark},
		{"cut in the middle of a reason", "reason: 'HTTP 500: " + v[:6] + CutMark + "' end", "reason: 'HTTP 500: ***" + CutMark + "' end"},
		{"head shorter than the minimum", "abc " + v[:3] + CutMark, "abc " + v[:3] + CutMark},
		{"no cut mark", "abc " + v[:12], "abc " + v[:12]},
		{"head not at the mark", "abc " + v[:12] + " more" + CutMark, "abc " + v[:12] + " more" + CutMark},
		{"the longest head of several", "tok" + v[:10] + CutMark, "tok***" + CutMark},
		{"text of the value only", v[:4] + CutMark, "***" + CutMark},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := New(WithLogger(nil))
			m.Register("an-older-value")
			since := m.Len()
			m.Register(v)
			if got := m.MaskCutString(tt.text, since); got != tt.want {
				t.Fatalf("MaskCutString(%q) = %q, want %q", tt.text, got, tt.want)
			}
			// Values registered before since are not looked for at cuts.
			if got := m.MaskCutString(tt.text, m.Len()); got != m.MaskString(tt.text) {
				t.Fatalf("MaskCutString with no new value = %q, want %q", got, m.MaskString(tt.text))
			}
			// In a JSON document, in a value and escaped.
			doc, _ := json.Marshal(map[string]string{"k": tt.text, "e": "\n" + tt.text})
			got, err := m.MaskCutJSON(doc, since)
			if err != nil {
				t.Fatal(err)
			}
			var back map[string]string
			if err := json.Unmarshal(got, &back); err != nil {
				t.Fatalf("not JSON: %v: %s", err, got)
			}
			if back["k"] != tt.want || back["e"] != "\n"+tt.want {
				t.Fatalf("MaskCutJSON = %s, want %q", got, tt.want)
			}
		})
	}
}

// The reviewed case: a log line of 8 172 bytes and a value, cut at 8 KiB
// by Excerpt, then the value registered: masked again, the line keeps no
// piece of the value as long as the minimum, and an Index lists it even
// though the value's rarest piece was cut off.
func TestExcerptCutBeforeARegistrationIsMaskedAgain(t *testing.T) {
	const v = "tokLATER-9f8e7d6c5b4a"
	m := New(WithLogger(nil))
	m.Register("an-older-value")
	x := NewIndex[int](m)
	line := strings.Repeat("x", 8172) + v
	stored := m.ExcerptString(line, 8192)
	x.SetText(1, []byte(stored))
	x.SetText(2, []byte(strings.Repeat("y", 100)+v[:12]+" not cut"))
	since := m.Len()
	m.Register(v)
	if got := x.Candidates(since, nil); !slices.Contains(got, 1) || slices.Contains(got, 2) {
		t.Fatalf("candidates %v, want the cut text 1 and not 2", got)
	}
	again := m.MaskCutString(stored, since)
	if strings.Contains(again, v[:4]) {
		t.Fatalf("masked again, the line still ends %q", again[len(again)-40:])
	}
	if !strings.HasSuffix(again, "x***"+CutMark) {
		t.Fatalf("masked again, the line ends %q", again[len(again)-40:])
	}
}

// With a minimum length below a gram, every cut text is listed.
func TestIndexShortMinimumListsCutTexts(t *testing.T) {
	m := New(WithLogger(nil), WithMinLength(2))
	x := NewIndex[int](m)
	x.SetText(1, []byte("abcdefgh zq"+CutMark))
	x.SetText(2, []byte("abcdefgh zq"))
	since := m.Len()
	m.Register("zqrstuvw")
	if got := x.Candidates(since, nil); !slices.Equal(got, []int{1}) {
		t.Fatalf("candidates %v, want [1]", got)
	}
	if got := m.MaskCutString("abcdefgh zq"+CutMark, since); got != "abcdefgh ***"+CutMark {
		t.Fatalf("MaskCutString = %q", got)
	}
}

// An excerpt quoted in JSON by a producer that escapes what is not ASCII
// ends with \u2026, not "…": it is a cut mark all the same — in a text
// (a log line holding JSON), in a JSON document's string, and for an
// Index, which lists the text by the new value's first piece.
func TestEscapedCutMarkIsACutMark(t *testing.T) {
	const v = "tokLATER-9f8e7d6c5b4a"
	m := New(WithLogger(nil))
	m.Register("an-older-value")
	x := NewIndex[int](m)
	line := `worker said {"error":"HTTP 500: ` + v[:12] + `\u2026","more":"` + v[:9] + `…"}`
	x.SetText(1, []byte(line))
	doc := []byte(`{"reason":"HTTP 500: ` + v[:12] + `\u2026"}`)
	x.SetJSON(2, doc)
	since := m.Len()
	m.Register(v)
	if got := x.Candidates(since, nil); !slices.Contains(got, 1) || !slices.Contains(got, 2) {
		t.Fatalf("candidates %v, want both cut texts", got)
	}
	want := `worker said {"error":"HTTP 500: ***\u2026","more":"***…"}`
	if got := m.MaskCutString(line, since); got != want {
		t.Fatalf("MaskCutString = %q, want %q", got, want)
	}
	got, err := m.MaskCutJSON(doc, since)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]string
	if err := json.Unmarshal(got, &back); err != nil || back["reason"] != "HTTP 500: ***"+CutMark {
		t.Fatalf("MaskCutJSON = %s (%v)", got, err)
	}
	// Many marks of one spelling and one of the other, in any order.
	many := strings.Repeat("a "+v[:8]+`\u2026 `, 50) + "b " + v[:10] + CutMark + strings.Repeat(" c "+v[:6]+`\u2026`, 50)
	wantMany := strings.Repeat(`a ***\u2026 `, 50) + "b ***" + CutMark + strings.Repeat(` c ***\u2026`, 50)
	if got := m.MaskCutString(many, since); got != wantMany {
		t.Fatalf("MaskCutString = %q, want %q", got, wantMany)
	}
}
