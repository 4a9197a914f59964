package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// sizingStore records the size of every change committed to it, in order.
type sizingStore struct {
	runstore.Store
	mu    sync.Mutex
	sizes []int
}

func (s *sizingStore) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	err := s.Store.Commit(ctx, id, ch)
	if err == nil {
		s.mu.Lock()
		s.sizes = append(s.sizes, ch.Size())
		s.mu.Unlock()
	}
	return err
}

func (s *sizingStore) committed() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.sizes...)
}

// chainTaskDefs is a registry with a definition, of about 300 bytes once
// encoded, for each task t0..t(n-1) of inlineChain(n).
func chainTaskDefs(t testing.TB, n int) *engine.TaskDefs {
	t.Helper()
	defs := engine.NewTaskDefs()
	for i := range n {
		d := taskDefRetries(fmt.Sprintf("t%d", i), 1, 0)
		d.Description = fmt.Sprintf("step %d of the chain: adds one to what the step before it gave", i)
		d.InputKeys, d.OutputKeys = []string{"evaluatorType", "expression", "a"}, []string{"result"}
		if err := defs.Put(d); err != nil {
			t.Fatal(err)
		}
	}
	return defs
}

// runChain runs inlineChain(n) to completion on a memory store (with the
// registry when defs is not nil) and returns the size of each commit and
// the archived run's sealed task definitions.
func runChain(t *testing.T, n int, defs *engine.TaskDefs) (sizes []int, snapshot string) {
	t.Helper()
	rs := &sizingStore{Store: runstore.NewMemory()}
	opts := []engine.Option{engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry())}
	if defs != nil {
		opts = append(opts, engine.WithTaskDefs(defs))
	}
	e, err := engine.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	// Commits compared between two runs: no early write of a task held
	// off the CPU on a loaded machine.
	engine.WithoutEarlyWrites(e)
	d, err := e.Parse([]byte(inlineChain(n)))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, json.RawMessage(`{"start":1}`))
	if err != nil || res.Status != engine.StatusCompleted || string(res.Output) != fmt.Sprintf(`{"n":%d}`, n+1) {
		t.Fatalf("run: %v %+v", err, res)
	}
	doc, archived, err := rs.Load(context.Background(), res.RunID)
	if err != nil || !archived {
		t.Fatalf("load: archived %v, %v", archived, err)
	}
	var m struct {
		TaskDefs string `json:"taskDefs"`
	}
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	return rs.committed(), m.TaskDefs
}

// SPEC §8 "a run persists what changed, not the whole run": the task
// definitions a run keeps (taskdefsnap.go) are committed when the run is
// created, not with each of its writes. The same 50-task chain runs with
// and without a registry of its 50 task definitions: the commits are as
// many, and only one of them is larger by the snapshot.
func TestTaskDefSnapshotIsCommittedOnce(t *testing.T) {
	const n = 50
	plain, none := runChain(t, n, nil)
	withDefs, snap := runChain(t, n, chainTaskDefs(t, n))
	if none != "" || snap == "" {
		t.Fatalf("snapshot without a registry %d bytes, with one %d bytes", len(none), len(snap))
	}
	if len(withDefs) != len(plain) {
		t.Fatalf("%d commits with a registry, %d without", len(withDefs), len(plain))
	}
	carrying, extra := 0, 0
	for i := range plain {
		d := withDefs[i] - plain[i]
		extra += d
		if d > len(snap)/2 {
			carrying++
		}
	}
	t.Logf("%d commits; snapshot %d bytes; the registry added %d bytes in all (%d per commit)", len(plain), len(snap), extra, extra/len(plain))
	if carrying != 1 || extra > len(snap)+len(snap)/4 {
		t.Fatalf("the %d-byte snapshot was carried by %d of %d commits (%d bytes added in all), want by one", len(snap), carrying, len(plain), extra)
	}
}

// The bytes a chain persists per task, with a registry holding each task's
// definition, stay flat from 10 to 1 000 tasks (SPEC §8: within 2×).
func TestChainWithTaskDefsPersistsFlatBytesPerTask(t *testing.T) {
	perTask := map[int]float64{}
	var line []string
	for _, n := range []int{10, 100, 1000} {
		sizes, _ := runChain(t, n, chainTaskDefs(t, n))
		total := 0
		for _, s := range sizes {
			total += s
		}
		perTask[n] = float64(total) / float64(n)
		line = append(line, fmt.Sprintf("%d tasks: %.0f B/task", n, perTask[n]))
	}
	t.Log(strings.Join(line, ", "))
	if perTask[1000] > 2*perTask[10] {
		t.Fatalf("bytes committed per task grow with the chain: %s", strings.Join(line, ", "))
	}
}

// BenchmarkRunTaskDefs is BenchmarkRun's chain with a registry holding
// each task's definition (as `wfrun serve` always has one): the bytes
// persisted per task stay flat with the chain's length.
func BenchmarkRunTaskDefs(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		b.Run(fmt.Sprintf("tasks=%d", n), func(b *testing.B) {
			rs := runstore.NewMemory()
			e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()),
				engine.WithTaskDefs(chainTaskDefs(b, n)))
			if err != nil {
				b.Fatal(err)
			}
			def, err := e.Parse([]byte(inlineChain(n)))
			if err != nil {
				b.Fatal(err)
			}
			want := fmt.Sprintf(`{"n":%d}`, n+1)
			before := rs.Stats()
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				res, err := e.Start(context.Background(), def, json.RawMessage(`{"start":1}`))
				if err != nil || res.Status != engine.StatusCompleted || string(res.Output) != want {
					b.Fatalf("%v %+v", err, res)
				}
			}
			b.StopTimer()
			report(b, rs, before, n)
		})
	}
}

