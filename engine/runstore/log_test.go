package runstore_test

import (
	"path/filepath"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
)

// logSteps writes run r1 as the engine writes a run whose log grows: each
// write appends the entries it carries, later writes leave them as stored,
// an entry written again at its position replaces it; each step's document
// as every backend must assemble it.
func logSteps() []struct {
	ch   *runstore.Change
	want string
} {
	const rest = `"input":{"a":1},"output":{},"variables":{},`
	const def = `"workflowDefinition":{"name":"wf"}}`
	c1 := first("r1")
	c1.Log = []runstore.LogEntry{{Pos: 0, Doc: []byte(`"e0"`)}}
	step := func(seq int, log ...runstore.LogEntry) *runstore.Change {
		ch := &runstore.Change{Summary: sum("RUNNING", 1), Log: log}
		if seq > 0 {
			ch.Tasks = []runstore.Task{{Seq: seq, Doc: []byte(`{"t":` + string(rune('0'+seq)) + `}`)}}
		}
		return ch
	}
	return []struct {
		ch   *runstore.Change
		want string
	}{
		{c1, `{"workflowId":"r1","status":"RUNNING",` + rest + `"runLog":["e0"],"tasks":[],` + def},
		// A write without entries leaves the log as stored.
		{step(1), `{"workflowId":"r1","status":"RUNNING",` + rest + `"runLog":["e0"],"tasks":[{"t":1}],` + def},
		// Entries are appended in the order of their positions, whatever
		// the order a change gives them in.
		{step(2, runstore.LogEntry{Pos: 2, Doc: []byte(`{"v":"e2"}`)}, runstore.LogEntry{Pos: 1, Doc: []byte(`"e1"`)}),
			`{"workflowId":"r1","status":"RUNNING",` + rest + `"runLog":["e0","e1",{"v":"e2"}],"tasks":[{"t":1},{"t":2}],` + def},
		// Written again at its position (a retried write): replaced.
		{step(0, runstore.LogEntry{Pos: 2, Doc: []byte(`"e2bis"`)}, runstore.LogEntry{Pos: 10, Doc: []byte(`"e10"`)}),
			`{"workflowId":"r1","status":"RUNNING",` + rest + `"runLog":["e0","e1","e2bis","e10"],"tasks":[{"t":1},{"t":2}],` + def},
	}
}

// testLogPart: a run's log entries are written by the change that carries
// them and kept by the others; Archive drops them with the record; Restore
// makes the record exactly its change.
func testLogPart(t *testing.T, s runstore.Store) {
	if err := s.Commit(ctx, "r0", first("r0")); err != nil {
		t.Fatal(err)
	}
	for i, step := range logSteps() {
		if err := s.Commit(ctx, "r1", step.ch); err != nil {
			t.Fatal(err)
		}
		if doc, _ := load(t, s, "r1"); doc != step.want {
			t.Fatalf("step %d:\n got %s\nwant %s", i, doc, step.want)
		}
	}
	if doc, _ := load(t, s, "r0"); doc != `{"workflowId":"r0","status":"RUNNING","input":{"a":1},"output":{},"variables":{},"tasks":[],"workflowDefinition":{"name":"wf"}}` {
		t.Fatalf("another run's log leaked into r0: %s", doc)
	}
	if err := s.Archive(ctx, "r1", []byte(`{"archived":true}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	if doc, archived := load(t, s, "r1"); !archived || doc != `{"archived":true}` {
		t.Fatalf("archived: %v %s", archived, doc)
	}
	rc := &runstore.Change{Summary: sum("RUNNING", 1), Head: []byte(`{"workflowId":"r1"}`), DefinitionHash: "h1"}
	if err := s.Restore(ctx, "r1", rc); err != nil {
		t.Fatal(err)
	}
	if doc, _ := load(t, s, "r1"); doc != `{"workflowId":"r1","input":{},"output":{},"variables":{},"tasks":[],"workflowDefinition":{"name":"wf"}}` {
		t.Fatalf("restored without a log: %s", doc)
	}
	rc.Log = []runstore.LogEntry{{Pos: 0, Doc: []byte(`"r0"`)}}
	if err := s.Restore(ctx, "r1", rc); err != nil {
		t.Fatal(err)
	}
	if err := s.Restore(ctx, "r1", rc); err != nil {
		t.Fatal(err)
	}
	if doc, _ := load(t, s, "r1"); doc != `{"workflowId":"r1","input":{},"output":{},"variables":{},"runLog":["r0"],"tasks":[],"workflowDefinition":{"name":"wf"}}` {
		t.Fatalf("restored with a log: %s", doc)
	}
}

// A process that stops after writing (bolt: with its journal not folded)
// leaves the log to the next one, which reads it and appends to it.
func TestLogPartSurvivesReopen(t *testing.T) {
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
			steps := logSteps()
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
			if err := s.Commit(ctx, "r1", &runstore.Change{Summary: sum("RUNNING", 1), Log: []runstore.LogEntry{{Pos: 11, Doc: []byte(`"e11"`)}}}); err != nil {
				t.Fatal(err)
			}
			want = `{"workflowId":"r1","status":"RUNNING","input":{"a":1},"output":{},"variables":{},"runLog":["e0","e1","e2bis","e10","e11"],"tasks":[{"t":1},{"t":2}],"workflowDefinition":{"name":"wf"}}`
			if doc, _ := load(t, s, "r1"); doc != want {
				t.Fatalf("written after reopening:\n got %s\nwant %s", doc, want)
			}
		})
	}
}
