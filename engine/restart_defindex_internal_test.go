package engine

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks"
)

// bodyReads is the number of files dir's index read whole for a lookup
// by name.
func bodyReads(e *Engine, dir string) int {
	x := e.defsIndexOf(dir)
	x.mu.Lock()
	defer x.mu.Unlock()
	return x.bodies
}

// TestRestartOfMaskedRunReadsOnlyItsNamedFiles: restarting an archived run
// whose definition archiving masked (a secret's value written into it)
// looks for its definition in the definitions directory among the files
// holding the run's name only, through the directory's index: of 50 other
// definitions none is read whole, and a second restart reads none of their
// heads again. Reading every file of the directory read 51 files per
// restart.
func TestRestartOfMaskedRunReadsOnlyItsNamedFiles(t *testing.T) {
	const value = "lit-0b6f2c9e81d4"
	def := `{"name":"pasted_value","version":1,"schemaVersion":2,"tasks":[
	 {"name":"read","taskReferenceName":"read","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"({_secrets:{k:'` + value + `'}})"}},
	 {"name":"pasted","taskReferenceName":"pasted","type":"INLINE","inputParameters":{"evaluatorType":"javascript","note":"Bearer ` + value + `","expression":"$.note.length"}}],
	 "outputParameters":{"n":"${pasted.output.result}"}}`
	dir := t.TempDir()
	writeIndexDefs(t, dir, 50)
	f := filepath.Join(dir, "pasted_value.json")
	if err := os.WriteFile(f, []byte(def), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(f, time.Time{}, time.Now().Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	rs := runstore.NewMemory()
	e, err := New(WithRunStore(rs), WithRegistry(tasks.NewDefaultRegistry()), WithDefinitionsDir(dir),
		WithSecrets(func(Principal, string, string) interpolate.SecretSource {
			return interpolate.MapSecrets{"api": json.RawMessage(`"` + value + `"`)}
		}))
	if err != nil {
		t.Fatal(err)
	}
	SettleDefinitionsIndex(e, dir)
	d, err := e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := e.Start(ctx, d, json.RawMessage(`{}`))
	if err != nil || res.Status != StatusCompleted {
		t.Fatalf("start: %v %+v", err, res)
	}
	doc, _, err := rs.Load(ctx, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), value) || !strings.Contains(string(doc), `"note":"Bearer ***"`) {
		t.Fatal("the archived definition is not masked")
	}
	for i, want := range []struct{ heads, bodies int }{{51, 1}, {51, 2}} {
		again, err := e.Restart(ctx, res.RunID, true)
		if err != nil || again.Status != StatusCompleted {
			t.Fatalf("restart %d: %v %+v", i, err, again)
		}
		if h, b := headReads(e, dir), bodyReads(e, dir); h != want.heads || b != want.bodies {
			t.Fatalf("after restart %d: %d heads and %d files read, want %d and %d", i, h, b, want.heads, want.bodies)
		}
	}
	b, err := e.Show(ctx, res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Output map[string]any `json:"output"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	if got := v.Output["n"]; got != float64(len("Bearer "+value)) {
		t.Fatalf("restarted output n = %v, want the pasted literal's length", got)
	}
}
