package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
)

// TestOperationWaitsForEndingExecution: a run's terminal status is stored
// (and shown) while the goroutine that executed it still holds it (ending
// its children, archiving). A retry, restart or rerun sent as soon as a
// client sees the status waits for that execution to let go and then
// runs, as Conductor accepts it at once; before, it was refused as "being
// executed by another process: pid <this pid> (heartbeat 1970-01-01…)".
// An operation on a run this process is still running is refused naming
// this process, never another one, and with no zero times.
func TestOperationWaitsForEndingExecution(t *testing.T) {
	ctx := context.Background()
	e, err := New(WithRunStore(runstore.NewMemory()))
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.Parse([]byte(`{"name":"ends_failed","tasks":[
	  {"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":{"terminationStatus":"FAILED"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	const hold = 150 * time.Millisecond
	for _, tc := range []struct {
		name string
		op   func(id, taskID string) (*Result, error)
	}{
		{"retry", func(id, _ string) (*Result, error) { return e.Retry(ctx, id, false) }},
		{"restart", func(id, _ string) (*Result, error) { return e.Restart(ctx, id, true) }},
		{"rerun from start", func(id, _ string) (*Result, error) { return e.RerunWith(ctx, id, RerunOptions{}) }},
		{"rerun from task", func(id, taskID string) (*Result, error) {
			return e.RerunWith(ctx, id, RerunOptions{FromTaskID: taskID})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "ending-" + strings.ReplaceAll(tc.name, " ", "-")
			res, err := e.Start(ctx, def, nil, WithRunID(id))
			if err != nil || res.Status != StatusFailed {
				t.Fatalf("start: %v %v", res, err)
			}
			taskID := ""
			if v, err := e.load(ctx, id, true, nil); err == nil {
				taskID = v.lookup("t").TaskID
			}
			// Its execution, still letting go of the run it ended.
			ending := &runState{id: id, e: e}
			ending.doc.Status = StatusFailed
			if !e.setActive(ending, true) {
				t.Fatal("the run is active")
			}
			letGo := time.AfterFunc(hold, func() { e.setActive(ending, false) })
			defer letGo.Stop()
			t0 := time.Now()
			res, err = tc.op(id, taskID)
			if err != nil {
				t.Fatalf("%s right after the run showed FAILED: %v", tc.name, err)
			}
			if waited := time.Since(t0); waited < hold/2 {
				t.Errorf("%s ran after %s, while the ending execution still held the run", tc.name, waited)
			}
			if res.Status != StatusFailed {
				t.Errorf("%s: status %s, want FAILED (the TERMINATE again)", tc.name, res.Status)
			}
		})
	}

	t.Run("running here", func(t *testing.T) {
		const id = "running-here"
		if _, err := e.Start(ctx, def, nil, WithRunID(id)); err != nil {
			t.Fatal(err)
		}
		running := &runState{id: id, e: e}
		running.doc.Status = StatusRunning
		if !e.setActive(running, true) {
			t.Fatal("the run is active")
		}
		defer e.setActive(running, false)
		t0 := time.Now()
		_, err := e.Resume(ctx, id)
		if !errors.Is(err, runstore.ErrLeased) {
			t.Fatalf("resume of a run executed here: %v, want runstore.ErrLeased", err)
		}
		if time.Since(t0) > time.Second {
			t.Errorf("resume of a run running here waited %s before it was refused", time.Since(t0))
		}
		msg := err.Error()
		if !strings.Contains(msg, "this process") || strings.Contains(msg, "another process") || strings.Contains(msg, "1970") {
			t.Errorf("refusal: %q: want it to name this process, with no zero times", msg)
		}
	})
}
