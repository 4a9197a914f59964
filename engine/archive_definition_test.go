package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// A definition that holds a value written literally (pasted into a task's
// input) that the run registers only once it runs (here a task output's
// `_secrets`; the value of a secret the definition names is refused at
// the start: TestDefinitionHoldingASecretsValueIsRefused) keeps it while
// the run executes, but the archived run's copy of the definition is
// masked with every value the run registered, as the rest of the archive
// is. A restart finds the
// definition as it ran (by its hash) where a copy is kept; without one it
// is refused rather than run with "***" in place of the literal.
func TestArchivedDefinitionMasksLiteralValues(t *testing.T) {
	const value = "lit-7d3e9a1b5c42"
	def := `{"name":"literal_value","version":1,"schemaVersion":2,"tasks":[
	 {"name":"read","taskReferenceName":"read","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"({_secrets:{k:'` + value + `'}})"}},
	 {"name":"pasted","taskReferenceName":"pasted","type":"INLINE","inputParameters":{"evaluatorType":"javascript","note":"Bearer ` + value + `","expression":"$.note.length"}}],
	 "outputParameters":{"n":"${pasted.output.result}"}}`
	for _, keepCopy := range []bool{true, false} {
		name := map[bool]string{true: "definition in the definitions directory", false: "no copy of the definition"}[keepCopy]
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			rs := runstore.NewMemory()
			dir := t.TempDir()
			if keepCopy {
				if err := os.WriteFile(filepath.Join(dir, "literal_value.json"), []byte(def), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithDefinitionsDir(dir),
				engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
					return interpolate.MapSecrets{"api": json.RawMessage(`"` + value + `"`)}
				}))
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Parse([]byte(def))
			if err != nil {
				t.Fatal(err)
			}
			res := startRun(t, e, d, `{}`)
			if res.Status != engine.StatusCompleted {
				t.Fatalf("run %s", res.Status)
			}
			doc, _, err := rs.Load(ctx, res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(doc), value) {
				t.Fatalf("the archived run holds the value: %s", strings.ReplaceAll(string(doc), value, "<value>"))
			}
			if !strings.Contains(string(doc), `"note":"Bearer ***"`) {
				t.Fatalf("archived definition not masked: %s", doc)
			}
			again, err := e.Restart(ctx, res.RunID, true)
			if !keepCopy {
				if !errors.Is(err, engine.ErrArchivedSecrets) || !strings.Contains(err.Error(), "no copy of the definition") {
					t.Fatalf("restart without a copy of the definition: %v", err)
				}
				return
			}
			if err != nil || again.Status != engine.StatusCompleted {
				t.Fatalf("restart: %v %+v", err, again)
			}
			// The restarted run ran the literal (its length), not "***".
			if got := viewRun(t, e, res.RunID).Output["n"]; got != float64(len("Bearer "+value)) {
				t.Fatalf("restarted output n = %v", got)
			}
		})
	}
}

// While the run executes — here, or in another process whose store this
// engine reads — its view masks the pasted value in its definition too.
func TestRunViewMasksLiteralValuesInItsDefinition(t *testing.T) {
	const value = "lit-4b8e2f6a1d93"
	def := `{"name":"literal_view","version":1,"schemaVersion":2,"tasks":[
	 {"name":"read","taskReferenceName":"read","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"({_secrets:{k:'` + value + `'}})"}},
	 {"name":"hold","taskReferenceName":"hold","type":"HUMAN","inputParameters":{"note":"Bearer ` + value + `"}}]}`
	ctx := context.Background()
	rs := runstore.NewMemory()
	secrets := engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
		return interpolate.MapSecrets{"api": json.RawMessage(`"` + value + `"`)}
	})
	ring, err := seal.NewKeyring([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()), secrets, engine.WithKeyring(ring))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *engine.Result, 1)
	go func() {
		res, _ := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID("literal-view-1"))
		done <- res
	}()
	other, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()), secrets, engine.WithKeyring(ring))
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the run never waited for its HUMAN task")
		}
		if v, err := e.Show(ctx, "literal-view-1"); err == nil && strings.Contains(string(v), `"referenceTaskName":"hold"`) {
			break
		}
	}
	for name, eng := range map[string]*engine.Engine{"executing": e, "reading the store": other} {
		v, err := eng.Show(ctx, "literal-view-1")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if strings.Contains(string(v), value) || !strings.Contains(string(v), `"note":"Bearer ***"`) {
			t.Fatalf("%s: the view holds the value: %s", name, strings.ReplaceAll(string(v), value, "<value>"))
		}
	}
	if _, err := e.CompleteTask(ctx, "literal-view-1", "hold", engine.TaskCompleted, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-done:
		if res == nil || res.Status != engine.StatusCompleted {
			t.Fatalf("run %+v", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not end")
	}
}

// staleOnce answers one Load of id with a document read before the run was
// archived: a view racing the run's archiving.
type staleOnce struct {
	runstore.Store
	id    string
	stale []byte
	used  bool
}

func (s *staleOnce) Load(ctx context.Context, id string) ([]byte, bool, error) {
	if id == s.id && !s.used && s.stale != nil {
		s.used = true
		return s.stale, false, nil
	}
	return s.Store.Load(ctx, id)
}

// A view that read the run just before it was archived (its masker gone
// with it) shows the archived form instead of failing.
func TestShowOfARunArchivedWhileItIsRead(t *testing.T) {
	ctx := context.Background()
	mem := runstore.NewMemory()
	rs := &staleOnce{Store: mem, id: "raced-1"}
	e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
			return interpolate.MapSecrets{"api": json.RawMessage(`"raced-value-6f1e"`)}
		}))
	if err != nil {
		t.Fatal(err)
	}
	// It reads a secret: its view masks with the run's values, which go
	// when it is archived.
	d, err := e.Parse([]byte(`{"name":"raced","tasks":[
	 {"name":"read","taskReferenceName":"read","type":"INLINE","inputParameters":{"evaluatorType":"javascript","k":"${workflow.secrets.api}","expression":"$.k.length"}},
	 {"name":"h","taskReferenceName":"h","type":"HUMAN"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *engine.Result, 1)
	go func() {
		res, _ := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID("raced-1"))
		done <- res
	}()
	var stale []byte
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the run never waited")
		}
		if doc, archived, err := mem.Load(ctx, "raced-1"); err == nil && !archived && strings.Contains(string(doc), `"referenceTaskName":"h"`) {
			stale = doc
			break
		}
	}
	if _, err := e.CompleteTask(ctx, "raced-1", "h", engine.TaskCompleted, nil); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("run %+v", res)
	}
	rs.stale = stale
	v, err := e.Show(ctx, "raced-1")
	if err != nil {
		t.Fatalf("Show: %v", err)
	}
	if !rs.used || !strings.Contains(string(v), `"status":"COMPLETED"`) {
		t.Fatalf("view (stale read used: %v): %s", rs.used, v)
	}
}
