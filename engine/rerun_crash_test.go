//go:build unix

package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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

// killAtWrite kills the process at its k-th write (Restore, Commit or
// Archive), just before it when before, else just after it.
type killAtWrite struct {
	runstore.Store
	k      int
	before bool
	n      atomic.Int32
}

func (w *killAtWrite) at(write func() error) error {
	n := int(w.n.Add(1))
	if n == w.k && w.before {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	if err := write(); err != nil {
		return err
	}
	if n == w.k {
		_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	return nil
}

func (w *killAtWrite) Restore(ctx context.Context, id string, ch *runstore.Change) error {
	return w.at(func() error { return w.Store.Restore(ctx, id, ch) })
}

func (w *killAtWrite) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	return w.at(func() error { return w.Store.Commit(ctx, id, ch) })
}

func (w *killAtWrite) Archive(ctx context.Context, id string, doc []byte, sum runstore.Summary) error {
	return w.at(func() error { return w.Store.Archive(ctx, id, doc, sum) })
}

// TestRerunCrashChild is the child process (skipped unless started by
// TestRerunKeepsItsTaskAcrossACrash or TestKillAtEveryRerunWrite).
func TestRerunCrashChild(t *testing.T) {
	db := os.Getenv("WFRUN_RERUN_CRASH_DB")
	if db == "" {
		t.Skip("child process of TestRerunKeepsItsTaskAcrossACrash")
	}
	rs, err := runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	var store runstore.Store = killAfterRestore{rs}
	if at := os.Getenv("WFRUN_RERUN_CRASH_AT"); at != "" {
		k, err := strconv.Atoi(at)
		if err != nil {
			t.Fatal(err)
		}
		store = &killAtWrite{Store: rs, k: k, before: os.Getenv("WFRUN_RERUN_CRASH_BEFORE") != ""}
	}
	e := rerunCrashEngine(t, store, os.Getenv("WFRUN_RERUN_CRASH_LOG"))
	var o engine.RerunOptions
	if err := json.Unmarshal([]byte(os.Getenv("WFRUN_RERUN_CRASH_OPTS")), &o); err != nil {
		t.Fatal(err)
	}
	_, err = e.RerunWith(context.Background(), os.Getenv("WFRUN_RERUN_CRASH_RUN"), o)
	t.Fatalf("child was not killed (writes made: all): %v", err)
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
			// The rerun's commit holds the task reset in place (SCHEDULED,
			// its id, the input it runs with) and the rerun's note, sealed,
			// which a resumed run schedules it with.
			var stored struct {
				RerunTask string `json:"rerunTask"`
				Tasks     []struct {
					TaskID    string          `json:"taskId"`
					Status    string          `json:"status"`
					InputData json.RawMessage `json:"inputData"`
				} `json:"tasks"`
			}
			if err := json.Unmarshal(doc, &stored); err != nil {
				t.Fatal(err)
			}
			if stored.RerunTask == "" || strings.Contains(stored.RerunTask, "given") || len(stored.Tasks) != 2 ||
				stored.Tasks[1].TaskID != second || stored.Tasks[1].Status != engine.TaskScheduled ||
				"w_second "+string(stored.Tasks[1].InputData) != tc.want {
				t.Fatalf("the rerun's commit does not hold the task reset and the rerun's note: %s", doc)
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

// TestKillAtEveryRerunWrite: a rerun from the first task, with a new
// workflow input and with or without a taskInput, whose process is killed
// just before or just after each of its writes (the rerun's own, the
// tasks' ends, the archive): the run is intact and, resumed, completes;
// the task rerun from keeps its id and runs with the input the rerun gave
// it (its previous one, or the taskInput) however often it runs, the task
// after it with the new workflow input.
func TestKillAtEveryRerunWrite(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process per persistence point")
	}
	for _, tc := range []struct{ name, taskInput, wantFirst string }{
		{"previous input kept", "", `{"k":"v1"}`},
		{"taskInput given", `{"k":"given"}`, `{"k":"given"}`},
	} {
		// The reference rerun counts the writes.
		ctx := context.Background()
		count := &killAtWrite{Store: runstore.NewMemory()}
		e := rerunCrashEngine(t, count, filepath.Join(t.TempDir(), "log"))
		d, err := e.Parse([]byte(rerunCrashDef))
		if err != nil {
			t.Fatal(err)
		}
		res := startRun(t, e, d, `{"k":"v1"}`)
		o := engine.RerunOptions{FromTaskID: viewRun(t, e, res.RunID).Tasks[0].TaskID, WorkflowInput: json.RawMessage(`{"k":"v2"}`)}
		if tc.taskInput != "" {
			o.TaskInput = json.RawMessage(tc.taskInput)
		}
		count.n.Store(0)
		if r, err := e.RerunWith(ctx, res.RunID, o); err != nil || r.Status != engine.StatusCompleted {
			t.Fatalf("reference rerun: %v %+v", err, r)
		}
		killAtEveryWrite(t, tc.name, int(count.n.Load()), 3, func(t *testing.T, k int, before bool) {
			rerunCrashAndResume(t, tc.taskInput, tc.wantFirst, k, before)
		})
	}
}

func rerunCrashAndResume(t *testing.T, taskInput, wantFirst string, k int, before bool) {
	ctx := context.Background()
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
	first := viewRun(t, e, res.RunID).Tasks[0].TaskID
	_ = rs.Close()
	if err := os.Remove(logPath); err != nil {
		t.Fatal(err)
	}

	o := engine.RerunOptions{FromTaskID: first, WorkflowInput: json.RawMessage(`{"k":"v2"}`)}
	if taskInput != "" {
		o.TaskInput = json.RawMessage(taskInput)
	}
	opts, _ := json.Marshal(o)
	runRerunKillChild(t, "TestRerunCrashChild", append(killChildEnv("WFRUN_RERUN_CRASH", db, k, before),
		"WFRUN_RERUN_CRASH_LOG="+logPath, "WFRUN_RERUN_CRASH_RUN="+res.RunID, "WFRUN_RERUN_CRASH_OPTS="+string(opts))...)

	rs, err = runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	e = rerunCrashEngine(t, rs, logPath)
	r, err := e.Resume(ctx, res.RunID)
	switch {
	case errors.Is(err, engine.ErrNotRunning):
		// Killed before the rerun's write (the run stays as it ended) or
		// after its end.
	case err != nil || r.Status != engine.StatusCompleted:
		t.Fatalf("resume after write %d: %v %+v", k, err, r)
	}
	after := viewRun(t, e, res.RunID)
	checkTasks(t, after.Tasks, "w_first:COMPLETED", "w_second:COMPLETED")
	if after.Status != engine.StatusCompleted || after.Tasks[0].TaskID != first {
		t.Fatalf("after write %d: %s, w_first %s (want its id %s)", k, after.Status, after.Tasks[0].TaskID, first)
	}
	if k == 1 && before {
		return // the rerun never was
	}
	b, err := os.ReadFile(logPath)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	ran := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		name, in, _ := strings.Cut(line, " ")
		ran[name] = true
		if want := map[string]string{"w_first": wantFirst, "w_second": `{"k":"v2"}`}[name]; in != want {
			t.Errorf("after write %d: %s ran with %s, want %s", k, name, in, want)
		}
	}
	if !ran["w_first"] || !ran["w_second"] {
		t.Errorf("after write %d: the rerun ran %v, want both tasks", k, ran)
	}
}
