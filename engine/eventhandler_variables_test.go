package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// TestUpdateVariables: UpdateVariables sets the variables of a RUNNING run
// that no process executes (its process stopped) in the run store, as
// SET_VARIABLE writes them (a `_secrets` member sealed, never stored in
// clear); appendArray gathers values; the resumed run reads them. A value
// that is not an object and an ended run are refused.
func TestUpdateVariables(t *testing.T) {
	rs := runstore.NewMemory()
	k := keyring(t, 7)
	e1 := harnessEngine(t, rs, engine.WithKeyring(k))
	def, err := e1.Parse([]byte(`{"name":"vars_wait","version":1,"schemaVersion":2,
	  "tasks":[{"name":"w","taskReferenceName":"w","type":"WAIT"}],
	  "outputParameters":{"tags":"${workflow.variables.tags}","n":"${workflow.variables.n}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e1.Start(ctx, def, json.RawMessage(`{}`), engine.WithRunID("vars-run-1"))
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if b, err := e1.Show(context.Background(), "vars-run-1"); err == nil && strings.Contains(string(b), `"IN_PROGRESS"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run never waited")
		}
	}
	cancel()
	<-done

	e2 := harnessEngine(t, rs, engine.WithKeyring(k))
	bg := context.Background()
	for _, u := range []struct {
		vars   string
		append bool
	}{
		{`{"n":1,"tags":"a","cred":{"_secrets":{"token":"tok-9f3e1"}}}`, false},
		{`{"tags":["b","c"]}`, true},
		{`{"n":2}`, false},
	} {
		if err := e2.UpdateVariables(bg, "vars-run-1", json.RawMessage(u.vars), u.append); err != nil {
			t.Fatalf("update %s: %v", u.vars, err)
		}
	}
	if err := e2.UpdateVariables(bg, "vars-run-1", json.RawMessage(`[1]`), false); !errors.Is(err, engine.ErrBadVariables) {
		t.Errorf("an array: %v", err)
	}
	stored, _, err := rs.Load(bg, "vars-run-1")
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), "tok-9f3e1") {
		t.Errorf("the stored run holds the _secrets value in clear")
	}
	if _, err := e2.CompleteTask(bg, "vars-run-1", "w", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	res, err := e2.Resume(bg, "vars-run-1")
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != engine.StatusCompleted {
		t.Fatalf("resumed: %s %s", res.Status, res.Reason)
	}
	out := viewRun(t, e2, "vars-run-1").Output
	tags, _ := json.Marshal(out["tags"])
	if string(tags) != `["a","b","c"]` || out["n"] != float64(2) {
		t.Errorf("output %v", out)
	}
	if err := e2.UpdateVariables(bg, "vars-run-1", json.RawMessage(`{"n":3}`), false); !errors.Is(err, engine.ErrNotRunning) {
		t.Errorf("an ended run: %v", err)
	}
}
