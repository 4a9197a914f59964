package engine

import (
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
)

// A task id carries its seq (taskIDAt) and its run's tag (newTaskID too):
// both read back from the id, and ids of one run differ but in nothing
// the run's tag says.
func TestTaskIDCarriesSeqAndRunTag(t *testing.T) {
	const run = "5b0d7a4e-0000-4000-8000-00000000a7e4"
	seen := map[string]bool{}
	for seq := 1; seq < 2000; seq += 37 {
		id := taskIDAt(seq, run)
		if got, ok := seqHint(id); !ok || got != seq {
			t.Fatalf("taskIDAt(%d): seqHint(%s) = %d %v", seq, id, got, ok)
		}
		if tag, ok := taskIDTag(id); !ok || tag != runstore.RunTag(run) {
			t.Fatalf("taskIDAt(%d): tag %q %v, want %q", seq, tag, ok, runstore.RunTag(run))
		}
		if id[14] != '4' || (id[19] < '8' || id[19] > 'b') {
			t.Fatalf("taskIDAt(%d) = %s: not a version 4 UUID", seq, id)
		}
		if seen[id] {
			t.Fatalf("taskIDAt(%d) = %s twice", seq, id)
		}
		seen[id] = true
	}
	id := newTaskID(run)
	if tag, ok := taskIDTag(id); !ok || tag != runstore.RunTag(run) {
		t.Fatalf("newTaskID: tag %q %v, want %q", tag, ok, runstore.RunTag(run))
	}
	if runstore.RunTag(run) == runstore.RunTag(run+"x") {
		t.Fatalf("two runs share the tag %s", runstore.RunTag(run))
	}
	for _, bad := range []string{"", "not-a-uuid", "5b0d7a4e-0000-4000-zz00-00000000a7e4", "5b0d7a4e00004000800000000000a7e4"} {
		if _, ok := taskIDTag(bad); ok {
			t.Fatalf("taskIDTag(%q) read a tag", bad)
		}
	}
}
