package engine

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
)

// TestPauseBeforeTheRunHoldsItsLease: a run paused between its first write
// and its lease (Pause finds no process executing it and marks the store)
// stays paused once it executes — its task is not scheduled — and a
// ResumePaused returns, the run then going on to its end. Before, the run
// went on RUNNING in memory and ResumePaused waited, unbounded, for a
// RUNNING status no write brought.
func TestPauseBeforeTheRunHoldsItsLease(t *testing.T) {
	ctx := context.Background()
	ran := make(chan struct{}, 1)
	e, err := New(WithRunStore(runstore.NewMemory()), WithPollInterval(5*time.Millisecond),
		WithWorker("w", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			ran <- struct{}{}
			return json.RawMessage(`{"r":"ok"}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.Parse([]byte(`{"name":"paused_early","tasks":[{"name":"w","taskReferenceName":"w"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.newRun(ctx, def, nil, &runConfig{principal: localPrincipal}, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Pause(ctx, r.id); err != nil {
		t.Fatal(err)
	}
	type result struct {
		res *Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := r.execute(ctx)
		done <- result{res, err}
	}()
	select {
	case <-ran:
		t.Fatal("a PAUSED run scheduled its task")
	case <-time.After(300 * time.Millisecond):
	}
	if st := storedStatus(t, e, r.id); st != StatusPaused {
		t.Fatalf("stored status %s, want PAUSED", st)
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := e.ResumePaused(rctx, r.id); err != nil {
		t.Fatalf("ResumePaused: %v", err)
	}
	select {
	case got := <-done:
		if got.err != nil || got.res.Status != StatusCompleted {
			t.Fatalf("run: %+v %v", got.res, got.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the resumed run did not end")
	}
	select {
	case <-ran:
	default:
		t.Fatal("the worker never ran")
	}
}

func storedStatus(t *testing.T, e *Engine, id string) string {
	t.Helper()
	_, d, _, err := e.loadRunDoc(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return d.Status
}

// TestVariablesUpdatedBeforeTheRunHoldsItsLease: a variables update that
// lands between a run's first write and its execution (UpdateVariables
// finds no process executing it and writes the store) is taken by the run
// when it executes, not overwritten by the variables it held in memory.
func TestVariablesUpdatedBeforeTheRunHoldsItsLease(t *testing.T) {
	ctx := context.Background()
	rs := runstore.NewMemory()
	e, err := New(WithRunStore(rs), WithPollInterval(5*time.Millisecond),
		WithWorker("w", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{"r":"ok"}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.Parse([]byte(`{"name":"vars_early","variables":{"kept":1},"tasks":[{"name":"w","taskReferenceName":"w"}],
	  "outputParameters":{"early":"${workflow.variables.early}","kept":"${workflow.variables.kept}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.newRun(ctx, def, nil, &runConfig{principal: localPrincipal}, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.UpdateVariables(ctx, r.id, json.RawMessage(`{"early":"yes"}`), false); err != nil {
		t.Fatal(err)
	}
	res, err := r.execute(ctx)
	if err != nil || res.Status != StatusCompleted {
		t.Fatalf("run: %+v %v", res, err)
	}
	doc, _, err := rs.Load(ctx, r.id)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Variables map[string]any `json:"variables"`
		Output    map[string]any `json:"output"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	if d.Variables["early"] != "yes" || d.Output["early"] != "yes" || d.Output["kept"] != float64(1) {
		t.Fatalf("variables %v, output %v: the update made before the run executed was lost", d.Variables, d.Output)
	}
}
