package runstore_test

import (
	"path/filepath"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
)

// mocksSteps writes run r1 as the engine writes a test run: its mocks (and
// task definitions) with the first write, then writes without them; each
// step's document as every backend must assemble it.
func mocksSteps() []struct {
	ch   *runstore.Change
	want string
} {
	const rest = `"input":{"a":1},"output":{},"variables":{},`
	c1 := first("r1")
	c1.TaskDefs = []byte(`"defs-1"`)
	c1.Mocks = []byte(`"mocks-1"`)
	return []struct {
		ch   *runstore.Change
		want string
	}{
		{c1, `{"workflowId":"r1","status":"RUNNING",` + rest + `"taskDefs":"defs-1","testMocks":"mocks-1","tasks":[],"workflowDefinition":{"name":"wf"}}`},
		// Writes without it leave it as stored.
		{&runstore.Change{Summary: sum("RUNNING", 1), Head: []byte(`{"workflowId":"r1","status":"RUNNING","updateTime":2}`),
			Tasks: []runstore.Task{{Seq: 1, Doc: []byte(`{"t":1}`)}}},
			`{"workflowId":"r1","status":"RUNNING","updateTime":2,` + rest + `"taskDefs":"defs-1","testMocks":"mocks-1","tasks":[{"t":1}],"workflowDefinition":{"name":"wf"}}`},
		{&runstore.Change{Summary: sum("RUNNING", 1), TaskDefs: []byte(`"defs-2"`), Tasks: []runstore.Task{{Seq: 2, Doc: []byte(`{"t":2}`)}}},
			`{"workflowId":"r1","status":"RUNNING","updateTime":2,` + rest + `"taskDefs":"defs-2","testMocks":"mocks-1","tasks":[{"t":1},{"t":2}],"workflowDefinition":{"name":"wf"}}`},
	}
}

// testMocksPart: a test run's mocks are a part written only when a change
// carries them; a record without them assembles without the member;
// Restore makes the record exactly its change.
func testMocksPart(t *testing.T, s runstore.Store) {
	if err := s.Commit(ctx, "r0", first("r0")); err != nil {
		t.Fatal(err)
	}
	if doc, _ := load(t, s, "r0"); doc != `{"workflowId":"r0","status":"RUNNING","input":{"a":1},"output":{},"variables":{},"tasks":[],"workflowDefinition":{"name":"wf"}}` {
		t.Fatalf("a run without mocks: %s", doc)
	}
	for i, step := range mocksSteps() {
		if err := s.Commit(ctx, "r1", step.ch); err != nil {
			t.Fatal(err)
		}
		if doc, _ := load(t, s, "r1"); doc != step.want {
			t.Fatalf("step %d:\n got %s\nwant %s", i, doc, step.want)
		}
	}
	rc := &runstore.Change{Summary: sum("RUNNING", 1), Head: []byte(`{"workflowId":"r1"}`), DefinitionHash: "h1"}
	if err := s.Restore(ctx, "r1", rc); err != nil {
		t.Fatal(err)
	}
	if doc, _ := load(t, s, "r1"); doc != `{"workflowId":"r1","input":{},"output":{},"variables":{},"tasks":[],"workflowDefinition":{"name":"wf"}}` {
		t.Fatalf("restored without mocks: %s", doc)
	}
	rc.Mocks = []byte(`"mocks-2"`)
	if err := s.Restore(ctx, "r1", rc); err != nil {
		t.Fatal(err)
	}
	if doc, _ := load(t, s, "r1"); doc != `{"workflowId":"r1","input":{},"output":{},"variables":{},"testMocks":"mocks-2","tasks":[],"workflowDefinition":{"name":"wf"}}` {
		t.Fatalf("restored with mocks: %s", doc)
	}
}

// A bolt store closed with its journal not folded leaves the mocks part to
// the next process, which reads it and keeps it through its own writes.
func TestMocksPartSurvivesReopen(t *testing.T) {
	p := filepath.Join(t.TempDir(), "runs.db")
	s, err := runstore.OpenBolt(p, runstore.WithJournalLimit(1000))
	if err != nil {
		t.Fatal(err)
	}
	steps := mocksSteps()
	for _, step := range steps {
		if err := s.Commit(ctx, "r1", step.ch); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = runstore.OpenBolt(p)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if doc, _ := load(t, s, "r1"); doc != steps[len(steps)-1].want {
		t.Fatalf("reopened:\n got %s\nwant %s", doc, steps[len(steps)-1].want)
	}
	if err := s.Commit(ctx, "r1", &runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 3, Doc: []byte(`{"t":3}`)}}}); err != nil {
		t.Fatal(err)
	}
	if doc, _ := load(t, s, "r1"); doc != `{"workflowId":"r1","status":"RUNNING","updateTime":2,"input":{"a":1},"output":{},"variables":{},"taskDefs":"defs-2","testMocks":"mocks-1","tasks":[{"t":1},{"t":2},{"t":3}],"workflowDefinition":{"name":"wf"}}` {
		t.Fatalf("written after reopening: %s", doc)
	}
}
