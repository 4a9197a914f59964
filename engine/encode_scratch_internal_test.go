package engine

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store/seal"
)

// TestEncodeBufferNeverAliased: what changeLocked hands to the store never
// shares its array with the run's encoding buffer (the next encoding would
// overwrite it), small records and large ones alike.
func TestEncodeBufferNeverAliased(t *testing.T) {
	ring, err := seal.NewKeyring(bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	sec, err := runsecrets.New("run-1", nil, ring)
	if err != nil {
		t.Fatal(err)
	}
	r := &runState{id: "run-1", sec: sec}
	for _, size := range []int{10, 3000, maxScratch + 1, 10, 2 * maxScratch} {
		rec := &taskRecord{TaskID: "t", Ref: "r", Status: TaskCompleted, outStored: []byte(`{"v":"` + strings.Repeat("x", size) + `"}`)}
		r.mu.Lock()
		var at int64
		a, _ := r.encodeTask(rec, &at)
		keep := string(a)
		other := &taskRecord{TaskID: "u", Ref: "s", Status: TaskFailed, outStored: []byte(`{"w":"` + strings.Repeat("y", size/2) + `"}`)}
		b, _ := r.encodeTask(other, &at)
		r.mu.Unlock()
		if string(a) != keep {
			t.Fatalf("size %d: the first encoding changed when the second was made", size)
		}
		if len(a) != cap(a) && cap(a) <= maxScratch {
			t.Fatalf("size %d: handed over with capacity %d for %d bytes", size, cap(a), len(a))
		}
		if len(b) == 0 || !strings.Contains(string(b), `"taskId":"u"`) {
			t.Fatalf("size %d: second encoding %q", size, b[:min(len(b), 60)])
		}
	}
}
