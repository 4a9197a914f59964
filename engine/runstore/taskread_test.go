package runstore_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
)

// LoadTask gives the head and one task record as Load's document holds
// them, after every kind of write: a task written, rewritten, deleted,
// the head rewritten, the run archived and restored.
func testLoadTask(t *testing.T, s runstore.Store) {
	tr, ok := s.(runstore.TaskReader)
	if !ok {
		t.Fatalf("%T does not implement runstore.TaskReader", s)
	}
	check := func(step string, seq int, wantHead, wantTask string, wantArchived bool) {
		t.Helper()
		head, task, archived, err := tr.LoadTask(ctx, "r1", seq)
		if err != nil {
			t.Fatalf("%s: LoadTask(%d): %v", step, seq, err)
		}
		if string(head) != wantHead || string(task) != wantTask || archived != wantArchived || (wantTask == "") != (task == nil) {
			t.Fatalf("%s: LoadTask(%d) = %q %q %v, want %q %q %v", step, seq, head, task, archived, wantHead, wantTask, wantArchived)
		}
	}
	if _, _, _, err := tr.LoadTask(ctx, "r1", 1); !errors.Is(err, runstore.ErrNotFound) {
		t.Fatalf("LoadTask(missing) = %v, want ErrNotFound", err)
	}
	if err := s.Commit(ctx, "r1", first("r1")); err != nil {
		t.Fatal(err)
	}
	head1 := `{"workflowId":"r1","status":"RUNNING"}`
	check("first write", 1, head1, "", false)
	steps := []struct {
		ch        *runstore.Change
		seq       int
		head, tsk string
	}{
		{&runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 1, Doc: []byte(`{"seq":1,"taskId":"a"}`)}, {Seq: 2, Doc: []byte(`{"seq":2,"taskId":"b"}`)}}},
			2, head1, `{"seq":2,"taskId":"b"}`},
		{&runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 2, Doc: []byte(`{"seq":2,"taskId":"b","status":"COMPLETED"}`)}},
			Head: []byte(`{"workflowId":"r1","status":"PAUSED"}`)},
			2, `{"workflowId":"r1","status":"PAUSED"}`, `{"seq":2,"taskId":"b","status":"COMPLETED"}`},
		{&runstore.Change{Summary: sum("RUNNING", 1), DeleteTasks: []int{2}}, 2, `{"workflowId":"r1","status":"PAUSED"}`, ""},
		{&runstore.Change{Summary: sum("RUNNING", 1), Variables: []byte(`{"v":1}`)}, 1, `{"workflowId":"r1","status":"PAUSED"}`, `{"seq":1,"taskId":"a"}`},
	}
	for i, st := range steps {
		if err := s.Commit(ctx, "r1", st.ch); err != nil {
			t.Fatal(err)
		}
		check("step "+string(rune('1'+i)), st.seq, st.head, st.tsk, false)
	}
	// Another run's records are not this one's (ids that prefix each other).
	c := first("r1x")
	c.Tasks = []runstore.Task{{Seq: 3, Doc: []byte(`{"seq":3}`)}}
	if err := s.Commit(ctx, "r1x", c); err != nil {
		t.Fatal(err)
	}
	check("neighbour", 3, `{"workflowId":"r1","status":"PAUSED"}`, "", false)
	if err := s.Archive(ctx, "r1", []byte(`{"tasks":[{"seq":1}]}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	check("archived", 1, "", "", true)
	rc := &runstore.Change{Summary: sum("RUNNING", 1), Head: []byte(`{"workflowId":"r1"}`),
		Tasks: []runstore.Task{{Seq: 3, Doc: []byte(`{"seq":3}`)}}, DefinitionHash: "h1"}
	if err := s.Restore(ctx, "r1", rc); err != nil {
		t.Fatal(err)
	}
	check("restored", 1, `{"workflowId":"r1"}`, "", false)
	check("restored", 3, `{"workflowId":"r1"}`, `{"seq":3}`, false)
	if err := s.Archive(ctx, "r1", []byte(`{}`), sum("FAILED", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := tr.LoadTask(ctx, "r1", 3); !errors.Is(err, runstore.ErrNotFound) {
		t.Fatalf("LoadTask(deleted) = %v, want ErrNotFound", err)
	}
}

// LoadTaskRef gives the head and the record the reference index names, as
// the writes left it: an entry set with its record, moved to a later
// record, moved back and deleted (a rerun), naming a record the run does
// not hold, dropped by a restore. The index is not part of the document.
func testLoadTaskRef(t *testing.T, s runstore.Store) {
	rr, ok := s.(runstore.RefReader)
	if !ok {
		t.Fatalf("%T does not implement runstore.RefReader", s)
	}
	check := func(step, ref, wantHead, wantTask string, wantArchived bool) {
		t.Helper()
		head, task, archived, err := rr.LoadTaskRef(ctx, "r1", ref)
		if err != nil {
			t.Fatalf("%s: LoadTaskRef(%q): %v", step, ref, err)
		}
		if string(head) != wantHead || string(task) != wantTask || archived != wantArchived || (wantTask == "") != (task == nil) {
			t.Fatalf("%s: LoadTaskRef(%q) = %q %q %v, want %q %q %v", step, ref, head, task, archived, wantHead, wantTask, wantArchived)
		}
	}
	if _, _, _, err := rr.LoadTaskRef(ctx, "r1", "a"); !errors.Is(err, runstore.ErrNotFound) {
		t.Fatalf("LoadTaskRef(missing) = %v, want ErrNotFound", err)
	}
	if err := s.Commit(ctx, "r1", first("r1")); err != nil {
		t.Fatal(err)
	}
	head1 := `{"workflowId":"r1","status":"RUNNING"}`
	check("first write", "a", head1, "", false)
	a1, a2, w := `{"seq":1,"ref":"a"}`, `{"seq":2,"ref":"a"}`, `{"seq":3,"ref":"w__1"}`
	steps := []struct {
		ch   *runstore.Change
		want map[string]string
	}{
		{&runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 1, Doc: []byte(a1)}}, Refs: []runstore.RefEntry{{Ref: "a", Seq: 1}}},
			map[string]string{"a": a1, "w": ""}},
		// A retry of a and a loop's task, its reference and base.
		{&runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 2, Doc: []byte(a2)}, {Seq: 3, Doc: []byte(w)}},
			Refs: []runstore.RefEntry{{Ref: "a", Seq: 2}, {Ref: "w__1", Seq: 3}, {Ref: "w", Seq: 3}}},
			map[string]string{"a": a2, "w": w, "w__1": w}},
		// A rerun from a's first attempt: the later records go, a names
		// its first attempt again, w none.
		{&runstore.Change{Summary: sum("RUNNING", 1), DeleteTasks: []int{2, 3},
			Refs: []runstore.RefEntry{{Ref: "a", Seq: 1}, {Ref: "w__1"}, {Ref: "w"}}},
			map[string]string{"a": a1, "w": "", "w__1": ""}},
		// An entry naming a record the run does not hold.
		{&runstore.Change{Summary: sum("RUNNING", 1), Refs: []runstore.RefEntry{{Ref: "x", Seq: 9}}},
			map[string]string{"a": a1, "x": ""}},
	}
	for i, st := range steps {
		if err := s.Commit(ctx, "r1", st.ch); err != nil {
			t.Fatal(err)
		}
		for ref, want := range st.want {
			check("step "+string(rune('1'+i)), ref, head1, want, false)
		}
	}
	if doc, _ := load(t, s, "r1"); doc != `{"workflowId":"r1","status":"RUNNING","input":{"a":1},"output":{},"variables":{},"tasks":[`+a1+`],"workflowDefinition":{"name":"wf"}}` {
		t.Fatalf("Load = %s", doc)
	}
	// Another run's index is not this one's (ids that prefix each other).
	c := first("r1x")
	c.Tasks, c.Refs = []runstore.Task{{Seq: 4, Doc: []byte(`{"seq":4}`)}}, []runstore.RefEntry{{Ref: "b", Seq: 4}}
	if err := s.Commit(ctx, "r1x", c); err != nil {
		t.Fatal(err)
	}
	check("neighbour", "b", head1, "", false)
	if err := s.Archive(ctx, "r1", []byte(`{"tasks":[`+a1+`]}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	check("archived", "a", "", "", true)
	// A restore's record is exactly its change: the earlier index goes.
	rc := &runstore.Change{Summary: sum("RUNNING", 1), Head: []byte(`{"workflowId":"r1"}`),
		Tasks: []runstore.Task{{Seq: 5, Doc: []byte(`{"seq":5}`)}}, Refs: []runstore.RefEntry{{Ref: "c", Seq: 5}}, DefinitionHash: "h1"}
	if err := s.Restore(ctx, "r1", rc); err != nil {
		t.Fatal(err)
	}
	check("restored", "a", `{"workflowId":"r1"}`, "", false)
	check("restored", "c", `{"workflowId":"r1"}`, `{"seq":5}`, false)
	if err := s.Archive(ctx, "r1", []byte(`{}`), sum("FAILED", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := rr.LoadTaskRef(ctx, "r1", "c"); !errors.Is(err, runstore.ErrNotFound) {
		t.Fatalf("LoadTaskRef(deleted) = %v, want ErrNotFound", err)
	}
}

// RunsTagged names the runs written with a tag, from the run's first
// write on, archived or restored, until the run is deleted; a store made
// empty has every run tagged. A run's tag is its id's (runstore.RunTag):
// r1 and r3 are two ids whose tags are the same, found by trying.
func testRunsTagged(t *testing.T, s runstore.Store) {
	tr, ok := s.(runstore.TaskRunReader)
	if !ok {
		t.Fatalf("%T does not implement runstore.TaskRunReader", s)
	}
	check := func(step, tag string, want ...string) {
		t.Helper()
		got, complete, err := tr.RunsTagged(ctx, tag)
		slices.Sort(got)
		slices.Sort(want)
		if err != nil || !slices.Equal(got, want) || !complete {
			t.Fatalf("%s: RunsTagged(%q) = %q %v %v, want %q, complete", step, tag, got, complete, err, want)
		}
	}
	r1, r3 := collidingRunIDs()
	r2 := "r2"
	aa, bb := runstore.RunTag(r1), runstore.RunTag(r2)
	check("empty", aa)
	for _, id := range []string{r1, r2, r3} {
		c := first(id)
		c.RunTag = runstore.RunTag(id)
		if err := s.Commit(ctx, id, c); err != nil {
			t.Fatal(err)
		}
	}
	// A later write without it leaves it.
	if err := s.Commit(ctx, r1, &runstore.Change{Summary: sum("RUNNING", 1), Variables: []byte(`{"v":1}`)}); err != nil {
		t.Fatal(err)
	}
	check("written", aa, r1, r3)
	check("written", bb, r2)
	check("unknown", runstore.RunTag("no such run"))
	if err := s.Archive(ctx, r1, []byte(`{}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	check("archived", aa, r1, r3)
	rc := &runstore.Change{Summary: sum("RUNNING", 1), Head: []byte(`{"workflowId":"` + r1 + `"}`), DefinitionHash: "h1", RunTag: aa}
	if err := s.Restore(ctx, r1, rc); err != nil {
		t.Fatal(err)
	}
	check("restored", aa, r1, r3)
	if err := s.Archive(ctx, r1, []byte(`{}`), sum("FAILED", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, r1); err != nil {
		t.Fatal(err)
	}
	check("deleted", aa, r3)
	check("the other run", bb, r2)
}

// collidingRunIDs returns two run ids whose tags (30 bits) are the same:
// among some 2^16 ids two are, most likely (tried in order, so always the
// same two).
func collidingRunIDs() (string, string) {
	seen := map[string]string{}
	for i := 0; ; i++ {
		id := fmt.Sprintf("r-%d", i)
		tag := runstore.RunTag(id)
		if other, ok := seen[tag]; ok {
			return other, id
		}
		seen[tag] = id
	}
}
