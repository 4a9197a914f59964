package runstore_test

import (
	"path/filepath"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
)

// A fold gives every run the record its journal entries made: runs whose
// record was ended, replaced or ended and restored within the journal
// (their earlier entries are checked, not applied), and runs only changed.
func TestBoltFoldKeepsWhatTheJournalMade(t *testing.T) {
	p := filepath.Join(t.TempDir(), "runs.db")
	s, err := runstore.OpenBolt(p, runstore.WithJournalLimit(1000))
	if err != nil {
		t.Fatal(err)
	}
	task := func(seq int) *runstore.Change {
		return &runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: seq, Doc: []byte(`{"seq":` + string(rune('0'+seq)) + `}`)}},
			Log: []runstore.LogEntry{{Pos: seq, Doc: []byte(`"l"`)}}}
	}
	steps := []struct {
		id string
		do func(id string) error
	}{
		{"changed", func(id string) error { return s.Commit(ctx, id, first(id)) }},
		{"ended", func(id string) error { return s.Commit(ctx, id, first(id)) }},
		{"restored", func(id string) error { return s.Commit(ctx, id, first(id)) }},
		{"replaced", func(id string) error { return s.Commit(ctx, id, first(id)) }},
		{"changed", func(id string) error { return s.Commit(ctx, id, task(1)) }},
		{"ended", func(id string) error { return s.Commit(ctx, id, task(1)) }},
		{"restored", func(id string) error { return s.Commit(ctx, id, task(1)) }},
		{"replaced", func(id string) error { return s.Commit(ctx, id, task(1)) }},
		{"ended", func(id string) error { return s.Archive(ctx, id, []byte(`{"ended":true}`), sum("COMPLETED", 1)) }},
		{"restored", func(id string) error { return s.Archive(ctx, id, []byte(`{"ended":1}`), sum("COMPLETED", 1)) }},
		{"restored", func(id string) error {
			rc := first(id)
			rc.Tasks = []runstore.Task{{Seq: 5, Doc: []byte(`{"seq":5}`)}}
			return s.Restore(ctx, id, rc)
		}},
		{"replaced", func(id string) error { return s.Restore(ctx, id, first(id)) }},
		{"changed", func(id string) error { return s.Commit(ctx, id, task(2)) }},
		{"restored", func(id string) error { return s.Commit(ctx, id, task(2)) }},
		{"replaced", func(id string) error { return s.Commit(ctx, id, task(3)) }},
	}
	for _, st := range steps {
		if err := st.do(st.id); err != nil {
			t.Fatalf("%s: %v", st.id, err)
		}
	}
	ids := []string{"changed", "ended", "restored", "replaced"}
	before := map[string]string{}
	for _, id := range ids {
		before[id], _ = load(t, s, id)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The next write finds the journal full: it is folded.
	s, err = runstore.OpenBolt(p, runstore.WithJournalLimit(2))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Commit(ctx, "other", first("other")); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, "other", task(1)); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if got, _ := load(t, s, id); got != before[id] {
			t.Errorf("%s after the fold:\n got %s\nwant %s", id, got, before[id])
		}
	}
	if doc, archived := load(t, s, "ended"); !archived || doc != `{"ended":true}` {
		t.Errorf("ended: %s archived %v", doc, archived)
	}
	if list, err := s.List(ctx, runstore.ListOptions{}); err != nil || len(list) != 5 {
		t.Errorf("list: %v %v", list, err)
	}
}
