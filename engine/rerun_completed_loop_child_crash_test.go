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

// TestKillAtEveryRerunWriteOfAChildInsideACompletedLoop: the rerun of
// TestRerunFromAChildTaskInsideACompletedLoop (named by the parent's id),
// killed before and after each of its writes and resumed by another
// process from the parent: the parent's write holds, sealed in its rerun
// note, the COMPLETED loop whose iteration is gone through again, so the
// resumed parent reaches its re-opened SUB_WORKFLOW task, runs the child
// (or takes its end, when the child's write was not made) and completes,
// every record of it as it was.
func TestKillAtEveryRerunWriteOfAChildInsideACompletedLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process per persistence point")
	}
	var fail atomic.Bool
	count := &killAtWrite{Store: runstore.NewMemory()}
	e := loopKindsEngine(t, count, &fail, nil)
	id, before, ca := completedLoopParent(t, e)
	count.n.Store(0)
	if r, err := e.RerunWith(context.Background(), id, engine.RerunOptions{FromTaskID: ca["taskId"].(string)}); err != nil || r.Status != engine.StatusCompleted {
		t.Fatalf("reference rerun: %v %+v", err, r)
	}
	checkChildRerunUnderLoop(t, e, id, before, ca)
	killAtEveryWrite(t, "", int(count.n.Load()), 3, func(t *testing.T, k int, killBefore bool) {
		var fail atomic.Bool
		var id string
		var before []map[string]any
		var ca map[string]any
		crashInBolt(t, "TestRerunCompletedLoopChildCrashChild", "WFRUN_RERUN_CLCH", k, killBefore, func(rs runstore.Store) []string {
			id, before, ca = completedLoopParent(t, loopKindsEngine(t, rs, &fail, nil))
			return []string{"WFRUN_RERUN_CLCH_RUN=" + id, "WFRUN_RERUN_CLCH_FROM=" + ca["taskId"].(string)}
		}, func(rs runstore.Store) {
			e := loopKindsEngine(t, rs, &fail, nil)
			if resumeKilledRerun(t, e, id, k, killBefore) {
				checkChildRerunUnderLoop(t, e, id, before, ca)
			}
		})
	})
}

// TestRerunCompletedLoopChildCrashChild is the child process (skipped
// unless started by
// TestKillAtEveryRerunWriteOfAChildInsideACompletedLoop).
func TestRerunCompletedLoopChildCrashChild(t *testing.T) {
	store := openKillChild(t, "WFRUN_RERUN_CLCH", "TestKillAtEveryRerunWriteOfAChildInsideACompletedLoop")
	var fail atomic.Bool
	e := loopKindsEngine(t, store, &fail, nil)
	_, err := e.RerunWith(context.Background(), os.Getenv("WFRUN_RERUN_CLCH_RUN"), engine.RerunOptions{FromTaskID: os.Getenv("WFRUN_RERUN_CLCH_FROM")})
	t.Fatalf("child was not killed (writes made: all): %v", err)
}
