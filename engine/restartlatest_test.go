package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// SimpleWorkflowSpec "Test Simple workflow restart with the latest
// definition": integration_test_wf v1 fails (integration_task_1 without
// retries); version 2, with integration_task_20 (task_added) appended, is
// registered; the restart with the latest definitions runs v2 and
// completes with three tasks. "... without using the latest definition":
// the plain restart stays on v1. Without a definitions directory the
// restart with the latest definitions is refused and the run stays FAILED.
func TestConductorRestartLatestDefinition(t *testing.T) {
	dir := t.TempDir()
	v1, err := os.ReadFile(conductorDir + "/" + simpleWF)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "wf_v1.json"), v1, 0o600); err != nil {
		t.Fatal(err)
	}
	defs := harnessTaskDefs(t)
	if err := defs.Put(taskDefRetries("integration_task_1", 0, 0)); err != nil {
		t.Fatal(err)
	}
	var fail atomic.Bool
	answer := func(out string) engine.WorkerFunc {
		return func(context.Context, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(out), nil }
	}
	newEngine := func(opts ...engine.Option) *engine.Engine {
		fail.Store(true)
		return harnessEngine(t, nil, append([]engine.Option{engine.WithTaskDefs(defs),
			engine.WithWorker("integration_task_1", func(context.Context, json.RawMessage) (json.RawMessage, error) {
				if fail.Load() {
					return nil, errors.New("failed..")
				}
				return json.RawMessage(`{"op":"task1.done"}`), nil
			}),
			engine.WithWorker("integration_task_2", answer(`{"uuid":"u-2"}`)),
			engine.WithWorker("integration_task_20", answer(`{"added":true}`))}, opts...)...)
	}
	ctx := context.Background()
	failedRun := func(e *engine.Engine) string {
		t.Helper()
		res := startRun(t, e, harnessDef(t, e, simpleWF), `{"param1":"p1 value","param2":"p2 value"}`)
		wf := viewRun(t, e, res.RunID)
		if wf.Status != engine.StatusFailed {
			t.Fatalf("first run: %s %+v", wf.Status, wf.Tasks)
		}
		checkTasks(t, wf.Tasks, "integration_task_1:FAILED")
		return res.RunID
	}
	e := newEngine(engine.WithDefinitionsDir(dir))
	latest, plain := failedRun(e), failedRun(e)

	var m map[string]any
	if err := json.Unmarshal(v1, &m); err != nil {
		t.Fatal(err)
	}
	m["version"] = 2
	m["tasks"] = append(m["tasks"].([]any), map[string]any{"name": "integration_task_20", "taskReferenceName": "task_added", "type": "SIMPLE"})
	v2, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, "wf_v2.json"), v2, 0o600); err != nil {
		t.Fatal(err)
	}

	fail.Store(false)
	res, err := e.RestartWith(ctx, latest, engine.RestartOptions{UseLatestDefinitions: true})
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("restart with the latest definition: %v %+v", err, res)
	}
	wf := viewRun(t, e, latest)
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "integration_task_2:COMPLETED", "integration_task_20:COMPLETED")
	if wf.Tasks[2].Ref != "task_added" {
		t.Fatalf("added task %+v", wf.Tasks[2])
	}
	if view, _ := e.Show(ctx, latest); !strings.Contains(string(view), `"version":2`) {
		t.Fatalf("the restarted run is not on version 2: %s", view)
	}

	res, err = e.RestartWith(ctx, plain, engine.RestartOptions{})
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("restart: %v %+v", err, res)
	}
	checkTasks(t, viewRun(t, e, plain).Tasks, "integration_task_1:COMPLETED", "integration_task_2:COMPLETED")

	// No definitions directory: refused, the run is left FAILED.
	e = newEngine(engine.WithDefinitionsDir(""))
	id := failedRun(e)
	if _, err := e.RestartWith(ctx, id, engine.RestartOptions{UseLatestDefinitions: true}); !errors.Is(err, engine.ErrDefinitionNotFound) {
		t.Fatalf("without a definitions directory: %v", err)
	}
	if wf := viewRun(t, e, id); wf.Status != engine.StatusFailed {
		t.Fatalf("after the refused restart: %s", wf.Status)
	}
}

