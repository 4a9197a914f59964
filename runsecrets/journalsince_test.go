package runsecrets_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/runsecrets"
)

// The journal in pieces: each piece holds the values registered since the
// previous one and opens only at its own pointer in its own run; the
// pieces restored in order rebuild the masker.
func TestJournalSinceInPieces(t *testing.T) {
	r := newRun(t, "run-a", nil)
	if s, n, err := r.JournalSince(0, "/log/0"); s != "" || n != 0 || err != nil {
		t.Fatalf("nothing registered: %q %d %v", s, n, err)
	}
	r.RegisterValues("piece-value-one-Qw3", "piece-value-two-Er4")
	p0, n, err := r.JournalSince(0, "/log/0")
	if err != nil || n != 2 || p0 == "" || strings.Contains(p0, "piece-value") {
		t.Fatalf("first piece %q %d %v", p0, n, err)
	}
	if s, m, err := r.JournalSince(n, "/log/1"); s != "" || m != n || err != nil {
		t.Fatalf("nothing new: %q %d %v", s, m, err)
	}
	r.RegisterValues("piece-value-three-Ty5", "piece-value-one-Qw3")
	p1, n2, err := r.JournalSince(n, "/log/1")
	if err != nil || n2 != 3 || p1 == "" {
		t.Fatalf("second piece %q %d %v", p1, n2, err)
	}
	if _, _, err := r.JournalSince(4, "/log/2"); err == nil {
		t.Fatal("a count past what is registered is accepted")
	}
	resumed := newRun(t, "run-a", nil)
	for i, p := range []string{p0, p1} {
		if err := resumed.RestoreAt(p, []string{"/log/0", "/log/1"}[i]); err != nil {
			t.Fatal(err)
		}
	}
	if resumed.Registered() != 3 {
		t.Fatalf("%d values restored, want 3", resumed.Registered())
	}
	if got := resumed.Text("piece-value-one-Qw3 piece-value-two-Er4 piece-value-three-Ty5"); got != "*** *** ***" {
		t.Fatalf("resumed run masks %q", got)
	}
	for _, c := range []struct {
		name, id, piece, ptr string
	}{
		{"another position", "run-a", p0, "/log/1"},
		{"another run", "run-b", p0, "/log/0"},
		{"edited", "run-a", p0[:len(p0)-6] + "AAAAA=", "/log/0"},
		{"cut short", "run-a", p0[:len(p0)-8], "/log/0"},
		{"not sealed", "run-a", `["piece-value-one-Qw3"]`, "/log/0"},
	} {
		if err := newRun(t, c.id, nil).RestoreAt(c.piece, c.ptr); !errors.Is(err, runsecrets.ErrSealed) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
