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

// heldWriteStore holds the first write of run id that hold matches:
// after storing it (after), when every reader finds it stored, or before.
// held is closed when the hold begins; the write goes on when open is.
type heldWriteStore struct {
	runstore.Store
	id    string
	hold  func(*runstore.Change) bool
	after bool
	once  sync.Once
	held  chan struct{}
	open  chan struct{}
}

func newHeldWriteStore(id string, after bool, hold func(*runstore.Change) bool) *heldWriteStore {
	return &heldWriteStore{Store: runstore.NewMemory(), id: id, hold: hold, after: after, held: make(chan struct{}), open: make(chan struct{})}
}

func (s *heldWriteStore) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	if id != s.id || !s.hold(ch) {
		return s.Store.Commit(ctx, id, ch)
	}
	first := false
	s.once.Do(func() { first = true })
	if !first {
		return s.Store.Commit(ctx, id, ch)
	}
	var err error
	if s.after {
		err = s.Store.Commit(ctx, id, ch)
	}
	close(s.held)
	<-s.open
	if !s.after {
		err = s.Store.Commit(ctx, id, ch)
	}
	return err
}

// writesTask: ch writes a task record with status, or (seq > 0) the
// record at seq.
func writesTask(status string, seq int) func(*runstore.Change) bool {
	return func(ch *runstore.Change) bool {
		for _, tk := range ch.Tasks {
			if (seq == 0 || tk.Seq == seq) && (status == "" || gjson.GetBytes(tk.Doc, "status").String() == status) {
				return true
			}
		}
		return false
	}
}

// awaitHeld waits until hs holds its write, failing with never if it
// does not within 10 s.
func awaitHeld(t *testing.T, hs *heldWriteStore, never string) {
	t.Helper()
	select {
	case <-hs.held:
	case <-time.After(10 * time.Second):
		t.Fatal(never)
	}
}

// childAgainWhileHeld runs child again (op) while hs holds its parent's
// write, lets the write go on once the operation is under way, and waits
// for the operation, then for the parent's Start (started).
func childAgainWhileHeld(t *testing.T, e *engine.Engine, hs *heldWriteStore, op, parent, child string, started <-chan error) {
	t.Helper()
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
}

// retryingParentHeld starts a parent whose SUB_WORKFLOW task is retried
// once, on a store that holds its first write hold matches (after storing
// it, or before), lets the child's task fail, and returns once the write
// is held (failing with never if it is not).
func retryingParentHeld(t *testing.T, after bool, hold func(*runstore.Change) bool, never string) (e *engine.Engine, hs *heldWriteStore, parent, child string, started <-chan error, calls *atomic.Int32) {
	t.Helper()
	parent = fmt.Sprintf("retry-parent-%d", retryWindowRuns.Add(1))
	hs = newHeldWriteStore(parent, after, hold)
	first := make(chan struct{})
	e, def, calls := childUnderParentWith(t, hs, "retry_parent", first, `"retryCount":1,"retryLogic":"FIXED","retryDelaySeconds":0`)
	child, started = startParent(t, e, def, parent, calls)
	close(first)
	awaitHeld(t, hs, never)
	return e, hs, parent, child, started, calls
}

// wantRuns fails unless e's store holds n runs (which: what they are).
func wantRuns(t *testing.T, e *engine.Engine, n int, which string) {
	t.Helper()
	runs, err := e.List(context.Background(), runstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != n {
		t.Errorf("%d runs stored, want %d (%s): %+v", len(runs), n, which, runs)
	}
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
			e, hs, parent, child, started, calls := retryingParentHeld(t, true, writesTask(engine.TaskFailed, 0), "the parent never stored its task FAILED")
			if v := viewRun(t, e, parent); len(v.Tasks) != 1 || v.Tasks[0].Status != engine.TaskFailed {
				t.Fatalf("held parent's tasks %+v, want its one attempt FAILED", v.Tasks)
			}
			childAgainWhileHeld(t, e, hs, op, parent, child, started)
			awaitParentCompleted(t, e, parent, child, op)
			if n := calls.Load(); n != 2 {
				t.Errorf("worker called %d times, want 2 (the child's failed task and its run again)", n)
			}
			wantRuns(t, e, 2, "the parent and its one child")
		})
	}
}

// TestChildRunAgainOnceItsParentRetriesIt: a child run again once its
// parent has decided to retry the attempt that started it (the retry's
// write is under way) is no longer its parent's latest attempt's: the
// operation waits for the retry to be stored, then runs the child alone,
// and the parent completes with its retry's own child. Nothing hangs and
// no child runs twice.
func TestChildRunAgainOnceItsParentRetriesIt(t *testing.T) {
	for _, op := range []string{"rerun", "restart", "retry"} {
		t.Run(op, func(t *testing.T) {
			e, hs, parent, child, started, calls := retryingParentHeld(t, false, writesTask("", 2), "the parent never wrote its retry")
			childAgainWhileHeld(t, e, hs, op, parent, child, started)
			for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
				v := viewRun(t, e, parent)
				if v.Status == engine.StatusCompleted {
					if len(v.Tasks) != 2 || v.Tasks[0].Status != engine.TaskFailed || v.Tasks[0].SubWorkflowID != child ||
						v.Tasks[1].Status != engine.TaskCompleted || v.Tasks[1].SubWorkflowID == child || v.Tasks[1].SubWorkflowID == "" {
						t.Fatalf("parent's tasks %+v, want its first attempt FAILED with child %s and its retry COMPLETED with another", v.Tasks, child)
					}
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("parent %s after its child's %s", v.Status, op)
				}
			}
			if v := viewRun(t, e, child); v.Status != engine.StatusCompleted {
				t.Errorf("child %s after its %s, want COMPLETED", v.Status, op)
			}
			if n := calls.Load(); n != 3 {
				t.Errorf("worker called %d times, want 3 (the first child's task twice, the retry's child's once)", n)
			}
			wantRuns(t, e, 3, "the parent and its two children")
		})
	}
}
