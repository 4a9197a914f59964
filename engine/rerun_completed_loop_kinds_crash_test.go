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

// TestKillAtEveryRerunWriteInsideACompletedLoopFromAForkOrChild: the
// reruns of TestRerunInsideACompletedLoopFromADynamicFork and
// TestRerunInsideACompletedLoopFromASubWorkflow, killed before and after
// each of their writes and resumed by another process: the rerun's note
// names the COMPLETED loop until the rest of the iteration has run, so the
// resumed run maps the fork once (the new FORK record the rerun's write
// holds taken over), or starts the SUB_WORKFLOW task's new child once,
// runs the rest of iteration 1 (never iteration 2) and completes, the
// loop as it was.
func TestKillAtEveryRerunWriteInsideACompletedLoopFromAForkOrChild(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process per persistence point")
	}
	for _, c := range []struct {
		name  string
		k     loopKindsRun
		check func(*testing.T, *engine.Engine, string, map[string]any, map[string]any)
	}{
		{"dynfork", loopKindsRun{def: loopDynForkDef, from: "dyn__1"}, checkLoopDynForkRerun},
		{"subworkflow", loopKindsRun{def: loopSubDef, from: "sub__1"}, checkLoopSubRerun},
	} {
		k := c.k
		var fail atomic.Bool
		count := &killAtWrite{Store: runstore.NewMemory()}
		e := loopKindsEngine(t, count, &fail, nil)
		id, loop, from := failedLoopKinds(t, e, k, &fail)
		count.n.Store(0)
		if r, err := e.RerunWith(context.Background(), id, engine.RerunOptions{FromTaskID: from["taskId"].(string)}); err != nil || r.Status != engine.StatusCompleted {
			t.Fatalf("%s: reference rerun: %v %+v", c.name, err, r)
		}
		c.check(t, e, id, loop, from)
		killAtEveryWrite(t, c.name, int(count.n.Load()), 2, func(t *testing.T, n int, before bool) {
			var fail atomic.Bool
			var id string
			var loop, from map[string]any
			crashInBolt(t, "TestRerunCompletedLoopKindsCrashChild", "WFRUN_RERUN_CLK", n, before, func(rs runstore.Store) []string {
				id, loop, from = failedLoopKinds(t, loopKindsEngine(t, rs, &fail, nil), k, &fail)
				return []string{"WFRUN_RERUN_CLK_RUN=" + id, "WFRUN_RERUN_CLK_FROM=" + from["taskId"].(string)}
			}, func(rs runstore.Store) {
				e := loopKindsEngine(t, rs, &fail, nil)
				if resumeKilledRerun(t, e, id, n, before) {
					c.check(t, e, id, loop, from)
				}
			})
		})
	}
}

// TestRerunCompletedLoopKindsCrashChild is the child process (skipped
// unless started by
// TestKillAtEveryRerunWriteInsideACompletedLoopFromAForkOrChild).
func TestRerunCompletedLoopKindsCrashChild(t *testing.T) {
	store := openKillChild(t, "WFRUN_RERUN_CLK", "TestKillAtEveryRerunWriteInsideACompletedLoopFromAForkOrChild")
	var fail atomic.Bool
	e := loopKindsEngine(t, store, &fail, nil)
	_, err := e.RerunWith(context.Background(), os.Getenv("WFRUN_RERUN_CLK_RUN"), engine.RerunOptions{FromTaskID: os.Getenv("WFRUN_RERUN_CLK_FROM")})
	t.Fatalf("child was not killed (writes made: all): %v", err)
}
