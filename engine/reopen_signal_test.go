package engine_test

import (
	"context"
	"encoding/json"
	"strings"
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
// parent PAUSED, and the child does not run again — sealed as a process
// sharing the run store writes it, or not.
func TestStaleReopenSignalIsNotTaken(t *testing.T) {
	type payload func(e *engine.Engine, runID, taskID, child string) []byte
	sealed := func(child func(string) string) payload {
		return func(e *engine.Engine, runID, taskID, c string) []byte {
			b, err := engine.ReopenSignal(e, runID, taskID, child(c))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	plain := func(child func(string) string) payload {
		return func(_ *engine.Engine, _, taskID, c string) []byte {
			return []byte(`{"status":"REOPEN","taskId":"` + taskID + `","child":"` + child(c) + `"}`)
		}
	}
	none := func(string) string { return "" }
	same := func(c string) string { return c }
	another := func(string) string { return "another-child" }
	cases := []struct {
		name    string
		payload payload
	}{
		{"without its child", sealed(none)},
		{"its child ended", sealed(same)},
		{"another child", sealed(another)},
		{"without its child, not sealed", plain(none)},
		{"its child ended, not sealed", plain(same)},
		{"another child, not sealed", plain(another)},
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
			if err := shared.PutSignal(ctx, id, "__wfrun_reopen "+sub.TaskID, c.payload(e, id, sub.TaskID, sub.SubWorkflowID)); err != nil {
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

// The run store is not trusted: a re-open signal counts only when it opens
// as the order a process holding the store's keyring sealed for this run
// and this record. Here a restart in another process stored the child
// RUNNING but never delivered its re-open, and the parent is PAUSED: a
// signal in clear, one sealed for another run, under another record's key
// or with another keyring leaves the parent PAUSED and its record
// COMPLETED; the sealed one re-opens the record, and the parent completes
// with the child's new output.
func TestForgedReopenSignalIsNotTaken(t *testing.T) {
	shared := runstore.NewMemory()
	ring := keyring(t, 7)
	g := newGate(false)
	hold := make(chan struct{})
	held := make(chan struct{}, 1)
	a := harnessEngine(t, shared, engine.WithKeyring(ring),
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
	b := harnessEngine(t, signalsFail{shared}, engine.WithKeyring(ring))
	stranger := harnessEngine(t, runstore.NewMemory(), engine.WithKeyring(keyring(t, 8)))
	const id = "forged-signal"
	done := startHeld(t, a, `{"name":"executing_parent","version":1,"schemaVersion":2,"tasks":[
	 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"gated_child","workflowDefinition":`+childWithGate+`}},
	 {"name":"hold","taskReferenceName":"hold"}],
	 "outputParameters":{"call":"${sub.output.call}"}}`, id)
	<-held
	ctx := context.Background()
	if err := a.Pause(ctx, id); err != nil {
		t.Fatal(err)
	}
	sub := viewRun(t, a, id).Tasks[0]
	if _, err := b.Restart(ctx, sub.SubWorkflowID, true); err == nil || !strings.Contains(err.Error(), "went away") {
		t.Fatalf("the restart delivered its re-open: %v", err)
	}
	if c := viewRun(t, a, sub.SubWorkflowID); c.Status != engine.StatusRunning {
		t.Fatalf("child after the restart: %s", c.Status)
	}
	key := "__wfrun_reopen " + sub.TaskID
	sealedFor := func(e *engine.Engine, runID, taskID string) []byte {
		p, err := engine.ReopenSignal(e, runID, taskID, sub.SubWorkflowID)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	clear := `"taskId":"` + sub.TaskID + `","child":"` + sub.SubWorkflowID + `"`
	forged := []struct{ key, payload string }{
		{key, `{"status":"REOPEN",` + clear + `}`},
		{key, `{"status":"REOPEN","output":{` + clear + `}}`},
		{key, string(sealedFor(a, "another-run", sub.TaskID))},
		{key, string(sealedFor(stranger, id, sub.TaskID))},
		{"__wfrun_reopen another-task", string(sealedFor(a, id, sub.TaskID))},
	}
	for _, f := range forged {
		if err := shared.PutSignal(ctx, id, f.key, []byte(f.payload)); err != nil {
			t.Fatal(err)
		}
		a.SignalStored(id)
		// The lease keeper takes signals when poked, and at least once a
		// second.
		time.Sleep(1100 * time.Millisecond)
		if wf := viewRun(t, a, id); wf.Status != engine.StatusPaused || wf.Tasks[0].Status != engine.TaskCompleted {
			t.Fatalf("after the signal %s: %s %+v", f.payload, wf.Status, wf.Tasks)
		}
	}
	if n := g.count(); n != 1 {
		t.Fatalf("the child's task ran %d times", n)
	}
	if err := shared.PutSignal(ctx, id, key, sealedFor(a, id, sub.TaskID)); err != nil {
		t.Fatal(err)
	}
	a.SignalStored(id)
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the sealed signal was not taken")
	}
	if wf := viewRun(t, a, id); wf.Status != engine.StatusRunning || wf.Tasks[0].TaskID != sub.TaskID || wf.Tasks[0].Status != engine.TaskInProgress {
		t.Fatalf("after the sealed signal: %s %+v", wf.Status, wf.Tasks)
	}
	close(g.release)
	close(hold)
	if res := ended(t, done); res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("parent: %+v", res)
	}
	if wf := viewRun(t, a, id); wf.Output["call"] != float64(2) || wf.Tasks[0].TaskID != sub.TaskID {
		t.Fatalf("parent at the end: %v %+v", wf.Output, wf.Tasks)
	}
}
