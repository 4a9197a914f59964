package runstore_test

import (
	"path/filepath"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
)

// taskDefsSteps writes run r1 as the engine does with a task-definition
// snapshot: the part with the first write, then writes without it, then a
// replacement; each step's document as every backend must assemble it.
func taskDefsSteps() []struct {
	ch   *runstore.Change
	want string
} {
	const rest = `"input":{"a":1},"output":{},"variables":{},`
	c1 := first("r1")
	c1.TaskDefs = []byte(`"sealed-1"`)
	return []struct {
		ch   *runstore.Change
		want string
	}{
		{c1, `{"workflowId":"r1","status":"RUNNING",` + rest + `"taskDefs":"sealed-1","tasks":[],"workflowDefinition":{"name":"wf"}}`},
		// Writes without it leave it as stored.
		{&runstore.Change{Summary: sum("RUNNING", 1), Head: []byte(`{"workflowId":"r1","status":"RUNNING","updateTime":2}`),
			Tasks: []runstore.Task{{Seq: 1, Doc: []byte(`{"t":1}`)}}},
			`{"workflowId":"r1","status":"RUNNING","updateTime":2,` + rest + `"taskDefs":"sealed-1","tasks":[{"t":1}],"workflowDefinition":{"name":"wf"}}`},
		{&runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 2, Doc: []byte(`{"t":2}`)}}},
			`{"workflowId":"r1","status":"RUNNING","updateTime":2,` + rest + `"taskDefs":"sealed-1","tasks":[{"t":1},{"t":2}],"workflowDefinition":{"name":"wf"}}`},
		// A new snapshot replaces it.
		{&runstore.Change{Summary: sum("RUNNING", 1), TaskDefs: []byte(`"sealed-2"`)},
			`{"workflowId":"r1","status":"RUNNING","updateTime":2,` + rest + `"taskDefs":"sealed-2","tasks":[{"t":1},{"t":2}],"workflowDefinition":{"name":"wf"}}`},
	}
}

// testTaskDefsPart: the task definitions a run keeps are a part written
// only when a change carries them; a record without them assembles
// without the member; Restore makes the record exactly its change.
func testTaskDefsPart(t *testing.T, s runstore.Store) {
	if err := s.Commit(ctx, "r0", first("r0")); err != nil {
		t.Fatal(err)
	}
	if doc, _ := load(t, s, "r0"); doc != `{"workflowId":"r0","status":"RUNNING","input":{"a":1},"output":{},"variables":{},"tasks":[],"workflowDefinition":{"name":"wf"}}` {
		t.Fatalf("a run without task definitions: %s", doc)
	}
	for i, step := range taskDefsSteps() {
		if err := s.Commit(ctx, "r1", step.ch); err != nil {
			t.Fatal(err)
		}
		if doc, _ := load(t, s, "r1"); doc != step.want {
			t.Fatalf("step %d:\n got %s\nwant %s", i, doc, step.want)
		}
	}
	if err := s.Archive(ctx, "r1", []byte(`{"taskDefs":"sealed-2"}`), sum("FAILED", 1)); err != nil {
		t.Fatal(err)
	}
	rc := &runstore.Change{Summary: sum("RUNNING", 1), Head: []byte(`{"workflowId":"r1"}`), DefinitionHash: "h1"}
	if err := s.Restore(ctx, "r1", rc); err != nil {
		t.Fatal(err)
	}
	if doc, _ := load(t, s, "r1"); doc != `{"workflowId":"r1","input":{},"output":{},"variables":{},"tasks":[],"workflowDefinition":{"name":"wf"}}` {
		t.Fatalf("restored without task definitions: %s", doc)
	}
	rc.TaskDefs = []byte(`"sealed-3"`)
	if err := s.Restore(ctx, "r1", rc); err != nil {
		t.Fatal(err)
	}
	if doc, _ := load(t, s, "r1"); doc != `{"workflowId":"r1","input":{},"output":{},"variables":{},"taskDefs":"sealed-3","tasks":[],"workflowDefinition":{"name":"wf"}}` {
		t.Fatalf("restored with task definitions: %s", doc)
	}
}

// A process that stops after writing (bolt: with its journal not folded)
// leaves the task definitions part to the next one: it reads the run as
// written, and its own writes (bolt: after folding the journal) keep it.
func TestTaskDefsPartSurvivesReopen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "runs.db")
	addr := redistest.Start(t)
	cases := []struct {
		name        string
		first, next func(t *testing.T) runstore.Store
	}{
		{"bolt-journal", func(t *testing.T) runstore.Store {
			s, err := runstore.OpenBolt(p, runstore.WithJournalLimit(1000))
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, func(t *testing.T) runstore.Store {
			s, err := runstore.OpenBolt(p)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}},
		{"redis", func(t *testing.T) runstore.Store {
			s, err := runstore.OpenRedis("redis://" + addr)
			if err != nil {
				t.Fatal(err)
			}
			return s
		}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.next == nil {
				c.next = c.first
			}
			steps := taskDefsSteps()
			s := c.first(t)
			for _, step := range steps {
				if err := s.Commit(ctx, "r1", step.ch); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			s = c.next(t)
			defer s.Close()
			want := steps[len(steps)-1].want
			if doc, _ := load(t, s, "r1"); doc != want {
				t.Fatalf("reopened:\n got %s\nwant %s", doc, want)
			}
			if err := s.Commit(ctx, "r1", &runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 3, Doc: []byte(`{"t":3}`)}}}); err != nil {
				t.Fatal(err)
			}
			want = want[:len(want)-len(`],"workflowDefinition":{"name":"wf"}}`)] + `,{"t":3}],"workflowDefinition":{"name":"wf"}}`
			if doc, _ := load(t, s, "r1"); doc != want {
				t.Fatalf("written after reopening:\n got %s\nwant %s", doc, want)
			}
		})
	}
}
