package engine

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine/runstore"
)

// TestNoWriteAfterArchive: a write of a run made after its archive (a
// late writer holding the run as it went to its end: a skip, a worker's
// update, a variables update, a pause) changes nothing stored. Before,
// the store's Commit created a primary record again from what the write
// carried — the run's head and the records changed since, no input, no
// other task — which Load returned instead of the archive, with a
// `_secrets` value the write carried stored again (sealed) after the
// archive had rewritten it to "***" for good. Each late write is made on
// the run's own state once Start has returned (the run archived): no
// timing is involved.
func TestNoWriteAfterArchive(t *testing.T) {
	ctx := context.Background()
	rs := runstore.NewMemory()
	var e *Engine
	var held atomic.Pointer[runState]
	var current atomic.Value // the run id Start executes
	e, err := New(WithRunStore(rs),
		WithWorker("late_w", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			held.Store(e.activeRun(current.Load().(string)))
			return json.RawMessage(`{"_secrets":{"token":"tok-archived-value"},"plain":"kept"}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.Parse([]byte(`{"name":"late_writes","schemaVersion":2,"tasks":[
	  {"name":"late_w","taskReferenceName":"w","type":"SIMPLE"},
	  {"name":"late_w","taskReferenceName":"w2","type":"SIMPLE"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	const late = "LATE-secret-value-9f3c"
	for _, tc := range []struct {
		name  string
		write func(r *runState) error
	}{
		{"a record changed and written", func(r *runState) error {
			r.mu.Lock()
			r.touchLocked(r.byRef["w"])
			r.mu.Unlock()
			return r.save(ctx)
		}},
		{"a worker's output and end", func(r *runState) error {
			rec := r.lookup("w2")
			if err := r.setTaskData(rec, nil, []byte(`{"_secrets":{"token":"`+late+`"}}`)); err != nil {
				return err
			}
			return r.transition(ctx, rec, TaskFailed, "late answer")
		}},
		{"an IN_PROGRESS update", func(r *runState) error {
			rec := r.lookup("w")
			if err := r.setTaskData(rec, nil, []byte(`{"_secrets":{"token":"`+late+`"}}`)); err != nil {
				return err
			}
			if err := r.transition(ctx, rec, TaskScheduled, ""); err != nil {
				return err
			}
			return r.save(withReportedWrite(ctx))
		}},
		{"variables", func(r *runState) error {
			if err := r.setVariables([]byte(`{"v":{"_secrets":{"x":"` + late + `"}}}`)); err != nil {
				return err
			}
			return r.save(ctx)
		}},
		{"the head alone", func(r *runState) error {
			r.mu.Lock()
			r.doc.Status = StatusRunning
			r.mu.Unlock()
			return r.save(ctx)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "late-" + strings.ReplaceAll(tc.name, " ", "-")
			id = strings.ReplaceAll(id, "'", "")
			held.Store(nil)
			current.Store(id)
			res, err := e.Start(ctx, def, json.RawMessage(`{"param":"input kept"}`), WithRunID(id))
			if err != nil || res.Status != StatusCompleted {
				t.Fatalf("start: %+v %v", res, err)
			}
			r := held.Load()
			if r == nil || r.id != id {
				t.Fatal("the worker did not see its run")
			}
			before, archived, err := rs.Load(ctx, id)
			if err != nil || !archived {
				t.Fatalf("after the run: archived %v, %v", archived, err)
			}
			if err := tc.write(r); err != nil {
				t.Fatalf("the late write: %v", err)
			}
			doc, archived, err := rs.Load(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if !archived {
				t.Fatalf("a primary record was stored after the archive: %.300s", doc)
			}
			if string(doc) != string(before) {
				t.Fatalf("the archive changed:\nbefore %.400s\nafter  %.400s", before, doc)
			}
			if got := gjson.GetBytes(doc, "tasks.#").Int(); got != 2 || gjson.GetBytes(doc, "input.param").String() != "input kept" ||
				gjson.GetBytes(doc, "status").String() != StatusCompleted {
				t.Fatalf("stored run: %d tasks, %.300s", got, doc)
			}
			if tok := gjson.GetBytes(doc, "tasks.0.outputData._secrets").String(); tok != "***" || strings.Contains(string(doc), late) {
				t.Fatalf("an archived `_secrets` subtree: %q, %.400s", tok, doc)
			}
			sums, err := rs.List(ctx, runstore.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range sums {
				if s.ID == id && (!s.Archived || s.Status != StatusCompleted) {
					t.Fatalf("summary after the late write: %+v", s)
				}
			}
		})
	}
}
