package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// TestSubWorkflowUpdatesOnOneNanosecond: two engines sharing a run store
// store a final update each of one SUB_WORKFLOW task, both keyed on the
// same nanosecond (their wall clocks agree to the nanosecond, or one is
// behind the other's sequence). Each update keeps a key of its own, and
// every reader orders the two alike (by the engines' ids): the first
// final one ends the task, as Conductor's updateTask applies each update
// as it comes, and the other changes nothing. Without the tie-breaker
// the second key was the first's, and its update replaced the first in
// the store.
func TestSubWorkflowUpdatesOnOneNanosecond(t *testing.T) {
	runID := "5b0d7a4e-0000-4000-8000-000000000401"
	gate := &signalGateStore{Store: runstore.NewMemory(), id: runID}
	ring := keyring(t, 9)
	a, b := harnessEngine(t, gate, engine.WithKeyring(ring)), harnessEngine(t, gate, engine.WithKeyring(ring))
	if engine.EngineID(a) > engine.EngineID(b) {
		a, b = b, a // a's key sorts first: b's, alike but for the id, came second
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	sub, child, done := startHeldSub(t, a, ctx, runID)
	gate.setClosed(true)
	seq := time.Now().Add(time.Hour).UnixNano()
	for _, u := range []struct {
		e   *engine.Engine
		got string
	}{{a, "first"}, {b, "second"}} {
		engine.SetUpdateSeq(u.e, seq) // the next key's sequence: seq+1
		if _, err := u.e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: engine.TaskCompleted,
			Output: json.RawMessage(`{"got":"` + u.got + `"}`)}); err != nil {
			t.Fatal(err)
		}
	}
	gate.setClosed(false)
	if res := <-done; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("parent: %+v", res)
	}
	if v := viewRun(t, a, runID); v.Output["got"] != "first" {
		t.Fatalf("parent output %v, want the first update's (got first)", v.Output)
	}
	if _, err := a.CompleteTask(ctx, child, "hold", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := a.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
}
