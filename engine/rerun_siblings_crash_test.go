//go:build unix

package engine_test

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// TestKillAtEveryRerunWriteWithSiblings: the rerun of
// TestRerunResetsEarlierUnsuccessfulTasksInPlace, killed before and after
// each of its writes and resumed by another process: the run completes
// with a's record (its id) taken over, never a second one, and b's
// earlier attempt kept.
func TestKillAtEveryRerunWriteWithSiblings(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process per persistence point")
	}
	var fail atomic.Bool
	var side atomic.Int32
	count := &killAtWrite{Store: runstore.NewMemory()}
	e := siblingEngine(t, count, &fail, &side)
	id, a, b0, b1 := failedSiblings(t, e, &fail)
	count.n.Store(0)
	if r, err := e.RerunWith(context.Background(), id, siblingsRerun(b1)); err != nil || r.Status != engine.StatusCompleted {
		t.Fatalf("reference rerun: %v %+v", err, r)
	}
	checkSiblingsRerun(t, e, id, a, b0, b1)
	killAtEveryWrite(t, "", int(count.n.Load()), 2, siblingsCrashAndResume)
}

func siblingsCrashAndResume(t *testing.T, k int, before bool) {
	db := filepath.Join(t.TempDir(), "runs.db")
	rs, err := runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	var fail atomic.Bool
	var side atomic.Int32
	e := siblingEngine(t, rs, &fail, &side)
	id, a, b0, b1 := failedSiblings(t, e, &fail)
	_ = rs.Close()

	runRerunKillChild(t, "TestRerunSiblingsCrashChild", append(killChildEnv("WFRUN_RERUN_SIB", db, k, before),
		"WFRUN_RERUN_SIB_RUN="+id, "WFRUN_RERUN_SIB_FROM="+b1["taskId"].(string))...)

	rs, err = runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	e = siblingEngine(t, rs, &fail, &side)
	if resumeKilledRerun(t, e, id, k, before) {
		checkSiblingsRerun(t, e, id, a, b0, b1)
	}
}

// TestRerunSiblingsCrashChild is the child process (skipped unless started
// by TestKillAtEveryRerunWriteWithSiblings).
func TestRerunSiblingsCrashChild(t *testing.T) {
	store := openKillChild(t, "WFRUN_RERUN_SIB", "TestKillAtEveryRerunWriteWithSiblings")
	var fail atomic.Bool
	var side atomic.Int32
	e := siblingEngine(t, store, &fail, &side)
	_, err := e.RerunWith(context.Background(), os.Getenv("WFRUN_RERUN_SIB_RUN"), siblingsRerun(map[string]any{"taskId": os.Getenv("WFRUN_RERUN_SIB_FROM")}))
	t.Fatalf("child was not killed (writes made: all): %v", err)
}
