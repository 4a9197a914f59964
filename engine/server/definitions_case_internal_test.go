package server

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// On a case-insensitive filesystem the file of "Deploy" is the file of
// "deploy". Simulated here by the file of one name holding the other's
// definition: writing, reading and deleting "Deploy" through it is refused
// and leaves deploy's definition as it was.
func TestDefinitionNamesThatDifferOnlyInCase(t *testing.T) {
	d := &defStore{dir: t.TempDir()}
	if err := os.MkdirAll(filepath.Join(d.dir, "taskdefs"), 0o700); err != nil {
		t.Fatal(err)
	}
	deployWf := []byte(`{"name":"deploy","version":1,"tasks":[]}`)
	deployTask := []byte(`{"name":"deploy","retryCount":1}`)
	// What a case-insensitive filesystem shows at the paths of "Deploy".
	if err := os.WriteFile(d.workflowPath("Deploy", 1), deployWf, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(d.taskPath("Deploy"), deployTask, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, overwrite := range []bool{false, true} {
		if err := d.putWorkflow([]byte(`{"name":"Deploy","version":1,"tasks":[]}`), overwrite); !errors.Is(err, ErrDefinitionExists) {
			t.Fatalf("put workflow Deploy (overwrite %v) over deploy's file: %v", overwrite, err)
		}
	}
	if err := d.putTask([]byte(`{"name":"Deploy","retryCount":9}`)); !errors.Is(err, ErrDefinitionExists) {
		t.Fatalf("put task Deploy over deploy's file: %v", err)
	}
	if _, err := d.workflow("Deploy", 1); !errors.Is(err, ErrNoDefinition) {
		t.Fatalf("workflow Deploy answered with deploy's file: %v", err)
	}
	if _, err := d.task("Deploy"); !errors.Is(err, ErrNoDefinition) {
		t.Fatalf("task Deploy answered with deploy's file: %v", err)
	}
	if err := d.deleteWorkflow("Deploy", 1); !errors.Is(err, ErrNoDefinition) {
		t.Fatalf("delete workflow Deploy: %v", err)
	}
	if err := d.deleteTask("Deploy"); !errors.Is(err, ErrNoDefinition) {
		t.Fatalf("delete task Deploy: %v", err)
	}
	for path, want := range map[string][]byte{d.workflowPath("Deploy", 1): deployWf, d.taskPath("Deploy"): deployTask} {
		if b, err := os.ReadFile(path); err != nil || string(b) != string(want) {
			t.Fatalf("%s changed: %s %v", path, b, err)
		}
	}
	// The exact name still works.
	if err := d.putTask([]byte(`{"name":"other","retryCount":2}`)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.task("other"); err != nil {
		t.Fatal(err)
	}
	if err := d.deleteTask("other"); err != nil {
		t.Fatal(err)
	}
}
