package runstore_test

import (
	"errors"
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