// headStore records the head, task definitions part and log entries of
// every change.
type headStore struct {
	runstore.Store
	mu      sync.Mutex
	changes []runstore.Change
}

func (s *headStore) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	s.mu.Lock()
	s.changes = append(s.changes, runstore.Change{Head: append([]byte(nil), ch.Head...), TaskDefs: append([]byte(nil), ch.TaskDefs...), Log: ch.Log})
	s.mu.Unlock()
	return s.Store.Commit(ctx, id, ch)
}

// A run stored by a wfrun that kept the task definitions in the run's head
// resumes with them (not with the ones registered now), and its first
// write moves them to their own part.
func TestTaskDefsInAnEarlierHeadMoveToTheirPart(t *testing.T) {
	wfJSON := `{"name":"snap_head","version":1,"schemaVersion":2,"tasks":[{"name":"flaky","taskReferenceName":"f"}]}`
	defs := engine.NewTaskDefs()
	if err := defs.Put(taskDefRetries("flaky", 0, 0)); err != nil {
		t.Fatal(err)
	}
	rs := &headStore{Store: runstore.NewMemory()}
	// Runs stored by an earlier wfrun have no sealed head: believed on
	// WithUnsealedHeads.
	e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs), engine.WithUnsealedHeads(),
		engine.WithWorker("flaky", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return nil, fmt.Errorf("flaky failed")
		}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(wfJSON))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := e.Start(ctx, d, json.RawMessage(`{}`))
	if err != nil || res.Status != engine.StatusFailed {
		t.Fatalf("start: %v %+v", err, res)
	}
	// The run as an earlier wfrun stored it just after its creation: the
	// sealed task definitions among the head's members, no part of their
	// own.
	doc, archived, err := rs.Load(ctx, res.RunID)
	if err != nil || !archived {
		t.Fatalf("load: archived %v, %v", archived, err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil || m["taskDefs"] == nil {
		t.Fatalf("the run keeps no task definitions: %v", err)
	}
	var hash string
	if err := json.Unmarshal(m["definitionHash"], &hash); err != nil {
		t.Fatal(err)
	}
	ch := &runstore.Change{Input: m["input"], Variables: m["variables"], Output: []byte(`{}`),
		DefinitionHash: hash, Definition: m["workflowDefinition"]}
	for _, k := range []string{"input", "output", "variables", "tasks", "workflowDefinition", "endTime", "reasonForIncompletion", "failedTaskId", "headSeal", "partsSealed", "partsSeal"} {
		delete(m, k)
	}
	m["status"] = json.RawMessage(`"RUNNING"`)
	if ch.Head, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	ch.Summary = runstore.Summary{WorkflowType: "snap_head", Version: 1, Status: engine.StatusRunning}
	if err := rs.Store.Restore(ctx, res.RunID, ch); err != nil {
		t.Fatal(err)
	}
	// Registered now: two retries. The run keeps none.
	if err := defs.Put(taskDefRetries("flaky", 2, 0)); err != nil {
		t.Fatal(err)
	}
	rs.mu.Lock()
	rs.changes = nil
	rs.mu.Unlock()
	res, err = e.Resume(ctx, res.RunID)
	if err != nil || res.Status != engine.StatusFailed {
		t.Fatalf("resume: %v %+v", err, res)
	}
	if wf := viewRun(t, e, res.RunID); len(wf.Tasks) != 1 {
		t.Fatalf("%d attempts after the resume, want 1 (no retries, as when it started)", len(wf.Tasks))
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if len(rs.changes) == 0 {
		t.Fatal("the resumed run wrote nothing")
	}
	for i, c := range rs.changes {
		if strings.Contains(string(c.Head), `"taskDefs"`) {
			t.Fatalf("write %d still carries the task definitions in the head", i)
		}
		if (i == 0) != (len(c.TaskDefs) > 0) {
			t.Fatalf("write %d carries %d bytes of task definitions: want them with the first write only", i, len(c.TaskDefs))
		}
	}
}

// A task name of the definition that had no registered definition when the
// run started keeps having none (the snapshot does not store it; the
// name is the definition's): a definition registered later does not
// retry it on a restart. (A system task, whose ad-hoc definition has no
// retries: a worker task's would retry it 60 s apart.)
func TestTaskNameWithoutDefinitionAtStartKeepsNone(t *testing.T) {
	wfJSON := `{"name":"snap_none","version":1,"schemaVersion":2,"tasks":[{"name":"unregistered","taskReferenceName":"u","type":"INLINE",
	  "inputParameters":{"evaluatorType":"javascript","expression":"(function(){ throw new Error('unregistered failed'); })()"}}]}`
	defs := engine.NewTaskDefs()
	e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(wfJSON))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	res, err := e.Start(ctx, d, json.RawMessage(`{}`))
	if err != nil || res.Status != engine.StatusFailed {
		t.Fatalf("start: %v %+v", err, res)
	}
	if err := defs.Put(taskDefRetries("unregistered", 2, 0)); err != nil {
		t.Fatal(err)
	}
	attempts := func(want int) {
		t.Helper()
		if wf := viewRun(t, e, res.RunID); wf.Status != engine.StatusFailed || len(wf.Tasks) != want {
			t.Fatalf("%s with %d attempts, want FAILED with %d", wf.Status, len(wf.Tasks), want)
		}
	}
	if _, err := e.Restart(ctx, res.RunID, true); err != nil {
		t.Fatal(err)
	}
	attempts(1)
}
