package engine_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"
	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// heldFailedStore stores run id's writes and holds, after storing it, the
// first one that writes a task record FAILED: the run's executor has not
// gone on from it (to the task's retry) while every reader finds it stored.
// held is closed when the hold begins; the write goes on when open is.
type heldFailedStore struct {
	runstore.Store
	id   string
	once sync.Once
	held chan struct{}
	open chan struct{}
}

func (s *heldFailedStore) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	err := s.Store.Commit(ctx, id, ch)
	if id != s.id || err != nil {
		return err
	}
	for _, tk := range ch.Tasks {
		if gjson.GetBytes(tk.Doc, "status").String() == engine.TaskFailed {
			first := false
			s.once.Do(func() { first = true; close(s.held) })
			if first {
				<-s.open
			}
			break
		}
	}
	return err
}

// retryWindowRuns names each sub-run's parent apart: a child's id derives
// from its parent's, and one process runs them all under -count.
var retryWindowRuns atomic.Int32

// TestChildRunAgainWhileItsParentRetriesIt: a SUB_WORKFLOW task that may
// be retried stores its attempt FAILED with its child's end before it
// writes the retry. A child run again (rerun, restart, retry) in between
// re-opens that attempt: the re-open stands, the parent writes no retry
// (no second child, the worker runs once more only) and completes with its
// child. The operation returns once the child has ended, whoever executes
// it. It used to retry anyway: the task's retry loop took the re-opened
// attempt for one to run on and executed its child beside the re-open's
// execution, so the parent's Start failed ("run … is being executed by
// this process") or the operation waited for ever on a child nobody ran.
func TestChildRunAgainWhileItsParentRetriesIt(t *testing.T) {
	for _, op := range []string{"rerun", "restart", "retry"} {
		t.Run(op, func(t *testing.T) {
			parent := fmt.Sprintf("retry-parent-%d", retryWindowRuns.Add(1))
			hs := &heldFailedStore{Store: runstore.NewMemory(), id: parent, held: make(chan struct{}), open: make(chan struct{})}
			first := make(chan struct{})
			e, def, calls := childUnderParentWith(t, hs, "retry_parent", first, `"retryCount":1,"retryLogic":"FIXED","retryDelaySeconds":0`)
			child, started := startParent(t, e, def, parent, calls)
			close(first)
			select {
			case <-hs.held:
			case <-time.After(10 * time.Second):
				t.Fatal("the parent never stored its task FAILED")
			}
			if v := viewRun(t, e, parent); len(v.Tasks) != 1 || v.Tasks[0].Status != engine.TaskFailed {
				t.Fatalf("held parent's tasks %+v, want its one attempt FAILED", v.Tasks)
			}
			done := make(chan error, 1)
			go func() { done <- runChildAgain(e, op, child, viewRun(t, e, child).Tasks[0].TaskID) }()
			time.Sleep(100 * time.Millisecond) // the operation is under way
			close(hs.open)
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("%s of the child: %v", op, err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("%s of the child never returned (parent %s, child %s)", op, viewRun(t, e, parent).Status, viewRun(t, e, child).Status)
			}
			if err := <-started; err != nil {
				t.Fatalf("start: %v", err)
			}
			awaitParentCompleted(t, e, parent, child, op)
			if n := calls.Load(); n != 2 {
				t.Errorf("worker called %d times, want 2 (the child's failed task and its run again)", n)
			}
			runs, err := e.List(context.Background(), runstore.ListOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if len(runs) != 2 {
				t.Errorf("%d runs stored, want 2 (the parent and its one child): %+v", len(runs), runs)
			}
		})
	}
}
