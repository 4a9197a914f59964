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
	"syscall"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// killAtEveryWrite runs crash as a subtest for each of the total writes a
// reference rerun made, killed just before and just after it; it fails
// when the reference rerun made fewer than least writes. Subtests are
// named name/write=k/before=b (write=k/before=b when name is "").
func killAtEveryWrite(t *testing.T, name string, total, least int, crash func(t *testing.T, k int, before bool)) {
	t.Helper()
	prefix := ""
	if name != "" {
		prefix = name + "/"
	}
	if total < least {
		t.Fatalf("%sthe reference rerun made %d writes", prefix, total)
	}
	for k := 1; k <= total; k++ {
		for _, before := range []bool{true, false} {
			t.Run(fmt.Sprintf("%swrite=%d/before=%v", prefix, k, before), func(t *testing.T) {
				crash(t, k, before)
			})
		}
	}
}

// killChildEnv is the environment telling a child process (see
// openKillChild) its store db and to kill itself at its k-th write, before
// or after it; each variable's name starts with prefix.
func killChildEnv(prefix, db string, k int, before bool) []string {
	return []string{prefix + "_DB=" + db, prefix + "_AT=" + strconv.Itoa(k), prefix + "_BEFORE=" + map[bool]string{true: "1"}[before]}
}

// openKillChild is the store of a child process started with killChildEnv:
// the bolt store db, killing the process at the k-th write. The test is
// skipped unless started by parent.
func openKillChild(t *testing.T, prefix, parent string) *killAtWrite {
	t.Helper()
	db := os.Getenv(prefix + "_DB")
	if db == "" {
		t.Skip("child process of " + parent)
	}
	rs, err := runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	k, err := strconv.Atoi(os.Getenv(prefix + "_AT"))
	if err != nil {
		t.Fatal(err)
	}
	return &killAtWrite{Store: rs, k: k, before: os.Getenv(prefix+"_BEFORE") != ""}
}

// runRerunKillChild runs this test binary's test (the child) with env added:
// it must die of SIGKILL, or say it made all its writes (fewer than the
// reference rerun made, a task written early while it runs depending on
// timing: the rerun ended).
func runRerunKillChild(t *testing.T, test string, env ...string) {
	t.Helper()
	child := exec.Command(os.Args[0], "-test.run", "^"+test+"$", "-test.v")
	child.Env = append(os.Environ(), env...)
	out, err := child.CombinedOutput()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signal() == syscall.SIGKILL:
	case strings.Contains(string(out), "child was not killed (writes made: all)"):
	default:
		t.Fatalf("child was not killed: %v\n%s", err, out)
	}
}

// resumeKilledRerun resumes run id, whose rerun was killed at its k-th
// write, before it when before: the run must complete, or not be running
// when the rerun never was (killed before its first write). It says
// whether the rerun was.
func resumeKilledRerun(t *testing.T, e *engine.Engine, id string, k int, before bool) bool {
	t.Helper()
	r, err := e.Resume(context.Background(), id)
	switch {
	case errors.Is(err, engine.ErrNotRunning):
		if k == 1 && before {
			return false
		}
	case err != nil || r.Status != engine.StatusCompleted:
		t.Fatalf("resume after write %d: %v %+v", k, err, r)
	}
	return true
}

// crashInBolt is one kill point's round of a crash test: in a bolt store
// of its own, prepare sets the run up and gives the child process's
// environment beyond killChildEnv's; the child test childTest is run and
// killed just before or after its write k; resume then takes the run
// over, the store opened again.
func crashInBolt(t *testing.T, childTest, prefix string, k int, before bool, prepare func(rs runstore.Store) []string, resume func(rs runstore.Store)) {
	t.Helper()
	db := filepath.Join(t.TempDir(), "runs.db")
	rs, err := runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	env := prepare(rs)
	_ = rs.Close()
	runRerunKillChild(t, childTest, append(killChildEnv(prefix, db, k, before), env...)...)
	rs, err = runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	resume(rs)
}
