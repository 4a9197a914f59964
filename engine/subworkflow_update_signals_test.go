package engine_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// takeCountingStore counts TakeSignals calls for run id.
type takeCountingStore struct {
	runstore.Store
	id string
	n  atomic.Int64
}

func (s *takeCountingStore) TakeSignals(ctx context.Context, id string) (map[string][]byte, error) {
	if id == s.id {
		s.n.Add(1)
	}
	return s.Store.TakeSignals(ctx, id)
}

// subForkDef: a FORK of two SUB_WORKFLOW tasks whose children each WAIT
// 3 seconds.
const subForkDef = `{"name":"sub_fork_wait","version":1,"schemaVersion":2,"tasks":[
 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
  [{"name":"a","taskReferenceName":"a","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"slow_child","workflowDefinition":{"name":"slow_child","version":1,"schemaVersion":2,
    "tasks":[{"name":"w","taskReferenceName":"w","type":"WAIT","inputParameters":{"duration":"3 seconds"}}]}}}],
  [{"name":"b","taskReferenceName":"b","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"slow_child","workflowDefinition":{"name":"slow_child","version":1,"schemaVersion":2,
    "tasks":[{"name":"w","taskReferenceName":"w","type":"WAIT","inputParameters":{"duration":"3 seconds"}}]}}}]]},
 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","b"]}],
 "outputParameters":{"got":"${a.output.got}"}}`

// TestSubWorkflowTaskUpdateNoStorePolling: while SUB_WORKFLOW tasks wait
// for their children, their parent does not ask the run store for its
// signals at every poll interval (a read-and-delete on Redis or bolt): the
// run's lease keeper takes them, about once a second and at once when an
// update is stored, and wakes every SUB_WORKFLOW task waiting (both fork
// branches here). The update of one branch is still taken while the other
// branch's child runs on.
func TestSubWorkflowTaskUpdateNoStorePolling(t *testing.T) {
	const runID = "5b0d7a4e-0000-4000-8000-00000000fa11"
	store := &takeCountingStore{Store: runstore.NewMemory(), id: runID}
	e := harnessEngine(t, store, engine.WithPollInterval(10*time.Millisecond))
	d, err := e.Parse([]byte(subForkDef))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(runID))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	// Both SUB_WORKFLOW tasks IN_PROGRESS with their children.
	subs := map[string]taskView{}
	for deadline := time.Now().Add(10 * time.Second); len(subs) < 2; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no two SUB_WORKFLOW tasks IN_PROGRESS: %+v", viewRun(t, e, runID))
		}
		b, err := e.Show(ctx, runID)
		if err != nil {
			continue
		}
		var v runView
		_ = json.Unmarshal(b, &v)
		for _, tk := range v.Tasks {
			if tk.TaskType == engine.TypeSubWorkflow && tk.Status == engine.TaskInProgress && tk.SubWorkflowID != "" {
				subs[tk.Ref] = tk
			}
		}
	}
	before := store.n.Load()
	time.Sleep(time.Second)
	if n := store.n.Load() - before; n > 5 {
		t.Errorf("%d TakeSignals calls for the parent in 1 s while its SUB_WORKFLOW tasks waited, want a few (its lease keeper's)", n)
	}
	if _, err := e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: subs["a"].TaskID, Status: engine.TaskCompleted,
		Output: json.RawMessage(`{"got":"from the update"}`)}); err != nil {
		t.Fatal(err)
	}
	// Taken while b's child still waits.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		v := viewRun(t, e, runID)
		st := map[string]string{}
		for _, tk := range v.Tasks {
			st[tk.Ref] = tk.Status
		}
		if st["a"] == engine.TaskCompleted {
			if st["b"] != engine.TaskInProgress {
				t.Errorf("b is %s when a's update was taken, want IN_PROGRESS", st["b"])
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the update of a was not taken: %+v", v)
		}
	}
	res := <-done
	if res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("parent: %+v, want COMPLETED", res)
	}
	if v := viewRun(t, e, runID); v.Output["got"] != "from the update" {
		t.Errorf("parent output %v, want a's update's", v.Output)
	}
	if err := e.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
}
