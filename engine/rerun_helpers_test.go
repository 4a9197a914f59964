package engine_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// newRestoreGate is a restoreGate on a memory store.
func newRestoreGate() *restoreGate {
	return &restoreGate{Store: runstore.NewMemory(), restored: make(chan struct{}), release: make(chan struct{})}
}

// failedRun runs d with input to its failure (with fail set, when given)
// and returns the run's id and its raw tasks.
func failedRun(t *testing.T, e *engine.Engine, d *engine.Definition, input string, fail *atomic.Bool) (string, []map[string]any) {
	t.Helper()
	if fail != nil {
		fail.Store(true)
	}
	res := startRun(t, e, d, input)
	if res.Status != engine.StatusFailed {
		t.Fatalf("first run: %+v", res)
	}
	_, tasks := rawTasks(t, e, res.RunID)
	return res.RunID, tasks
}

// lastRecord is ref's latest record in tasks (nil: none).
func lastRecord(tasks []map[string]any, ref string) map[string]any {
	var rec map[string]any
	for _, tk := range tasks {
		if tk["referenceTaskName"] == ref {
			rec = tk
		}
	}
	return rec
}

// recordsOf is what show says of each of ref's records in tasks.
func recordsOf(tasks []map[string]any, ref string, show func(map[string]any) string) []string {
	var s []string
	for _, tk := range tasks {
		if tk["referenceTaskName"] == ref {
			s = append(s, show(tk))
		}
	}
	return s
}

// rerunAtItsWrite starts e.RerunWith(id, o) on an engine whose store is
// gate and returns the run's status and raw tasks as the rerun's own write
// stored them (the rerun held until they are read), and wait, the rerun's
// end.
func rerunAtItsWrite(t *testing.T, e *engine.Engine, gate *restoreGate, id string, o engine.RerunOptions) (status string, tasks []map[string]any, wait func() (*engine.Result, error)) {
	t.Helper()
	gate.armed.Store(true)
	done := make(chan error, 1)
	var rr *engine.Result
	go func() {
		var err error
		rr, err = e.RerunWith(context.Background(), id, o)
		done <- err
	}()
	select {
	case <-gate.restored:
	case err := <-done:
		t.Fatalf("the rerun returned without its write: %v", err)
	}
	status, tasks = rawTasks(t, e, id)
	close(gate.release)
	return status, tasks, func() (*engine.Result, error) {
		err := <-done
		return rr, err
	}
}
