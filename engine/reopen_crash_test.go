//go:build unix

package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

const reopenCrashDef = `{"name":"reopen_crash","version":1,"schemaVersion":2,"tasks":[
 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","retryCount":0,"subWorkflowParam":{"name":"c",
  "workflowDefinition":{"name":"c","version":1,"schemaVersion":2,"tasks":[{"name":"flaky","taskReferenceName":"flaky","retryCount":0}]}}}]}`

// reopenCrashEngine: flaky fails while the file failPath exists.
func reopenCrashEngine(t *testing.T, rs runstore.Store, failPath string) *engine.Engine {
	e, err := engine.New(engine.WithRunStore(rs), engine.WithKeyring(keyring(t, 7)), engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithWorker("flaky", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			if _, err := os.Stat(failPath); err == nil {
				return nil, errors.New("failing")
			}
			return json.RawMessage(`{"ok":true}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestReopenCrashChild is the child process of TestRetryOfAChildKilledWhileReopening.
func TestReopenCrashChild(t *testing.T) {
	db := os.Getenv("WFRUN_REOPEN_CRASH_DB")
	if db == "" {
		t.Skip("child process of TestRetryOfAChildKilledWhileReopening")
	}
	rs, err := runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	e := reopenCrashEngine(t, killAfterRestore{rs}, os.Getenv("WFRUN_REOPEN_CRASH_FAIL"))
	_, err = e.Retry(context.Background(), os.Getenv("WFRUN_REOPEN_CRASH_RUN"), false)
	t.Fatalf("child was not killed: %v", err)
}

// TestRetryOfAChildKilledWhileReopening: the process retrying a failed
// child dies right after it stored the re-opened parent, before the child:
// the resumed parent finds its child ended and fails again (nothing runs
// half-re-opened), and a new retry of the child completes both.
func TestRetryOfAChildKilledWhileReopening(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	dir := t.TempDir()
	db, failPath := filepath.Join(dir, "runs.db"), filepath.Join(dir, "fail")
	if err := os.WriteFile(failPath, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	rs, err := runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	e := reopenCrashEngine(t, rs, failPath)
	d, err := e.Parse([]byte(reopenCrashDef))
	if err != nil {
		t.Fatal(err)
	}
	parent := startRun(t, e, d, `{}`).RunID
	child := viewRun(t, e, parent).Tasks[0].SubWorkflowID
	_ = rs.Close()
	if err := os.Remove(failPath); err != nil {
		t.Fatal(err)
	}

	runKilledChild(t, "TestReopenCrashChild", "WFRUN_REOPEN_CRASH_DB="+db, "WFRUN_REOPEN_CRASH_FAIL="+failPath, "WFRUN_REOPEN_CRASH_RUN="+child)

	rs, err = runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	e = reopenCrashEngine(t, rs, failPath)
	if p := viewRun(t, e, parent); p.Status != engine.StatusRunning || p.Tasks[0].Status != engine.TaskInProgress {
		t.Fatalf("parent after the crash: %s %+v", p.Status, p.Tasks)
	}
	if c := viewRun(t, e, child); c.Status != engine.StatusFailed {
		t.Fatalf("child after the crash: %s", c.Status)
	}
	res, err := e.Resume(context.Background(), parent)
	if err != nil || res.Status != engine.StatusFailed {
		t.Fatalf("resume of the parent: %v %+v", err, res)
	}
	if c := viewRun(t, e, child); c.Status != engine.StatusFailed || len(c.Tasks) != 1 {
		t.Fatalf("the child ran under the resumed parent: %s %+v", c.Status, c.Tasks)
	}
	if res, err := e.Retry(context.Background(), child, false); err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("retry of the child: %v %+v", err, res)
	}
	if p := viewRun(t, e, parent); p.Status != engine.StatusCompleted || len(p.Tasks) != 1 || p.Tasks[0].SubWorkflowID != child {
		t.Fatalf("parent after the second retry: %s %+v", p.Status, p.Tasks)
	}
}
