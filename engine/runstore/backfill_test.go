package runstore_test

import (
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
)

// An index entry without updateTime (as an earlier wfrun wrote it) takes
// the one backfilled once; an entry that has one (backfilled, or written
// since) keeps it; a run without an entry is left alone.
func TestBackfillUpdateTime(t *testing.T) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			s := b.open(t)
			bf, ok := s.(runstore.UpdateTimeBackfiller)
			if !ok {
				t.Fatal("no UpdateTimeBackfiller")
			}
			updateTimes := func() map[string]int64 {
				t.Helper()
				all, err := s.List(ctx, runstore.ListOptions{})
				if err != nil {
					t.Fatal(err)
				}
				out := map[string]int64{}
				for _, sm := range all {
					out[sm.ID] = sm.UpdateTime
				}
				return out
			}
			for _, id := range []string{"old", "new", "live"} {
				if err := s.Commit(ctx, id, first(id)); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Archive(ctx, "old", []byte(`{"workflowId":"old"}`), sum("COMPLETED", 1)); err != nil {
				t.Fatal(err)
			}
			withTime := sum("COMPLETED", 1)
			withTime.UpdateTime = 7
			if err := s.Archive(ctx, "new", []byte(`{"workflowId":"new"}`), withTime); err != nil {
				t.Fatal(err)
			}
			for _, id := range []string{"old", "new", "missing"} {
				if err := bf.BackfillUpdateTime(ctx, id, 42); err != nil {
					t.Fatalf("backfill %s: %v", id, err)
				}
			}
			if err := bf.BackfillUpdateTime(ctx, "old", 99); err != nil {
				t.Fatal(err)
			}
			got := updateTimes()
			if got["old"] != 42 || got["new"] != 7 || len(got) != 3 {
				t.Fatalf("after backfill: %v; want old 42, new 7, no missing", got)
			}
			if doc, archived := load(t, s, "old"); !archived || doc != `{"workflowId":"old"}` {
				t.Fatalf("old after backfill: %s archived %v", doc, archived)
			}
			// A live run's write since records its own updateTime.
			if err := bf.BackfillUpdateTime(ctx, "live", 42); err != nil {
				t.Fatal(err)
			}
			ch := &runstore.Change{Summary: sum("RUNNING", 1)}
			ch.Summary.UpdateTime = 5
			if err := s.Commit(ctx, "live", ch); err != nil {
				t.Fatal(err)
			}
			if err := bf.BackfillUpdateTime(ctx, "live", 42); err != nil {
				t.Fatal(err)
			}
			if got := updateTimes()["live"]; got != 5 {
				t.Fatalf("live run's updateTime %d, want 5 (its write's)", got)
			}
		})
	}
}
