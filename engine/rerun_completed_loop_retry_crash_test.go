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

// TestKillAtEveryRetryWriteAfterARerunFailedInsideACompletedLoop: the
// retry of TestRetryAfterARerunFailedInsideACompletedLoop, killed before
// and after each of its writes and resumed by another process: the retry's
// write notes the COMPLETED loop holding the failed b__2 (sealed), so the
// resumed run retries b__2, runs no third iteration and completes, the
// loop as it was.
func TestKillAtEveryRetryWriteAfterARerunFailedInsideACompletedLoop(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process per persistence point")
	}
	var failB, failAfter atomic.Bool
	count := &killAtWrite{Store: runstore.NewMemory()}
	e := loopRetryEngine(t, count, &failB, &failAfter, nil)
	id, loop, failed := rerunFailedInCompletedLoop(t, e, &failB, &failAfter)
	count.n.Store(0)
	if r, err := e.Retry(context.Background(), id, false); err != nil || r.Status != engine.StatusCompleted {
		t.Fatalf("reference retry: %v %+v", err, r)
	}
	checkLoopRetry(t, e, id, loop, failed)
	killAtEveryWrite(t, "", int(count.n.Load()), 2, func(t *testing.T, k int, before bool) {
		var failB, failAfter atomic.Bool
		var id string
		var loop, failed map[string]any
		crashInBolt(t, "TestRetryCompletedLoopCrashChild", "WFRUN_RETRY_CLOOP", k, before, func(rs runstore.Store) []string {
			id, loop, failed = rerunFailedInCompletedLoop(t, loopRetryEngine(t, rs, &failB, &failAfter, nil), &failB, &failAfter)
			return []string{"WFRUN_RETRY_CLOOP_RUN=" + id}
		}, func(rs runstore.Store) {
			e := loopRetryEngine(t, rs, &failB, &failAfter, nil)
			if !resumeKilledRerun(t, e, id, k, before) {
				// Killed before its first write: the run stays FAILED,
				// and a retry now does what the killed one would have.
				if r, err := e.Retry(context.Background(), id, false); err != nil || r.Status != engine.StatusCompleted {
					t.Fatalf("retry after the kill: %v %+v", err, r)
				}
			}
			checkLoopRetry(t, e, id, loop, failed)
		})
	})
}

// TestRetryCompletedLoopCrashChild is the child process (skipped unless
// started by TestKillAtEveryRetryWriteAfterARerunFailedInsideACompletedLoop).
func TestRetryCompletedLoopCrashChild(t *testing.T) {
	store := openKillChild(t, "WFRUN_RETRY_CLOOP", "TestKillAtEveryRetryWriteAfterARerunFailedInsideACompletedLoop")
	var failB, failAfter atomic.Bool
	e := loopRetryEngine(t, store, &failB, &failAfter, nil)
	_, err := e.Retry(context.Background(), os.Getenv("WFRUN_RETRY_CLOOP_RUN"), false)
	t.Fatalf("child was not killed (writes made: all): %v", err)
}
