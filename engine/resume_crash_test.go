//go:build unix

package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// failingCrashDefs fail: f's worker fails with no retry left. In the
// first, f fails the run at once; in the second, f is permissive and the
// run goes on to its JOIN, which fails.
var failingCrashDefs = map[string]string{
	"plain": `{"name":"crash_fail","tasks":[
	  {"name":"step","taskReferenceName":"a","inputParameters":{"ref":"a"}},
	  {"name":"boom","taskReferenceName":"f","retryCount":0,"inputParameters":{"ref":"f"}},
	  {"name":"step","taskReferenceName":"e","inputParameters":{"ref":"e"}}]}`,
	"permissive": `{"name":"crash_permissive","tasks":[
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	    [{"name":"boom","taskReferenceName":"f","retryCount":0,"permissive":true,"inputParameters":{"ref":"f"}},
	     {"name":"step","taskReferenceName":"g","inputParameters":{"ref":"g"}}],
	    [{"name":"step","taskReferenceName":"d","inputParameters":{"ref":"d"}}]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["g","d"]},
	  {"name":"step","taskReferenceName":"e","inputParameters":{"ref":"e"}}]}`,
	// Operators the decider executes fail too: a SWITCH whose expression
	// throws, a DO_WHILE whose loopCondition throws.
	"switch": `{"name":"crash_switch","tasks":[
	  {"name":"boom","taskReferenceName":"f","retryCount":0,"optional":true,"inputParameters":{"ref":"f"}},
	  {"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"javascript","expression":"$.x.y.z",
	   "inputParameters":{"x":{}},"decisionCases":{"a":[{"name":"step","taskReferenceName":"c","inputParameters":{"ref":"c"}}]}},
	  {"name":"step","taskReferenceName":"e","inputParameters":{"ref":"e"}}]}`,
	"loop": `{"name":"crash_loop","tasks":[
	  {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.nothing.here","evaluatorType":"javascript",
	   "loopOver":[{"name":"boom","taskReferenceName":"f","retryCount":0,"optional":true,"inputParameters":{"ref":"f"}}]},
	  {"name":"step","taskReferenceName":"e","inputParameters":{"ref":"e"}}]}`,
	// A permissive task failing inside an iteration fails its DO_WHILE
	// (Conductor's DoWhile.execute), and the loop the run. a logs its
	// record's ref (a__1), so a rerun of it is seen.
	"loop_permissive": `{"name":"crash_loop_permissive","tasks":[
	  {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 3",
	   "loopOver":[{"name":"step","taskReferenceName":"a","inputParameters":{"ref":"a__${loop.output.iteration}"}},
	     {"name":"boom","taskReferenceName":"f","retryCount":0,"permissive":true,"inputParameters":{"ref":"f"}},
	     {"name":"step","taskReferenceName":"g","inputParameters":{"ref":"g"}}]},
	  {"name":"step","taskReferenceName":"e","inputParameters":{"ref":"e"}}]}`,
}

// failingCrashWant: the tasks (type:status) of the uninterrupted run of a
// failingCrashDefs entry, where they are checked against Conductor's.
var failingCrashWant = map[string][]string{
	// DoWhile.execute fails the loop in iteration 1; nothing after f runs
	// (f's successor is scheduled in that decision, and cancelled).
	"loop_permissive": {"DO_WHILE:FAILED", "step:COMPLETED", "boom:FAILED", "step:CANCELED"},
}

// failingCrashEngine: "step" and "boom" append their input's ref to
// logPath (an O_APPEND write survives SIGKILL); boom then fails.
func failingCrashEngine(t *testing.T, rs runstore.Store, logPath string) *engine.Engine {
	var mu sync.Mutex
	logRef := func(in json.RawMessage) error {
		var v struct {
			Ref string `json:"ref"`
		}
		_ = json.Unmarshal(in, &v)
		mu.Lock()
		defer mu.Unlock()
		f, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = f.WriteString(v.Ref + "\n")
		return err
	}
	e, err := engine.New(engine.WithRunStore(rs), engine.WithKeyring(keyring(t, 7)), engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithWorker("step", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			return in, logRef(in)
		}),
		engine.WithWorker("boom", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			if err := logRef(in); err != nil {
				return nil, err
			}
			return nil, errors.New("boom failed")
		}))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestFailingCrashChild is the child process of
