package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

const replayParentDef = `{"name":"replay_parent","version":1,"schemaVersion":2,"tasks":[
 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
  [{"name":"a","taskReferenceName":"a","type":"SUB_WORKFLOW","retryCount":0,"permissive":true,"subWorkflowParam":{"name":"ca","workflowDefinition":
    {"name":"ca","version":1,"schemaVersion":2,"tasks":[{"name":"w_a","taskReferenceName":"w","retryCount":0}]}}}],
  [{"name":"hold","taskReferenceName":"hold"}]]},
 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","hold"]}]}`

// A re-open signal is sealed for the run and the record, and also for the
// record's re-open generation: one captured from the store and put back
// after a later re-open of the record re-opens nothing, even while the
// child it names is stored RUNNING and executed by no process (as a
// restart whose process died before it handed the re-open over leaves
// it). A signal of the generation stored now is taken.
func TestReplayedReopenSignalOfAnEarlierGenerationIsNotTaken(t *testing.T) {
	replayedReopenSignal(t)
}

func replayedReopenSignal(t *testing.T) {
	var calls atomic.Int32
	hold := make(chan struct{})
	shared := runstore.NewMemory()
	ring := keyring(t, 7) // processes sharing a run store share its keyring
	newEngine := func() *engine.Engine {
		return harnessEngine(t, shared, engine.WithKeyring(ring),
			engine.WithWorker("w_a", func(context.Context, json.RawMessage) (json.RawMessage, error) {
				calls.Add(1)
				return nil, errors.New("w_a failed")
			}),
			engine.WithWorker("hold", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
				select {
				case <-hold:
					return json.RawMessage(`{"held":true}`), nil
				case <-c.Done():
					return nil, c.Err()
				}
			}))
	}
	e := newEngine()
	d, err := e.Parse([]byte(replayParentDef))
	if err != nil {
		t.Fatal(err)
	}
	const id = "replayed-signal"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(id))
		if err != nil && !errors.Is(err, engine.ErrInterrupted) {
			t.Errorf("parent: %v", err)
		}
		done <- res
	}()
	waitFor(t, "the parent to be stored", func() bool {
		_, _, err := shared.Load(context.Background(), id)
		return err == nil
	})
	var a taskView
	failed := func(n int32) func() bool {
		return func() bool {
			a = byRef(viewRun(t, e, id).Tasks)["a"]
			return a.Status == engine.TaskFailed && calls.Load() == n
		}
	}
	waitFor(t, "a to fail", failed(1))
	// The signal a process handing a re-open over writes now.
	old, err := engine.ReopenSignal(e, id, a.TaskID, a.SubWorkflowID)
	if err != nil {
		t.Fatal(err)
	}
	// A legitimate re-open: the child is retried, fails again.
	if res, err := e.Retry(context.Background(), a.SubWorkflowID, false); err != nil || res.Status != engine.StatusFailed {
		t.Fatalf("retry of child a: %+v %v", res, err)
	}
	waitFor(t, "a to fail again", failed(2))
	put := func(payload []byte) {
		t.Helper()
		if err := shared.PutSignal(context.Background(), id, "__wfrun_reopen "+a.TaskID, payload); err != nil {
			t.Fatal(err)
		}
		e.SignalStored(id)
	}
	// The child stored RUNNING again and free; the old signal put back.
	if err := engine.RestartInPlace(e, a.SubWorkflowID); err != nil {
		t.Fatal(err)
	}
	put(old)
	time.Sleep(1100 * time.Millisecond) // the lease keeper's look, poked or not
	if now := byRef(viewRun(t, e, id).Tasks)["a"]; now.Status != engine.TaskFailed || calls.Load() != 2 {
		t.Fatalf("after the replayed signal: record %+v, child's task called %d times", now, calls.Load())
	}
	// The current generation's signal is taken: the record is re-opened
	// and the child runs (and fails) once more.
	cur, err := engine.ReopenSignal(e, id, a.TaskID, a.SubWorkflowID)
	if err != nil {
		t.Fatal(err)
	}
	put(cur)
	waitFor(t, "the current signal's re-open", failed(3))
	close(hold)
	if res := ended(t, done); res == nil || res.Status != engine.StatusFailed {
		t.Fatalf("parent: %+v", res)
	}
}
