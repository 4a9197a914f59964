//go:build unix

package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// As the crash tests do: a child process (this test binary again) reruns a
// run and kills itself with SIGKILL just after the rerun's commit, before
// the task rerun from is scheduled again; this process then resumes the
// run. The task keeps its id and the input the rerun gave it.

const rerunCrashDef = `{"name":"rerun_crash","version":1,"schemaVersion":2,"tasks":[
 {"name":"w_first","taskReferenceName":"first","inputParameters":{"k":"${workflow.input.k}"}},
 {"name":"w_second","taskReferenceName":"second","inputParameters":{"k":"${workflow.input.k}"}}]}`

// rerunCrashEngine records what each worker got in logPath (an O_APPEND
// write survives SIGKILL).
func rerunCrashEngine(t *testing.T, rs runstore.Store, logPath string) *engine.Engine {
	var mu sync.Mutex
	worker := func(name string) engine.Option {
		return engine.WithWorker(name, func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			mu.Lock()
			defer mu.Unlock()
			f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
			if err != nil {
				return nil, err
			}
			defer f.Close()
			if _, err := f.WriteString(name + " " + string(in) + "\n"); err != nil {
				return nil, err
			}
			return json.RawMessage(`{}`), nil
		})
	}
	e, err := engine.New(engine.WithRunStore(rs), engine.WithKeyring(keyring(t, 7)), engine.WithRegistry(tasks.NewDefaultRegistry()),
		worker("w_first"), worker("w_second"))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// killAfterRestore kills the process once a Restore (the rerun's commit)
// is written.
type killAfterRestore struct{ runstore.Store }

func (k killAfterRestore) Restore(ctx context.Context, id string, ch *runstore.Change) error {
	if err := k.Store.Restore(ctx, id, ch); err != nil {
		return err
	}
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestRerunCrashChild is the child process (skipped unless started by
// TestRerunKeepsItsTaskAcrossACrash).
func TestRerunCrashChild(t *testing.T) {
	db := os.Getenv("WFRUN_RERUN_CRASH_DB")
	if db == "" {
		t.Skip("child process of TestRerunKeepsItsTaskAcrossACrash")
	}
	rs, err := runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	e := rerunCrashEngine(t, killAfterRestore{rs}, os.Getenv("WFRUN_RERUN_CRASH_LOG"))
	var o engine.RerunOptions
	if err := json.Unmarshal([]byte(os.Getenv("WFRUN_RERUN_CRASH_OPTS")), &o); err != nil {
		t.Fatal(err)
	}
	_, err = e.RerunWith(context.Background(), os.Getenv("WFRUN_RERUN_CRASH_RUN"), o)
	t.Fatalf("child was not killed: %v", err)
}

// TestRerunKeepsItsTaskAcrossACrash: a rerun from the second task, with a
// new workflow input (the task keeps its previous input) or with a
// taskInput, whose process dies right after the rerun's commit: the
// resumed run schedules the task with its old id and that input.
func TestRerunKeepsItsTaskAcrossACrash(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process")
	}
	for _, tc := range []struct {
		name, taskInput, want string
	}{
		{"previous input kept", "", `w_second {"k":"v1"}`},
		{"taskInput given", `{"k":"given"}`, `w_second {"k":"given"}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			db, logPath := filepath.Join(dir, "runs.db"), filepath.Join(dir, "log")
			rs, err := runstore.OpenBolt(db)
			if err != nil {
				t.Fatal(err)
			}
			e := rerunCrashEngine(t, rs, logPath)
			d, err := e.Parse([]byte(rerunCrashDef))
			if err != nil {
				t.Fatal(err)
			}
			res := startRun(t, e, d, `{"k":"v1"}`)
			before := viewRun(t, e, res.RunID)
			second := before.Tasks[1].TaskID
			_ = rs.Close()

			o := engine.RerunOptions{FromTaskID: second, WorkflowInput: json.RawMessage(`{"k":"v2"}`)}
			if tc.taskInput != "" {
				o.TaskInput = json.RawMessage(tc.taskInput)
			}
			opts, _ := json.Marshal(o)
			runKilledChild(t, "TestRerunCrashChild", "WFRUN_RERUN_CRASH_DB="+db, "WFRUN_RERUN_CRASH_LOG="+logPath,
				"WFRUN_RERUN_CRASH_RUN="+res.RunID, "WFRUN_RERUN_CRASH_OPTS="+string(opts))

			rs, err = runstore.OpenBolt(db)
			if err != nil {
				t.Fatal(err)
			}
			defer rs.Close()
			doc, _, err := rs.Load(context.Background(), res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(string(doc), `"rerunTask":"`) || strings.Contains(string(doc), "given") {
				t.Fatalf("the rerun's commit does not hold the task's input sealed: %s", doc)
			}
			e = rerunCrashEngine(t, rs, logPath)
			if err := os.Remove(logPath); err != nil {
				t.Fatal(err)
			}
			r, err := e.Resume(context.Background(), res.RunID)
			if err != nil || r.Status != engine.StatusCompleted {
				t.Fatalf("resume: %v %+v", err, r)
			}
			after := viewRun(t, e, res.RunID)
			checkTasks(t, after.Tasks, "w_first:COMPLETED", "w_second:COMPLETED")
			if after.Tasks[1].TaskID != second {
				t.Fatalf("the task rerun from has id %s after the crash, want %s", after.Tasks[1].TaskID, second)
			}
			b, err := os.ReadFile(logPath)
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.TrimSpace(string(b)); got != tc.want {
				t.Fatalf("workers after the crash: %q, want %q", got, tc.want)
			}
		})
	}
}
