package engine

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine/runstore"
)

// TestReportedWritesWaitForAnOpenDecision: while a fork's decision is open
// the run's own writes are made when it closes, but a write whose outcome
// is reported outside the run — a variables update's answer, a pause's —
// waits for the close and is made before it is answered. Before, the
// update was answered with nothing stored (a crash then lost it).
func TestReportedWritesWaitForAnOpenDecision(t *testing.T) {
	ctx := context.Background()
	rs := runstore.NewMemory()
	e, err := New(WithRunStore(rs), WithPollInterval(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.Parse([]byte(`{"name":"held","tasks":[{"name":"w","taskReferenceName":"w","type":"WAIT"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	go func() { _, _ = e.Start(ctx, def, nil, WithRunID("held-1")) }()
	var r *runState
	for deadline := time.Now().Add(10 * time.Second); r == nil || r.lookup("w") == nil; time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the run never waited")
		}
		r = e.activeRun("held-1")
	}
	stored := func(path string) gjson.Result {
		doc, _, err := rs.Load(ctx, "held-1")
		if err != nil {
			t.Fatal(err)
		}
		return gjson.GetBytes(doc, path)
	}

	r.mu.Lock()
	r.openDecisionLocked(&taskRecord{})
	r.mu.Unlock()
	// The run's own write: deferred, answered at once.
	r.mu.Lock()
	r.doc.ReasonForIncompletion = "own write"
	r.mu.Unlock()
	if err := r.save(ctx); err != nil {
		t.Fatal(err)
	}
	updated := make(chan error, 1)
	go func() { updated <- e.UpdateVariables(ctx, "held-1", json.RawMessage(`{"acked":true}`), false) }()
	select {
	case err := <-updated:
		t.Fatalf("the update was answered (%v) while the decision was open; stored variables %s", err, stored("variables").Raw)
	case <-time.After(150 * time.Millisecond):
	}
	if stored("variables.acked").Exists() || stored("reasonForIncompletion").String() == "own write" {
		t.Fatal("written while the decision was open")
	}
	if err := r.closeDecision(ctx); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-updated:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the update did not return once the decision closed")
	}
	if !stored("variables.acked").Bool() {
		t.Fatalf("the update was answered but not stored: %s", stored("variables").Raw)
	}

	// A reported write gives up, with an error, when the decision stays
	// open beyond its deadline.
	r.mu.Lock()
	r.openDecisionLocked(&taskRecord{})
	r.mu.Unlock()
	err = r.write(withReportedWrite(ctx), 50*time.Millisecond, nil)
	if err == nil {
		t.Fatal("a reported write returned nil with the decision still open")
	}
	if err := r.closeDecision(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.Terminate(ctx, "held-1", "done"); err != nil {
		t.Fatal(err)
	}
}
