package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// heldAfterStore stores run id's writes, and once armed holds the first
// one after storing it, for hold: its executor has not gone on from it yet
// while every reader finds it stored.
type heldAfterStore struct {
	runstore.Store
	id    string
	hold  time.Duration
	mu    sync.Mutex
	armed bool
}

func (s *heldAfterStore) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	err := s.Store.Commit(ctx, id, ch)
	s.mu.Lock()
	hold := s.armed && id == s.id
	if hold {
		s.armed = false
	}
	s.mu.Unlock()
	if hold {
		time.Sleep(s.hold)
	}
	return err
}

// TestChildRunAgainWhileItsParentFailsOnIt: a child that ended FAILED runs
// again (rerun, restart, retry) just after its parent stored that end,
// while the parent's execution has not yet ended its task list on it. The
// parent takes the re-open of its SUB_WORKFLOW task (its stored record is
// an ended one to re-open): its failure on that task is superseded, and
// the parent completes with its child, as Conductor's updateAndPushParents
// has it. It used to end FAILED anyway, cancelling the re-opened task and
// terminating the child that ran again.
func TestChildRunAgainWhileItsParentFailsOnIt(t *testing.T) {
	for _, op := range []string{"rerun", "restart", "retry"} {
		t.Run(op, func(t *testing.T) {
			ctx := context.Background()
			hs := &heldAfterStore{Store: runstore.NewMemory(), id: "fail-parent", hold: 400 * time.Millisecond}
			var calls atomic.Int32
			first := make(chan struct{})
			e, err := engine.New(engine.WithRunStore(hs), engine.WithWorker("w", func(context.Context, json.RawMessage) (json.RawMessage, error) {
				if calls.Add(1) == 1 {
					<-first
					return nil, errors.New("failed by the test")
				}
				return json.RawMessage(`{"ok":true}`), nil
			}))
			if err != nil {
				t.Fatal(err)
			}
			def, err := e.Parse([]byte(`{"name":"fail_parent","tasks":[
			  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"fail_child","workflowDefinition":
			    {"name":"fail_child","tasks":[{"name":"w","taskReferenceName":"w","retryCount":0}]}}}]}`))
			if err != nil {
				t.Fatal(err)
			}
			started := make(chan error, 1)
			go func() {
				_, err := e.Start(ctx, def, nil, engine.WithRunID("fail-parent"))
				started <- err
			}()
			var child string
			for deadline := time.Now().Add(10 * time.Second); child == "" || calls.Load() == 0; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the child's task never started")
				}
				if b, err := e.Show(ctx, "fail-parent"); err == nil {
					var v runView
					_ = json.Unmarshal(b, &v)
					if len(v.Tasks) == 1 {
						child = v.Tasks[0].SubWorkflowID
					}
				}
			}
			// The parent's next write (its task FAILED with the child's end)
			// is held once stored.
			hs.mu.Lock()
			hs.armed = true
			hs.mu.Unlock()
			close(first)
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("the parent never stored its task FAILED")
				}
				if v := viewRun(t, e, "fail-parent"); len(v.Tasks) == 1 && v.Tasks[0].Status == engine.TaskFailed {
					break
				}
			}
			taskID := viewRun(t, e, child).Tasks[0].TaskID
			switch op {
			case "rerun":
				_, err = e.RerunWith(ctx, child, engine.RerunOptions{FromTaskID: taskID})
			case "restart":
				_, err = e.Restart(ctx, child, false)
			case "retry":
				_, err = e.Retry(ctx, child, false)
			}
			if err != nil {
				t.Fatalf("%s of the child: %v", op, err)
			}
			if err := <-started; err != nil {
				t.Fatalf("start: %v", err)
			}
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				v := viewRun(t, e, "fail-parent")
				if v.Status == engine.StatusCompleted {
					if len(v.Tasks) != 1 || v.Tasks[0].SubWorkflowID != child || v.Tasks[0].Status != engine.TaskCompleted {
						t.Fatalf("parent's tasks %+v, want its SUB_WORKFLOW COMPLETED with child %s", v.Tasks, child)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("parent %s after its child's %s (child %s)", v.Status, op, viewRun(t, e, child).Status)
				}
			}
		})
	}
}
