package masking

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

const (
	keptID  = "5b0d7a4e-4821-4c3f-8a11-9e0f4821c01f" // holds "4821" twice
	otherID = "0e6f4821-77aa-4b1c-9d2e-3f4a5b6c7d8e" // holds it too, never kept
)

// A registered value that occurs inside a kept id is left there; every
// other occurrence is masked, the same value in an id that is not kept
// too.
func TestKeptIDIsNotMaskedInside(t *testing.T) {
	m := New()
	m.Register("4821")
	if !m.KeepID(keptID) {
		t.Fatal("KeepID refused a UUID")
	}
	for _, tc := range []struct{ in, want string }{
		{keptID, keptID},
		{"child " + keptID + " pin 4821", "child " + keptID + " pin ***"},
		{otherID, "0e6f***-77aa-4b1c-9d2e-3f4a5b6c7d8e"},
		// An occurrence reaching outside the id is masked whole.
		{keptID + "4821", "5b0d7a4e-4821-4c3f-8a11-9e0f4821c01f***"},
		{"x" + keptID[:35] + "-", "x5b0d7a4e-***-4c3f-8a11-9e0f***c01-"}, // cut: no kept id
	} {
		if got := m.MaskString(tc.in); got != tc.want {
			t.Errorf("MaskString(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
	// Another spelling of the id is not the id: its "4821"s are masked.
	if got := m.MaskString(strings.ToUpper(keptID)); strings.Contains(got, "4821") {
		t.Errorf("upper-case id kept: %q", got)
	}
	doc := []byte(`{"subWorkflowId":"` + keptID + `","other":"` + otherID + `","esc":"\u0035b0d7a4e-4821-4c3f-8a11-9e0f4821c01f","pin":"4821"}`)
	out, err := m.MaskJSON(doc)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]string
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatal(err)
	}
	if v["subWorkflowId"] != keptID || v["esc"] != keptID || v["other"] != "0e6f***-77aa-4b1c-9d2e-3f4a5b6c7d8e" || v["pin"] != "***" {
		t.Errorf("MaskJSON = %s", out)
	}
	if got := m.Excerpt([]byte("ran "+keptID+" with 4821"), 200); got != "ran "+keptID+" with ***" {
		t.Errorf("Excerpt = %q", got)
	}
}

// A value that is itself a whole UUID is masked wherever it occurs, unless
// it is a kept id: a kept id is shown as it is elsewhere.
func TestWholeUUIDValue(t *testing.T) {
	m := New()
	m.Register(otherID)
	m.KeepID(keptID)
	if got := m.MaskString("key " + otherID); got != "key ***" {
		t.Errorf("UUID value: %q", got)
	}
	m.Register(keptID)
	if got := m.MaskString("run " + keptID); got != "run "+keptID {
		t.Errorf("kept id registered as a value: %q", got)
	}
	// The value's occurrence lies within the id's, whatever follows.
	if got := m.MaskString("run " + keptID + "0"); got != "run "+keptID+"0" {
		t.Errorf("kept id followed by more: %q", got)
	}
	if got := m.MaskString("run " + keptID + "pass" + otherID); got != "run "+keptID+"pass***" {
		t.Errorf("kept id beside a value: %q", got)
	}
}

func TestKeepIDTakesOnlyUUIDs(t *testing.T) {
	m := New()
	for _, id := range []string{"", "run-1", "definition-check", strings.ToUpper(keptID), keptID[:35], keptID + "0",
		"5b0d7a4e-4821-4c3f-8a11_9e0f4821c01f", "wf/" + keptID} {
		if m.KeepID(id) {
			t.Errorf("KeepID(%q) accepted", id)
		}
	}
	var nilM *Masker
	if nilM.KeepID(keptID) {
		t.Error("nil Masker kept an id")
	}
	m.Register("4821")
	if got := m.MaskString(keptID[:35] + "0"); strings.Contains(got, "4821") {
		t.Errorf("refused ids kept: %q", got)
	}
}

// Ids kept after values were registered, and values registered after ids
// were kept (into the pending set and through a rebuild), apply at once.
func TestKeepIDOrderDoesNotMatter(t *testing.T) {
	m := New()
	m.KeepID(keptID)
	for i := 0; i < 300; i++ { // past the pending set: a rebuild
		m.Register("value-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + "-" + string(rune('a'+i/26)))
		m.Register("4821")
		if got := m.MaskString(keptID + " 4821"); got != keptID+" ***" {
			t.Fatalf("after %d registrations: %q", i, got)
		}
	}
	m2 := New()
	m2.Register("4821")
	m2.KeepID(keptID)
	if got := m2.MaskString(keptID); got != keptID {
		t.Fatalf("id kept after the value: %q", got)
	}
}

// The Writer keeps an id that reached it whole, at every split of the
// text across two writes; the value outside the id is masked at each.
func TestWriterKeepsIDs(t *testing.T) {
	m := New()
	m.Register("4821")
	m.KeepID(keptID)
	text := "child " + keptID + " pin 4821 and " + otherID + "\n"
	want := "child " + keptID + " pin *** and 0e6f***-77aa-4b1c-9d2e-3f4a5b6c7d8e\n"
	if got := m.MaskString(text); got != want {
		t.Fatalf("MaskString = %q", got)
	}
	for i := 0; i <= len(text); i++ {
		var out bytes.Buffer
		w := m.NewWriter(&out)
		w.Write([]byte(text[:i]))
		w.Write([]byte(text[i:]))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		// A split inside the id may mask a "4821" of it (the Writer cannot
		// see the whole id yet); a value outside a kept id never shows.
		if got := withoutKept(out.String()); strings.Contains(got, "4821") {
			t.Fatalf("split at %d: %q", i, out.String())
		}
		if i == 0 || i == len(text) {
			if out.String() != want {
				t.Fatalf("split at %d: %q, want %q", i, out.String(), want)
			}
		}
	}
}

func withoutKept(s string) string { return strings.ReplaceAll(s, keptID, "<id>") }

// Random texts of ids (kept or not), values and noise: every occurrence
// of a value that does not lie within an occurrence of the kept id is
// masked, no masked range lies within one, and a kept id between spaces
// comes out whole.
func TestPropertyKeptIDs(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	values := []string{"4821", "c01f", "9e0f4821", "pass-word"}
	m := New()
	for _, v := range values {
		m.Register(v)
	}
	m.KeepID(keptID)
	pieces := []string{keptID, otherID, "4821", "c01f", "pass-word", " ", "-", "a", "0", "\n", `"`, "x4", "82", "1c"}
	for n := 0; n < 5000; n++ {
		var b strings.Builder
		for k := rng.IntN(12); k >= 0; k-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		in := b.String()
		within := withinKeptID(in)
		sp := m.snap.Load().spans([]byte(in), nil)
		for _, v := range values {
			for i := 0; ; {
				j := strings.Index(in[i:], v)
				if j < 0 {
					break
				}
				o := span{i + j, i + j + len(v)}
				i += j + 1
				if within(o) {
					continue
				}
				if !coveredBy(sp, o) {
					t.Fatalf("%q: %q at %d not masked (spans %v)", in, v, o.start, sp)
				}
			}
		}
		for _, s := range sp {
			if within(s) {
				t.Fatalf("%q: span %v within a kept id", in, s)
			}
		}
		if strings.Contains(in, " "+keptID+" ") && !strings.Contains(m.MaskString(in), " "+keptID+" ") {
			t.Fatalf("%q: kept id lost in %q", in, m.MaskString(in))
		}
	}
}

// KeepIDsWhere keeps the ids a rule accepts, from when it is added; nil
// is ignored.
func TestKeepIDsWhere(t *testing.T) {
	m := New()
	m.Register("4821")
	m.KeepIDsWhere(nil)
	if got := m.MaskString(otherID); got == otherID {
		t.Fatalf("a nil rule kept an id: %q", got)
	}
	var seen [][]byte
	m.KeepIDsWhere(func(id []byte) bool {
		seen = append(seen, id)
		return strings.HasSuffix(string(id), "7d8e")
	})
	if got := m.MaskString("task " + otherID + " pin 4821"); got != "task "+otherID+" pin ***" {
		t.Errorf("id the rule accepts: %q", got)
	}
	if got := m.MaskString(keptID); strings.Contains(got, "4821") {
		t.Errorf("id the rule refuses: %q", got)
	}
	for _, id := range seen {
		if !isID(id) {
			t.Errorf("the rule was asked about %q", id)
		}
	}
}

// withinKeptID returns whether a span of text lies within an occurrence in
// text of keptID.
func withinKeptID(text string) func(span) bool {
	var ids []span
	for i := 0; ; {
		j := strings.Index(text[i:], keptID)
		if j < 0 {
			break
		}
		ids = append(ids, span{i + j, i + j + idLen})
		i += j + 1
	}
	return func(s span) bool {
		for _, id := range ids {
			if id.start <= s.start && s.end <= id.end {
				return true
			}
		}
		return false
	}
}

// coveredBy reports whether one of sp covers o.
func coveredBy(sp []span, o span) bool {
	for _, s := range sp {
		if s.start <= o.start && o.end <= s.end {
			return true
		}
	}
	return false
}
