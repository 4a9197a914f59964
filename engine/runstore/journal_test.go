package runstore_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
)

// Concurrent runs write through the journal, a lone one into the parts;
// whichever way a write went, and whoever wrote (another process may have
// journaled entries), a run reads back as written.
func TestBoltJournalAndParts(t *testing.T) {
	p := filepath.Join(t.TempDir(), "runs.db")
	s, err := runstore.OpenBolt(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const runs, steps = 16, 4
	want := map[string][]string{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < runs; i++ {
		id := fmt.Sprintf("r%d", i)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Commit(ctx, id, first(id)); err != nil {
				t.Error(err)
				return
			}
			for j := 1; j <= steps; j++ {
				doc := fmt.Sprintf(`{"run":%q,"n":%d}`, id, j)
				if err := s.Commit(ctx, id, &runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: j, Doc: []byte(doc)}}}); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				want[id] = append(want[id], doc)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	// A lone writer continues r0 and replaces a task of r1 (into the parts,
	// after the journal was folded); another process journals a task of r2.
	for j := steps + 1; j <= steps+3; j++ {
		doc := fmt.Sprintf(`{"run":"r0","n":%d}`, j)
		if err := s.Commit(ctx, "r0", &runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: j, Doc: []byte(doc)}}}); err != nil {
			t.Fatal(err)
		}
		want["r0"] = append(want["r0"], doc)
	}
	if err := s.Commit(ctx, "r1", &runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 1, Doc: []byte(`{"replaced":true}`)}}, DeleteTasks: []int{2}}); err != nil {
		t.Fatal(err)
	}
	want["r1"] = append([]string{`{"replaced":true}`}, want["r1"][2:]...)
	other, err := runstore.OpenBolt(p, runstore.WithJournalLimit(1000))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.Commit(ctx, "r2", &runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 1, Doc: []byte(`{"by":"other"}`)}}}); err != nil {
		t.Fatal(err)
	}
	// This write must not go under the other process's journal entry.
	if err := s.Commit(ctx, "r2", &runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 1, Doc: []byte(`{"by":"this"}`)}}}); err != nil {
		t.Fatal(err)
	}
	want["r2"][0] = `{"by":"this"}`
	for id, tasks := range want {
		doc, _ := load(t, s, id)
		w := `{"workflowId":"` + id + `","status":"RUNNING","input":{"a":1},"output":{},"variables":{},"tasks":[` + strings.Join(tasks, ",") + `],"workflowDefinition":{"name":"wf"}}`
		if doc != w {
			t.Fatalf("%s =\n%s\nwant\n%s", id, doc, w)
		}
	}
	if list, err := s.List(ctx, runstore.ListOptions{}); err != nil || len(list) != runs {
		t.Fatalf("List = %d %v", len(list), err)
	}
	for i := 0; i < runs; i++ {
		id := fmt.Sprintf("r%d", i)
		if err := s.Archive(ctx, id, []byte(`{}`), sum("COMPLETED", 1)); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if list, err := other.List(ctx, runstore.ListOptions{}); err != nil || len(list) != 0 {
		t.Fatalf("List after Delete = %+v %v", list, err)
	}
}