// Conductor stores the task definitions with the run's WorkflowDef at its
// start (populateTaskDefinitions): a restart, a retry, keeps them; a
// restart with useLatestDefinitions takes the ones registered now. Here
// "flaky" has no retries when the runs start and two afterwards. The kept
// definitions are sealed in the run: another run's copy does not open.
func TestRestartKeepsTheTaskDefinitionsTheRunStartedWith(t *testing.T) {
	dir := t.TempDir()
	wfJSON := `{"name":"snap_wf","version":1,"schemaVersion":2,"tasks":[{"name":"flaky","taskReferenceName":"f"}]}`
	if err := os.WriteFile(filepath.Join(dir, "snap_wf.json"), []byte(wfJSON), 0o600); err != nil {
		t.Fatal(err)
	}
	defs := engine.NewTaskDefs()
	if err := defs.Put(taskDefRetries("flaky", 0, 0)); err != nil {
		t.Fatal(err)
	}
	store := runstore.NewMemory()
	e := harnessEngine(t, store, engine.WithTaskDefs(defs), engine.WithDefinitionsDir(dir),
		engine.WithWorker("flaky", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, errors.New("flaky failed")
		}))
	d, err := e.Parse([]byte(wfJSON))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var plain, retried, latest string
	for _, id := range []*string{&plain, &retried, &latest} {
		res := startRun(t, e, d, `{}`)
		*id = res.RunID
		checkTasks(t, viewRun(t, e, res.RunID).Tasks, "flaky:FAILED")
	}
	if err := defs.Put(taskDefRetries("flaky", 2, 0)); err != nil {
		t.Fatal(err)
	}
	attempts := func(id string, want int) {
		t.Helper()
		wf := viewRun(t, e, id)
		if wf.Status != engine.StatusFailed || len(wf.Tasks) != want {
			t.Fatalf("run %s: %s with %d attempts, want FAILED with %d", id, wf.Status, len(wf.Tasks), want)
		}
	}
	if _, err := e.Restart(ctx, plain, true); err != nil {
		t.Fatal(err)
	}
	attempts(plain, 1) // retryCount 0, as when it started
	if _, err := e.Retry(ctx, retried, false); err != nil {
		t.Fatal(err)
	}
	attempts(retried, 2) // the retried attempt, not retried again
	if _, err := e.RestartWith(ctx, latest, engine.RestartOptions{UseLatestDefinitions: true}); err != nil {
		t.Fatal(err)
	}
	attempts(latest, 3) // retryCount 2, registered now
	// A restart with useLatestDefinitions keeps what it took: a plain
	// restart after it retries twice too.
	if _, err := e.Restart(ctx, latest, true); err != nil {
		t.Fatal(err)
	}
	attempts(latest, 3)

	// Run latest's sealed definitions copied into run plain: refused.
	docOf := func(id string) map[string]json.RawMessage {
		t.Helper()
		doc, archived, err := store.Load(ctx, id)
		if err != nil || !archived {
			t.Fatalf("load %s: archived %v, %v", id, archived, err)
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(doc, &m); err != nil || m["taskDefs"] == nil {
			t.Fatalf("run %s stores no task definitions: %v", id, err)
		}
		return m
	}
	m := docOf(plain)
	m["taskDefs"] = docOf(latest)["taskDefs"]
	edited, _ := json.Marshal(m)
	sums, err := store.List(ctx, runstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sums {
		if s.ID == plain {
			// The store refuses an archive over an archive (another
			// process's late end): the edited document replaces it.
			if err := store.Delete(ctx, plain); err != nil {
				t.Fatal(err)
			}
			if err := store.Archive(ctx, plain, edited, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := e.Restart(ctx, plain, true); err == nil || !strings.Contains(err.Error(), "taskDefs") {
		t.Fatalf("restart with another run's task definitions: %v", err)
	}
	attempts(plain, 1)

	// A run stored without task definitions (by an older wfrun) keeps
	// reading the registry's current ones.
	delete(m, "taskDefs")
	edited, _ = json.Marshal(m)
	for _, s := range sums {
		if s.ID == plain {
			// The store refuses an archive over an archive (another
			// process's late end): the edited document replaces it.
			if err := store.Delete(ctx, plain); err != nil {
				t.Fatal(err)
			}
			if err := store.Archive(ctx, plain, edited, s); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := e.Restart(ctx, plain, true); err != nil {
		t.Fatal(err)
	}
	attempts(plain, 3)
}
