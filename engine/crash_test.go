//go:build unix

package engine_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// The crash tests run a workflow in a child process (this test binary run
// again) that kills itself with SIGKILL just before or just after its K-th
// write to a bolt run store, for every K; the parent then resumes the run.

const crashSecret = "s3cr3t-token-4f1c9a"

// crashDef touches every kind of persistence point: leaf tasks, a sealed
// `_secrets` output read by a later task, a DO_WHILE, a FORK/JOIN, the
// archive.
const crashDef = `{"name":"crash","tasks":[
  {"name":"issue","taskReferenceName":"a"},
  {"name":"use","taskReferenceName":"b","inputParameters":{"tok":"${a.output._secrets.tok}"}},
  {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 3",
   "loopOver":[{"name":"step","taskReferenceName":"c","inputParameters":{"ref":"c__${loop.output.iteration}","i":"${loop.output.iteration}"}}]},
  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
    [{"name":"step","taskReferenceName":"d1","inputParameters":{"ref":"d1"}}],
    [{"name":"step","taskReferenceName":"d2","inputParameters":{"ref":"d2"}}]]},
  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["d1","d2"]},
  {"name":"step","taskReferenceName":"e","inputParameters":{"ref":"e","used":"${b.output.ok}","n":"${c.output.i}"}}],
 "outputParameters":{"ok":"${b.output.ok}","last":"${e.output.n}"}}`

// crashEngine is the engine of both processes: every worker call appends
// its task ref to logPath (an O_APPEND write survives SIGKILL).
func crashEngine(t *testing.T, rs runstore.Store, logPath string, opts ...engine.Option) *engine.Engine {
	var mu sync.Mutex
	logRef := func(ctx context.Context, in json.RawMessage) error {
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
	base := []engine.Option{
		engine.WithRunStore(rs), engine.WithKeyring(keyring(t, 7)), engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithWorker("issue", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			if err := logRef(ctx, json.RawMessage(`{"ref":"a"}`)); err != nil {
				return nil, err
			}
			return json.RawMessage(`{"_secrets":{"tok":"` + crashSecret + `"}}`), nil
		}),
		engine.WithWorker("use", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			if err := logRef(ctx, json.RawMessage(`{"ref":"b"}`)); err != nil {
				return nil, err
			}
			var v struct{ Tok string }
			_ = json.Unmarshal(in, &v)
			if v.Tok != crashSecret {
				return nil, errors.New("the sealed token was lost")
			}
			return json.RawMessage(`{"ok":true}`), nil
		}),
		engine.WithWorker("step", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			if err := logRef(ctx, in); err != nil {
				return nil, err
			}
			return in, nil
		}),
		// once is step that fails the first time it is called for its
		// ref (in any process: the log tells).
		engine.WithWorker("once", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			var v struct {
				Ref string `json:"ref"`
			}
			_ = json.Unmarshal(in, &v)
			earlier := countLog(t, logPath)[v.Ref]
			if err := logRef(ctx, in); err != nil {
				return nil, err
			}
			if earlier == 0 {
				return nil, errors.New("the first call fails")
			}
			return in, nil
		}),
		// slow is step that, in a process started with WFRUN_CRASH_HOLD,
		// never ends (the process is killed while it runs).
		engine.WithWorker("slow", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			if err := logRef(ctx, in); err != nil {
				return nil, err
			}
			if os.Getenv("WFRUN_CRASH_HOLD") == "1" {
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return json.RawMessage(`{"ok":true}`), nil
		}),
	}
	e, err := engine.New(append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// crashStore kills the process at one write.
type crashStore struct {
	runstore.Store
	at     int
	before bool
	mu     sync.Mutex
	n      int
}

func (c *crashStore) point() (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return c.n, c.n == c.at
}

func (c *crashStore) kill() { _ = syscall.Kill(os.Getpid(), syscall.SIGKILL); select {} }

func (c *crashStore) write(fn func() error) error {
	_, hit := c.point()
	if hit && c.before {
		c.kill()
	}
	err := fn()
	if hit {
		c.kill()
	}
	return err
}

func (c *crashStore) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	return c.write(func() error { return c.Store.Commit(ctx, id, ch) })
}

