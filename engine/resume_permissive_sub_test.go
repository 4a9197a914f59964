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

// A run resumed after its permissive SUB_WORKFLOW task failed with no
// retry left keeps that outcome: the replay starts no new attempt and no
// new child (Conductor's decider marked the task executed when the run
// went on past it); the run goes on and fails at its JOIN, as it would
// have without the interruption.
func TestResumeKeepsAFailedPermissiveSubWorkflow(t *testing.T) {
	var calls atomic.Int32
	hold := make(chan struct{})
	shared := runstore.NewMemory()
	ring := keyring(t, 5)
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
	const id = "resume-permissive-sub"
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
	waitFor(t, "a to fail", func() bool {
		a = byRef(viewRun(t, e, id).Tasks)["a"]
		return a.Status == engine.TaskFailed && calls.Load() == 1
	})
	cancel() // the process goes away
	<-done
	e = newEngine()
	done = make(chan *engine.Result, 1)
	go func() {
		res, err := e.Resume(context.Background(), id)
		if err != nil {
			t.Errorf("resume: %v", err)
		}
		done <- res
	}()
	waitFor(t, "the parent to be executed", func() bool { return e.Executes(id) })
	time.Sleep(200 * time.Millisecond)
	close(hold)
	res := ended(t, done)
	wf := viewRun(t, e, id)
	if res == nil || res.Status != engine.StatusFailed || calls.Load() != 1 {
		t.Fatalf("parent: %+v; child's task called %d times; %+v", res, calls.Load(), wf.Tasks)
	}
	checkTasks(t, wf.Tasks, "FORK:COMPLETED", "SUB_WORKFLOW:FAILED", "hold:COMPLETED", "JOIN:FAILED")
	if now := byRef(wf.Tasks)["a"]; now.TaskID != a.TaskID || now.SubWorkflowID != a.SubWorkflowID {
		t.Fatalf("record a after the resume: %+v, was %+v", now, a)
	}
}
