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

// TestKillAtEveryRerunWriteWithControlSiblings: the rerun of
// TestRerunResetsControlAndSubWorkflowSiblingsInPlace, killed before and
// after each of its writes (the child's too) and resumed by another
// process: the run completes with the records reset in place taken over
// (the DO_WHILE, the SUB_WORKFLOW with one new child, the leaf tasks),
// never a second record, and each runs with its stored input.
//
// And the rerun of TestRerunFromSubWorkflowResetsSiblingsInPlace (from a
// SUB_WORKFLOW task, its sibling reset in place), killed in the same way.
func TestKillAtEveryRerunWriteWithControlSiblings(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process per persistence point")
	}
	for _, c := range controlSiblingsCases {
		var fail atomic.Bool
		count := &killAtWrite{Store: runstore.NewMemory()}
		e := controlSiblingsEngine(t, count, &fail, c.started(), func(string) {})
		id, prior := c.failed(t, e, &fail)
		count.n.Store(0)
		if r, err := e.RerunWith(context.Background(), id, controlSiblingsRerun(prior[c.from]["taskId"].(string))); err != nil || r.Status != engine.StatusCompleted {
			t.Fatalf("%s: reference rerun: %v %+v", c.name, err, r)
		}
		c.check(t, e, id, prior)
		killAtEveryWrite(t, c.name, int(count.n.Load()), 2, func(t *testing.T, k int, before bool) {
			controlSiblingsCrashAndResume(t, c, k, before)
		})
	}
}

// controlSiblingsCase is a failed run to rerun: its definition's failed
// run (failed), the ref of the task rerun from, the check after the rerun.
type controlSiblingsCase struct {
	name, from string
	started    func() map[string]chan struct{}
	failed     func(*testing.T, *engine.Engine, *atomic.Bool) (string, map[string]map[string]any)
	check      func(*testing.T, *engine.Engine, string, map[string]map[string]any)
}

var controlSiblingsCases = []controlSiblingsCase{
	{"from_b", "b", func() map[string]chan struct{} {
		return map[string]chan struct{}{"body": make(chan struct{}), "inner": make(chan struct{}), "a": make(chan struct{})}
	}, failedControlSiblings, checkControlSiblingsRerun},
	{"from_sub", "sub", func() map[string]chan struct{} {
		return map[string]chan struct{}{"a": make(chan struct{})}
	}, failedSubSiblings, checkSubSiblingsRerun},
}

func controlSiblingsCrashAndResume(t *testing.T, c controlSiblingsCase, k int, before bool) {
	db := filepath.Join(t.TempDir(), "runs.db")
	rs, err := runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	var fail atomic.Bool
	e := controlSiblingsEngine(t, rs, &fail, c.started(), func(string) {})
	id, prior := c.failed(t, e, &fail)
	_ = rs.Close()

	runRerunKillChild(t, "TestRerunControlSiblingsCrashChild", append(killChildEnv("WFRUN_RERUN_CSIB", db, k, before),
		"WFRUN_RERUN_CSIB_RUN="+id, "WFRUN_RERUN_CSIB_FROM="+prior[c.from]["taskId"].(string))...)

	rs, err = runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	e = controlSiblingsEngine(t, rs, &fail, nil, func(string) {})
	if resumeKilledRerun(t, e, id, k, before) {
		c.check(t, e, id, prior)
	}
}

// TestRerunControlSiblingsCrashChild is the child process (skipped unless
// started by TestKillAtEveryRerunWriteWithControlSiblings).
func TestRerunControlSiblingsCrashChild(t *testing.T) {
	store := openKillChild(t, "WFRUN_RERUN_CSIB", "TestKillAtEveryRerunWriteWithControlSiblings")
	var fail atomic.Bool
	e := controlSiblingsEngine(t, store, &fail, nil, func(string) {})
	_, err := e.RerunWith(context.Background(), os.Getenv("WFRUN_RERUN_CSIB_RUN"), controlSiblingsRerun(os.Getenv("WFRUN_RERUN_CSIB_FROM")))
	t.Fatalf("child was not killed (writes made: all): %v", err)
}