func (c *crashStore) Archive(ctx context.Context, id string, doc []byte, sum runstore.Summary) error {
	return c.write(func() error { return c.Store.Archive(ctx, id, doc, sum) })
}

// TestCrashChild is the child process (skipped unless started by the
// crash tests).
func TestCrashChild(t *testing.T) {
	dbPath := os.Getenv("WFRUN_CRASH_DB")
	if dbPath == "" {
		t.Skip("child process of TestKillAtEveryPersistencePoint")
	}
	at, _ := strconv.Atoi(os.Getenv("WFRUN_CRASH_AT"))
	rs, err := runstore.OpenBolt(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	cs := &crashStore{Store: rs, at: at, before: os.Getenv("WFRUN_CRASH_BEFORE") == "1"}
	e := crashEngine(t, cs, os.Getenv("WFRUN_CRASH_LOG"))
	if at < 1000 { // 1000: a child killed by its parent, whose running task shows (visible.go)
		engine.WithoutEarlyWrites(e) // the writes counted are the reference run's
	}
	def, err := e.Parse([]byte(os.Getenv("WFRUN_CRASH_DEF")))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Println("started")
	_, err = e.Start(context.Background(), def, json.RawMessage(`{}`), engine.WithRunID(os.Getenv("WFRUN_CRASH_RUN")))
	t.Fatalf("child was not killed (write %d of %d): %v", at, cs.n, err)
}

func countLog(t *testing.T, path string) map[string]int {
	b, err := os.ReadFile(path)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, l := range strings.Fields(string(b)) {
		n[l]++
	}
	return n
}

// TestKillAtEveryPersistencePoint: for every write of a run, a process
// killed just before it and just after it leaves a run that resume
// finishes; no task whose completion was written runs again; the sealed
// `_secrets` output survives; the dead process's lease does not block.
func TestKillAtEveryPersistencePoint(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a process per persistence point")
	}
	// How many writes a whole run makes.
	count := &countingStore{Store: runstore.NewMemory()}
	e := crashEngine(t, count, filepath.Join(t.TempDir(), "log"))
	// The writes counted are the run's durable points, as many in every
	// run: an early write of a slow task (a loaded machine) would add one.
	engine.WithoutEarlyWrites(e)
	def, err := e.Parse([]byte(crashDef))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), def, nil)
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("reference run: %v %+v", err, res)
	}
	total := count.n
	if total < 10 {
		t.Fatalf("only %d writes", total)
	}
	for k := 1; k <= total; k++ {
		for _, before := range []bool{true, false} {
			name := fmt.Sprintf("write=%d/before=%v", k, before)
			t.Run(name, func(t *testing.T) { crashAndResume(t, k, before) })
		}
	}
}

type countingStore struct {
	runstore.Store
	n int
}

func (c *countingStore) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	c.n++
	return c.Store.Commit(ctx, id, ch)
}

func (c *countingStore) Archive(ctx context.Context, id string, doc []byte, sum runstore.Summary) error {
	c.n++
	return c.Store.Archive(ctx, id, doc, sum)
}

// runKilledChild runs the test process's function run (a Test…Child that
// kills itself) with env added, and fails unless SIGKILL ended it.
func runKilledChild(t *testing.T, run string, env ...string) {
	t.Helper()
	child := exec.Command(os.Args[0], "-test.run", "^"+run+"$", "-test.v")
	child.Env = append(os.Environ(), env...)
	out, err := child.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("child was not killed: %v\n%s", err, out)
	}
}

// startCrashChild starts TestCrashChild with env added and returns once it
// has said "started"; the caller kills it.
func startCrashChild(t *testing.T, env ...string) *exec.Cmd {
	t.Helper()
	child := exec.Command(os.Args[0], "-test.run", "^TestCrashChild$", "-test.v")
	child.Env = append(os.Environ(), env...)
	stdout, err := child.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() && sc.Text() != "started" {
	}
	return child
}

