package engine_test

import (
	"context"
	"sync"
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
			hs := &heldAfterStore{Store: runstore.NewMemory(), id: "fail-parent", hold: 400 * time.Millisecond}
			first := make(chan struct{})
			e, def, calls := childUnderParent(t, hs, "fail_parent", first)
			child, started := startParent(t, e, def, "fail-parent", calls)
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
			if err := runChildAgain(e, op, child, viewRun(t, e, child).Tasks[0].TaskID); err != nil {
				t.Fatalf("%s of the child: %v", op, err)
			}
			if err := <-started; err != nil {
				t.Fatalf("start: %v", err)
			}
			awaitParentCompleted(t, e, "fail-parent", child, op)
		})
	}
}
