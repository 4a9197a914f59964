package engine_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// A re-open signal names the SUB_WORKFLOW record and the child it started,
// and is taken only while that child is stored RUNNING: a stale signal (a
// re-open that fell back to another way), one without its child or one
// naming another child leaves a COMPLETED record COMPLETED and a PAUSED
// parent PAUSED, and the child does not run again.
func TestStaleReopenSignalIsNotTaken(t *testing.T) {
	cases := []struct {
		name    string
		payload func(taskID, child string) string
	}{
		{"without its child", func(taskID, _ string) string {
			return `{"status":"REOPEN","taskId":"` + taskID + `"}`
		}},
		{"its child ended", func(taskID, child string) string {
			return `{"status":"REOPEN","taskId":"` + taskID + `","child":"` + child + `"}`
		}},
		{"another child", func(taskID, _ string) string {
			return `{"status":"REOPEN","taskId":"` + taskID + `","child":"another-child"}`
		}},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			shared := runstore.NewMemory()
			g := newGate(false)
			hold := make(chan struct{})
			held := make(chan struct{}, 1)
			e := harnessEngine(t, shared,
				engine.WithWorker("gated", g.worker),
				engine.WithWorker("hold", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
					held <- struct{}{}
					select {
					case <-hold:
						return json.RawMessage(`{"held":true}`), nil
					case <-c.Done():
						return nil, c.Err()
					}
				}))
			id := "stale-signal-" + string(rune('a'+i))
			done := startHeld(t, e, `{"name":"executing_parent","version":1,"schemaVersion":2,"tasks":[
			 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"gated_child","workflowDefinition":`+childWithGate+`}},
			 {"name":"hold","taskReferenceName":"hold"}]}`, id)
			<-held
			sub := viewRun(t, e, id).Tasks[0]
			if sub.Status != engine.TaskCompleted || sub.SubWorkflowID == "" {
				t.Fatalf("parent's tasks %+v", viewRun(t, e, id).Tasks)
			}
			ctx := context.Background()
			if err := e.Pause(ctx, id); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the parent to pause", func() bool { return viewRun(t, e, id).Status == engine.StatusPaused })
			if err := shared.PutSignal(ctx, id, "__wfrun_reopen "+sub.TaskID, []byte(c.payload(sub.TaskID, sub.SubWorkflowID))); err != nil {
				t.Fatal(err)
			}
			e.SignalStored(id)
			// The lease keeper takes signals when poked, and at least once
			// a second.
			time.Sleep(1500 * time.Millisecond)
			wf := viewRun(t, e, id)
			if wf.Status != engine.StatusPaused || wf.Tasks[0].Status != engine.TaskCompleted {
				t.Fatalf("after the signal: %s %+v", wf.Status, wf.Tasks)
			}
			if n := g.count(); n != 1 {
				t.Fatalf("the child's task ran %d times", n)
			}
			if err := e.ResumePaused(ctx, id); err != nil {
				t.Fatal(err)
			}
			close(hold)
			if res := ended(t, done); res == nil || res.Status != engine.StatusCompleted {
				t.Fatalf("parent: %+v", res)
			}
		})
	}
}

// loadCounter counts the Loads of each run.
type loadCounter struct {
	runstore.Store
	mu    sync.Mutex
	loads map[string]int
}

func (s *loadCounter) Load(ctx context.Context, id string) ([]byte, bool, error) {
	s.mu.Lock()
	s.loads[id]++
	s.mu.Unlock()
	return s.Store.Load(ctx, id)
}

func (s *loadCounter) Summary(ctx context.Context, id string) (runstore.Summary, error) {
	return s.Store.(runstore.SummaryReader).Summary(ctx, id)
}

func (s *loadCounter) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.loads[id]
}

// A restart whose child the parent's executor runs waits for the child's
// end reading its status, not its whole document at every look.
func TestRestartAwaitsTheChildByItsStatus(t *testing.T) {
	st := &loadCounter{Store: runstore.NewMemory(), loads: map[string]int{}}
	g := newGate(false)
	hold := make(chan struct{})
	held := make(chan struct{}, 1)
	e := harnessEngine(t, st,
		engine.WithWorker("gated", g.worker),
		engine.WithWorker("hold", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
			held <- struct{}{}
			select {
			case <-hold:
				return json.RawMessage(`{"held":true}`), nil
			case <-c.Done():
				return nil, c.Err()
			}
		}))
	done := startHeld(t, e, `{"name":"executing_parent","version":1,"schemaVersion":2,"tasks":[
	 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"gated_child","workflowDefinition":`+childWithGate+`}},
	 {"name":"hold","taskReferenceName":"hold"}]}`, "awaiting-parent")
	<-held
	sub := viewRun(t, e, "awaiting-parent").Tasks[0]
	restarted := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Restart(context.Background(), sub.SubWorkflowID, true)
		if err != nil {
			t.Errorf("restart: %v", err)
		}
		restarted <- res
	}()
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the child's task never ran again")
	}
	before := st.count(sub.SubWorkflowID)
	time.Sleep(500 * time.Millisecond) // the restart awaits the child meanwhile
	during := st.count(sub.SubWorkflowID) - before
	close(g.release)
	if res := <-restarted; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("child: %+v", res)
	}
	close(hold)
	if res := ended(t, done); res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("parent: %+v", res)
	}
	if during > 3 {
		t.Fatalf("the child's document was loaded %d times in 500 ms of waiting", during)
	}
}
