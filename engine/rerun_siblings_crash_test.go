//go:build unix

package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
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
	total := int(count.n.Load())
	if total < 2 {
		t.Fatalf("the reference rerun made %d writes", total)
	}
	for k := 1; k <= total; k++ {
		for _, before := range []bool{true, false} {
			t.Run(fmt.Sprintf("write=%d/before=%v", k, before), func(t *testing.T) {
				siblingsCrashAndResume(t, k, before)
			})
		}
	}
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

	child := exec.Command(os.Args[0], "-test.run", "^TestRerunSiblingsCrashChild$", "-test.v")
	child.Env = append(os.Environ(), "WFRUN_RERUN_SIB_DB="+db, "WFRUN_RERUN_SIB_RUN="+id, "WFRUN_RERUN_SIB_FROM="+b1["taskId"].(string),
		"WFRUN_RERUN_SIB_AT="+strconv.Itoa(k), "WFRUN_RERUN_SIB_BEFORE="+map[bool]string{true: "1"}[before])
	out, err := child.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL:
	case strings.Contains(string(out), "child was not killed (writes made: all)"):
		// Fewer writes than the reference rerun made (timing): the rerun
		// ended.
	default:
		t.Fatalf("child was not killed: %v\n%s", err, out)
	}

	rs, err = runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	e = siblingEngine(t, rs, &fail, &side)
	r, err := e.Resume(context.Background(), id)
	switch {
	case errors.Is(err, engine.ErrNotRunning):
		if k == 1 && before {
			return // the rerun never was
		}
	case err != nil || r.Status != engine.StatusCompleted:
		t.Fatalf("resume after write %d: %v %+v", k, err, r)
	}
	checkSiblingsRerun(t, e, id, a, b0, b1)
}

// TestRerunSiblingsCrashChild is the child process (skipped unless started
// by TestKillAtEveryRerunWriteWithSiblings).
func TestRerunSiblingsCrashChild(t *testing.T) {
	db := os.Getenv("WFRUN_RERUN_SIB_DB")
	if db == "" {
		t.Skip("child process of TestKillAtEveryRerunWriteWithSiblings")
	}
	rs, err := runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	k, err := strconv.Atoi(os.Getenv("WFRUN_RERUN_SIB_AT"))
	if err != nil {
		t.Fatal(err)
	}
	var fail atomic.Bool
	var side atomic.Int32
	e := siblingEngine(t, &killAtWrite{Store: rs, k: k, before: os.Getenv("WFRUN_RERUN_SIB_BEFORE") != ""}, &fail, &side)
	_, err = e.RerunWith(context.Background(), os.Getenv("WFRUN_RERUN_SIB_RUN"), siblingsRerun(map[string]any{"taskId": os.Getenv("WFRUN_RERUN_SIB_FROM")}))
	t.Fatalf("child was not killed (writes made: all): %v", err)
}
