//go:build unix

package engine_test

import (
	"context"
	"os"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// TestKillAtEveryRerunWriteInsideACompletedLoop: the rerun of
// TestRerunInsideACompletedLoopLeavesItCompleted, killed before and after
// each of its writes and resumed by another process: the rerun's note
// names the COMPLETED loop until the rest of its iteration has run, so the
// resumed run runs that rest (never a third iteration) and completes, the
// loop as it was.
func TestKillAtEveryRerunWriteInsideACompletedLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process per persistence point")
	}
	var fail atomic.Bool
	count := &killAtWrite{Store: runstore.NewMemory()}
	e := completedLoopEngine(t, count, &fail, nil)
	id, loop, from := failedCompletedLoop(t, e, &fail)
	count.n.Store(0)
	if r, err := e.RerunWith(context.Background(), id, engine.RerunOptions{FromTaskID: from["taskId"].(string)}); err != nil || r.Status != engine.StatusCompleted {
		t.Fatalf("reference rerun: %v %+v", err, r)
	}
	checkCompletedLoopRerun(t, e, id, loop, from)
	killAtEveryWrite(t, "", int(count.n.Load()), 2, func(t *testing.T, k int, before bool) {
		var fail atomic.Bool
		var id string
		var loop, from map[string]any
		crashInBolt(t, "TestRerunCompletedLoopCrashChild", "WFRUN_RERUN_CLOOP", k, before, func(rs runstore.Store) []string {
			id, loop, from = failedCompletedLoop(t, completedLoopEngine(t, rs, &fail, nil), &fail)
			return []string{"WFRUN_RERUN_CLOOP_RUN=" + id, "WFRUN_RERUN_CLOOP_FROM=" + from["taskId"].(string)}
		}, func(rs runstore.Store) {
			e := completedLoopEngine(t, rs, &fail, nil)
			if resumeKilledRerun(t, e, id, k, before) {
				checkCompletedLoopRerun(t, e, id, loop, from)
			}
		})
	})
}

// TestRerunCompletedLoopCrashChild is the child process (skipped unless
// started by TestKillAtEveryRerunWriteInsideACompletedLoop).
func TestRerunCompletedLoopCrashChild(t *testing.T) {
	store := openKillChild(t, "WFRUN_RERUN_CLOOP", "TestKillAtEveryRerunWriteInsideACompletedLoop")
	var fail atomic.Bool
	e := completedLoopEngine(t, store, &fail, nil)
	_, err := e.RerunWith(context.Background(), os.Getenv("WFRUN_RERUN_CLOOP_RUN"), engine.RerunOptions{FromTaskID: os.Getenv("WFRUN_RERUN_CLOOP_FROM")})
	t.Fatalf("child was not killed (writes made: all): %v", err)
}
