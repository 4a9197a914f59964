package engine

import (
	"bytes"
	"testing"

	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store/seal"
)

// TestSnapshotMarkIsAttested: a snapshot the archive masked opens only
// with its mark, one not masked only without it; a marked snapshot an
// earlier wfrun sealed again under the plain binding still opens.
func TestSnapshotMarkIsAttested(t *testing.T) {
	ring, err := seal.NewKeyring(bytes.Repeat([]byte{5}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := runsecrets.New("run-snap", nil, ring)
	if err != nil {
		t.Fatal(err)
	}
	plain := []byte(`{"pasted":{"name":"pasted","description":"pasted ***"}}`)
	masked, err := sec.Seal(plain, taskDefsMaskedPointer)
	if err != nil {
		t.Fatal(err)
	}
	unmasked, err := sec.Seal(plain, taskDefsPointer)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		what   string
		sealed string
		mark   bool
		opens  bool
	}{
		{"masked, marked", masked, true, true},
		{"masked, mark removed", masked, false, false},
		{"not masked, unmarked", unmasked, false, true},
		{"masked by an earlier wfrun (plain binding), marked", unmasked, true, true},
	} {
		got, err := openSnapshot(sec, c.sealed, c.mark)
		if opened := err == nil && bytes.Equal(got, plain); opened != c.opens {
			t.Errorf("%s: opened %v (%v), want %v", c.what, opened, err, c.opens)
		}
	}
}