// TestKillAFailingRunAtEveryPersistencePoint (skipped otherwise).
func TestFailingCrashChild(t *testing.T) {
	dbPath := os.Getenv("WFRUN_FAILCRASH_DB")
	if dbPath == "" {
		t.Skip("child process of TestKillAFailingRunAtEveryPersistencePoint")
	}
	at, _ := strconv.Atoi(os.Getenv("WFRUN_FAILCRASH_AT"))
	rs, err := runstore.OpenBolt(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	cs := &crashStore{Store: rs, at: at, before: os.Getenv("WFRUN_FAILCRASH_BEFORE") == "1"}
	e := failingCrashEngine(t, cs, os.Getenv("WFRUN_FAILCRASH_LOG"))
	engine.WithoutEarlyWrites(e) // the writes counted are the reference run's
	def, err := e.Parse([]byte(failingCrashDefs[os.Getenv("WFRUN_FAILCRASH_DEF")]))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.Start(context.Background(), def, json.RawMessage(`{}`), engine.WithRunID("crash-fail"))
	t.Fatalf("child was not killed (write %d of %d): %v", at, cs.n, err)
}

// TestKillAFailingRunAtEveryPersistencePoint: a run whose task failed with
// no retry left, killed just before or just after any of its writes, is
// resumed to the end the uninterrupted run has (its status and reason),
// and no task whose ended attempt was written runs again — a failed task
// included: its failure stands (the run fails with it, or, permissive, the
// run goes on past it), as Conductor's decider decided it.
func TestKillAFailingRunAtEveryPersistencePoint(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process per persistence point")
	}
	for name, src := range failingCrashDefs {
		t.Run(name, func(t *testing.T) {
			count := &countingStore{Store: runstore.NewMemory()}
			e := failingCrashEngine(t, count, filepath.Join(t.TempDir(), "log"))
			engine.WithoutEarlyWrites(e) // durable points only: as many in every run
			def, err := e.Parse([]byte(src))
			if err != nil {
				t.Fatal(err)
			}
			ref, err := e.Start(context.Background(), def, nil)
			if err != nil || ref.Status != engine.StatusFailed {
				t.Fatalf("reference run: %v %+v", err, ref)
			}
			want := taskStatuses(viewRun(t, e, ref.RunID).Tasks)
			if w, ok := failingCrashWant[name]; ok {
				checkTasks(t, viewRun(t, e, ref.RunID).Tasks, w...)
			}
			for k := 1; k <= count.n; k++ {
				for _, before := range []bool{true, false} {
					t.Run(fmt.Sprintf("write=%d/before=%v", k, before), func(t *testing.T) {
						crashFailingAndResume(t, name, k, before, ref, want)
					})
				}
			}
		})
	}
}

func crashFailingAndResume(t *testing.T, name string, k int, before bool, ref *engine.Result, want []string) {
	dir := t.TempDir()
	db, logPath := filepath.Join(dir, "runs.db"), filepath.Join(dir, "log")
	runKilledChild(t, "TestFailingCrashChild", "WFRUN_FAILCRASH_DB="+db, "WFRUN_FAILCRASH_AT="+strconv.Itoa(k),
		"WFRUN_FAILCRASH_LOG="+logPath, "WFRUN_FAILCRASH_DEF="+name, "WFRUN_FAILCRASH_BEFORE="+map[bool]string{true: "1"}[before])
	rs, err := runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	doc, archived, err := rs.Load(context.Background(), "crash-fail")
	if errors.Is(err, runstore.ErrNotFound) && k == 1 && before {
		return // killed before the run's first write: there is no run
	}
	if err != nil {
		t.Fatalf("after write %d: %v", k, err)
	}
	var d struct {
		Tasks []struct {
			Ref    string `json:"referenceTaskName"`
			Status string `json:"status"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	ended := map[string]bool{}
	for _, tk := range d.Tasks {
		if tk.Status == engine.TaskCompleted || tk.Status == engine.TaskFailed {
			ended[tk.Ref] = true
		}
	}
	was := countLog(t, logPath)
	e := failingCrashEngine(t, rs, logPath)
	res, err := e.Resume(context.Background(), "crash-fail")
	if archived {
		if !errors.Is(err, engine.ErrNotRunning) {
			t.Fatalf("resume of an archived run: %v", err)
		}
		return
	}
	if err != nil || res.Status != ref.Status || stripIDs(res.Reason) != stripIDs(ref.Reason) {
		t.Fatalf("resume after write %d: %v %+v, want %s %q", k, err, res, ref.Status, ref.Reason)
	}
	checkTasks(t, viewRun(t, e, "crash-fail").Tasks, want...)
	now := countLog(t, logPath)
	for r := range ended {
		if now[r] != was[r] {
			t.Errorf("task %s had ended before the crash and ran again (%d → %d)", r, was[r], now[r])
		}
	}
	if now["f"] < 1 {
		t.Errorf("f never ran")
	}
}

func taskStatuses(tasks []taskView) []string {
	var out []string
	for _, tk := range tasks {
		out = append(out, tk.TaskType+":"+tk.Status)
	}
	return out
}
