package runstore_test

import (
	"errors"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
)

// TestRunIDWithSlashRefused: "/" separates a run's id from the key of one
// of its answer slots (SlotID), and Archive and Delete remove every id
// "<run>/<key>" with the run. A run "a/b" would have its pending signals
// taken by the archive of run "a"; every backend refuses to write it, and
// the archive of "a" leaves the signals of ids that are not its slots.
func TestRunIDWithSlashRefused(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			for _, id := range []string{"a/b", "a/", "/a", "a\x01b", ""} {
				err := s.Commit(ctx, id, first(id))
				if !errors.Is(err, runstore.ErrBadRunID) {
					t.Fatalf("Commit(%q) = %v, want ErrBadRunID", id, err)
				}
			}
			if err := s.Commit(ctx, "a", first("a")); err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(ctx, "a-b", first("a-b")); err != nil {
				t.Fatal(err)
			}
			if err := s.PutSignal(ctx, "a-b", "complete:approve", []byte(`{"status":"COMPLETED"}`)); err != nil {
				t.Fatal(err)
			}
			if err := s.Archive(ctx, "a", []byte(`{}`), sum("COMPLETED", 1)); err != nil {
				t.Fatal(err)
			}
			got, err := s.TakeSignals(ctx, "a-b")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != 1 {
				t.Fatalf("run a-b's pending signal is gone after the archive of run a: %v", got)
			}
		})
	}
}
