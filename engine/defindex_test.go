package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// TestDefinitionsDirChangesSeenByNextStart: the definitions directory is
// read through an index kept by each file's state; whatever changes
// between two starts of a run naming pin_child without a version is seen
// by the second: a version added, a file rewritten with the same size and
// modification time (as a write within one timestamp tick leaves it), a
// file replaced by a rename, a file removed, a file of another name
// rewritten to hold the child.
func TestDefinitionsDirChangesSeenByNextStart(t *testing.T) {
	dir := t.TempDir()
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	write := func(file, def string) {
		t.Helper()
		f := filepath.Join(dir, file)
		if err := os.WriteFile(f, []byte(def), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(f, time.Time{}, old); err != nil {
			t.Fatal(err)
		}
	}
	write("child1.json", pinChild("1"))
	write("other.json", `{"name":"other","version":7,"schemaVersion":2,"tasks":[{"name":"set","taskReferenceName":"set","type":"SET_VARIABLE","inputParameters":{"x":1}}]}`)
	h := newHarness(t, runstore.NewMemory(), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithDefinitionsDir(dir))
	const parent = `{"name":"p","version":1,"schemaVersion":2,"tasks":[
	  {"name":"top","taskReferenceName":"top","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"pin_child"}}]}`
	ran := func(want string) {
		t.Helper()
		res := h.run(parent, `{}`)
		if got := childVersions(t, h.e, res.RunID)["top"]; got != want {
			t.Fatalf("child ran %q, want %q", got, want)
		}
	}
	ran("v1 shown 1")

	write("child2.json", pinChild("2"))
	ran("v2 shown 2")

	write("child2.json", pinChild("3")) // same size, same modification time
	ran("v3 shown 3")

	tmp := filepath.Join(dir, "child2.tmp")
	if err := os.WriteFile(tmp, []byte(pinChild("4")), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, time.Time{}, old); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, "child2.json")); err != nil {
		t.Fatal(err)
	}
	ran("v4 shown 4")

	if err := os.Remove(filepath.Join(dir, "child2.json")); err != nil {
		t.Fatal(err)
	}
	ran("v1 shown 1")

	write("other.json", pinChild("5"))
	ran("v5 shown 5")

	for _, f := range []string{"child1.json", "other.json"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	d, err := h.e.Parse([]byte(parent))
	if err != nil {
		t.Fatal(err)
	}
	const refused = "The Task pin_child defined as a sub-workflow has no workflow definition available "
	if _, err := h.e.Start(context.Background(), d, json.RawMessage(`{}`)); err == nil || err.Error() != refused || !errors.Is(err, engine.ErrDefinitionNotFound) {
		t.Fatalf("start: %v, want %q", err, refused)
	}
}