func crashAndResume(t *testing.T, k int, before bool) {
	dir := t.TempDir()
	db, logPath, runID := filepath.Join(dir, "runs.db"), filepath.Join(dir, "log"), "crash-run"
	runKilledChild(t, "TestCrashChild", "WFRUN_CRASH_DB="+db, "WFRUN_CRASH_AT="+strconv.Itoa(k), "WFRUN_CRASH_LOG="+logPath,
		"WFRUN_CRASH_DEF="+crashDef, "WFRUN_CRASH_RUN="+runID, "WFRUN_CRASH_BEFORE="+map[bool]string{true: "1"}[before])
	rs, err := runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	doc, archived, err := rs.Load(context.Background(), runID)
	if errors.Is(err, runstore.ErrNotFound) {
		if k == 1 && before {
			return // killed before the run's first write: there is no run
		}
		t.Fatalf("run lost after write %d", k)
	}
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Status string `json:"status"`
		Tasks  []struct {
			Ref    string `json:"referenceTaskName"`
			Status string `json:"status"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(doc), crashSecret) {
		t.Fatalf("the stored run holds the secret in clear")
	}
	completed := map[string]bool{}
	for _, tk := range d.Tasks {
		if tk.Status == engine.TaskCompleted {
			completed[tk.Ref] = true
		}
	}
	before1 := countLog(t, logPath)
	e := crashEngine(t, rs, logPath)
	res, err := e.Resume(context.Background(), runID)
	if archived {
		if !errors.Is(err, engine.ErrNotRunning) {
			t.Fatalf("resume of an archived run: %v", err)
		}
		return
	}
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("resume after write %d: %v %+v", k, err, res)
	}
	var o struct {
		OK   bool    `json:"ok"`
		Last float64 `json:"last"`
	}
	if err := json.Unmarshal(res.Output, &o); err != nil || !o.OK || o.Last != 3 {
		t.Fatalf("output %s", res.Output)
	}
	after := countLog(t, logPath)
	for ref := range completed {
		if after[ref] != before1[ref] {
			t.Errorf("task %s was completed before the crash and ran again (%d → %d)", ref, before1[ref], after[ref])
		}
	}
	for _, w := range []string{"a", "b", "c__1", "c__2", "c__3", "d1", "d2", "e"} {
		if after[w] < 1 {
			t.Errorf("task %s never ran", w)
		}
	}
	if _, err := e.Resume(context.Background(), runID); !errors.Is(err, engine.ErrNotRunning) {
		t.Fatalf("second resume: %v", err)
	}
}

// A second process cannot resume a run that a live process executes; once
// that process is killed, its run resumes at once (its lease names a dead
// process of this host).
func TestResumeOfLiveRunRefusedThenKilled(t *testing.T) {
	dir := t.TempDir()
	db, logPath, runID := filepath.Join(dir, "runs.db"), filepath.Join(dir, "log"), "live-run"
	def := `{"name":"live","tasks":[{"name":"issue","taskReferenceName":"a"},
	  {"name":"pause","taskReferenceName":"pause","type":"WAIT","inputParameters":{"duration":"2s"}},
	  {"name":"step","taskReferenceName":"e","inputParameters":{"ref":"e"}}]}`
	child := startCrashChild(t, "WFRUN_CRASH_DB="+db, "WFRUN_CRASH_AT=1000", "WFRUN_CRASH_LOG="+logPath,
		"WFRUN_CRASH_DEF="+def, "WFRUN_CRASH_RUN="+runID)
	defer child.Process.Kill()
	rs, err := runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	e := crashEngine(t, rs, logPath)
	// Wait until the child has written the run and reached the WAIT.
	deadline := time.Now().Add(20 * time.Second)
	for {
		doc, _, err := rs.Load(context.Background(), runID)
		if err == nil && strings.Contains(string(doc), `"awaitingCompletion":true`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("child never reached the WAIT: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, err = e.Resume(context.Background(), runID)
	var le *runstore.LeasedError
	if !errors.As(err, &le) || le.Holder.PID != child.Process.Pid {
		t.Fatalf("resume of a live run: %v, want refused naming pid %d", err, child.Process.Pid)
	}
	_ = child.Process.Signal(syscall.SIGKILL)
	_ = child.Wait()
	res, err := e.Resume(context.Background(), runID)
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("resume after the holder died: %v %+v", err, res)
	}
	if n := countLog(t, logPath); n["a"] != 1 || n["e"] != 1 {
		t.Fatalf("worker runs %v", n)
	}
}

// A process killed while a task runs has already written the task
// IN_PROGRESS (a task that keeps running is written early), with its input
// masked; resume runs that same attempt again (no retry record, no task
// that completed runs again) and completes the run.
func TestKillWhileTaskRunsThenResume(t *testing.T) {
	dir := t.TempDir()
	db, logPath, runID := filepath.Join(dir, "runs.db"), filepath.Join(dir, "log"), "inflight-run"
	def := `{"name":"inflight","tasks":[{"name":"issue","taskReferenceName":"a"},
	  {"name":"slow","taskReferenceName":"s","inputParameters":{"ref":"s","tok":"${a.output._secrets.tok}"}},
	  {"name":"step","taskReferenceName":"e","inputParameters":{"ref":"e"}}]}`
	child := startCrashChild(t, "WFRUN_CRASH_DB="+db, "WFRUN_CRASH_AT=1000", "WFRUN_CRASH_LOG="+logPath,
		"WFRUN_CRASH_DEF="+def, "WFRUN_CRASH_RUN="+runID, "WFRUN_CRASH_HOLD=1")
	defer child.Process.Kill()
	rs, err := runstore.OpenBolt(db)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	type task struct {
		Ref        string          `json:"referenceTaskName"`
		Status     string          `json:"status"`
		RetryCount int             `json:"retryCount"`
		Input      json.RawMessage `json:"inputData"`
	}
	type run struct {
		Status string `json:"status"`
		Tasks  []task `json:"tasks"`
	}
	load := func() (run, []byte) {
		doc, _, err := rs.Load(context.Background(), runID)
		var r run
		if err == nil {
			_ = json.Unmarshal(doc, &r)
		}
		return r, doc
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, doc := load()
		if len(r.Tasks) == 2 && r.Tasks[1].Ref == "s" && r.Tasks[1].Status == engine.TaskInProgress {
			if strings.Contains(string(doc), crashSecret) {
				t.Fatalf("the running task was stored with the secret in clear: %s", doc)
			}
			var in struct{ Ref, Tok string }
			if err := json.Unmarshal(r.Tasks[1].Input, &in); err != nil || in.Ref != "s" || in.Tok != "***" {
				t.Fatalf("the running task's stored input: %s", r.Tasks[1].Input)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the running task never showed IN_PROGRESS in the store: %s", doc)
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = child.Process.Signal(syscall.SIGKILL)
	_ = child.Wait()
	e := crashEngine(t, rs, logPath)
	res, err := e.Resume(context.Background(), runID)
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("resume: %v %+v", err, res)
	}
	if n := countLog(t, logPath); n["a"] != 1 || n["s"] != 2 || n["e"] != 1 {
		t.Fatalf("worker runs %v, want a once, s twice (killed, resumed), e once", n)
	}
	doc, archived, err := rs.Load(context.Background(), runID)
	if err != nil || !archived {
		t.Fatalf("after resume: %v archived=%v", err, archived)
	}
	var r run
	if err := json.Unmarshal(doc, &r); err != nil {
		t.Fatal(err)
	}
	var refs []string
	for _, tk := range r.Tasks {
		refs = append(refs, fmt.Sprintf("%s:%s:%d", tk.Ref, tk.Status, tk.RetryCount))
	}
	if got := strings.Join(refs, " "); got != "a:COMPLETED:0 s:COMPLETED:0 e:COMPLETED:0" {
		t.Fatalf("tasks after resume: %s", got)
	}
}
