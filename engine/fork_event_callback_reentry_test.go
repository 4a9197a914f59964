package engine_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// The SCHEDULED event of a fork's task that waits is emitted when the
// fork's turn goes around (forkpasses.go, announceLocked), with the ring's
// lock held. A progress callback may read the run and complete that task
// from inside the callback, synchronously (an embedding program answering
// WAIT tasks as they are scheduled): neither needs the ring, so the run
// goes on and ends. The test fails after a bound rather than hanging.
func TestForkEventCallbackMayCompleteTheScheduledTask(t *testing.T) {
	def := `{"name":"cb","tasks":[{"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	  [{"name":"w1","taskReferenceName":"w1","type":"WAIT"}],
	  [{"name":"v1","taskReferenceName":"v1","type":"SET_VARIABLE","inputParameters":{"v1":1}}],
	  [{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","expression":"k","inputParameters":{"k":"a"},
	    "decisionCases":{"a":[{"name":"w2","taskReferenceName":"w2","type":"WAIT"}]}}],
	  [{"name":"v2","taskReferenceName":"v2","type":"SET_VARIABLE","inputParameters":{"v2":1}},
	   {"name":"w3","taskReferenceName":"w3","type":"WAIT"}]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["w1","v1","w2","w3"]}]}`
	for i := range 10 { // the branches' goroutines in any order
		var (
			e         *engine.Engine
			mu        sync.Mutex
			completed = map[string]bool{}
		)
		e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(tasks.NewDefaultRegistry()),
			engine.WithPollInterval(10*time.Millisecond),
			engine.WithEvents(func(ev engine.Event) {
				if ev.Kind != engine.EventTask || ev.Status != engine.TaskScheduled || ev.TaskType != engine.TypeWait {
					return
				}
				if _, err := e.Show(context.Background(), ev.RunID); err != nil {
					t.Errorf("show from the callback: %v", err)
				}
				if _, err := e.CompleteTask(context.Background(), ev.RunID, ev.TaskRef, engine.TaskCompleted, json.RawMessage(`{"by":"callback"}`)); err != nil {
					t.Errorf("complete %s from the callback: %v", ev.TaskRef, err)
					return
				}
				mu.Lock()
				completed[ev.TaskRef] = true
				mu.Unlock()
			}))
		if err != nil {
			t.Fatal(err)
		}
		d, err := e.Parse([]byte(def))
		if err != nil {
			t.Fatal(err)
		}
		type outcome struct {
			res *engine.Result
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			res, err := e.Start(context.Background(), d, nil)
			done <- outcome{res, err}
		}()
		select {
		case o := <-done:
			if o.err != nil || o.res.Status != engine.StatusCompleted {
				t.Fatalf("run %d: %v %+v", i, o.err, o.res)
			}
		case <-time.After(30 * time.Second):
			t.Fatalf("run %d: still running after 30s: a callback that completes its task stalls the fork", i)
		}
		mu.Lock()
		if len(completed) != 3 {
			t.Fatalf("run %d: the callback completed %v, want w1, w2, w3", i, completed)
		}
		mu.Unlock()
	}
}
