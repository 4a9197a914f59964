package runstore_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
)

// backends are the stores the conformance suite runs on: every store keeps
// the same parts and must give the same documents.
func backends() []struct {
	name string
	open func(t *testing.T) runstore.Store
} {
	return []struct {
		name string
		open func(t *testing.T) runstore.Store
	}{
		{"memory", func(t *testing.T) runstore.Store { return runstore.NewMemory() }},
		{"bolt", func(t *testing.T) runstore.Store {
			s, err := runstore.OpenBolt(filepath.Join(t.TempDir(), "runs.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
		// The bolt store folding its journal into the parts after every
		// write, and every third.
		{"bolt-fold-1", openBoltFolding(1)},
		{"bolt-fold-3", openBoltFolding(3)},
		{"redis", func(t *testing.T) runstore.Store {
			addr := redistest.Start(t)
			s, err := runstore.OpenRedis("redis://" + addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			return s
		}},
	}
}

// TestConformance runs the suite on every backend.
func TestConformance(t *testing.T) {
	suite := []struct {
		name string
		fn   func(t *testing.T, s runstore.Store)
	}{
		{"CommitByParts", testCommitByParts},
		{"DefinitionShared", testDefinitionShared},
		{"ArchiveRestoreDelete", testArchiveRestoreDelete},
		{"Signals", testSignals},
		{"Leases", testLeases},
		{"LeaseInCommit", testLeaseInCommit},
		{"ConcurrentCommits", testConcurrentCommits},
		{"NeighbourIDs", testNeighbourIDs},
		{"TaskDefsPart", testTaskDefsPart},
		{"MocksPart", testMocksPart},
		{"LogPart", testLogPart},
		{"CommitAfterArchive", testCommitAfterArchive},
		{"LargeCommit", testLargeCommit},
		{"ArchiveAfterArchive", testArchiveAfterArchive},
		{"LoadTask", testLoadTask},
		{"LoadTaskRef", testLoadTaskRef},
		{"RunsTagged", testRunsTagged},
	}
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			for _, c := range suite {
				t.Run(c.name, func(t *testing.T) { c.fn(t, b.open(t)) })
			}
		})
	}
}

var ctx = context.Background()

func openBoltFolding(limit int) func(t *testing.T) runstore.Store {
	return func(t *testing.T) runstore.Store {
		s, err := runstore.OpenBolt(filepath.Join(t.TempDir(), "runs.db"), runstore.WithJournalLimit(limit))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}
}

func sum(status string, created int64) runstore.Summary {
	return runstore.Summary{WorkflowType: "wf", Version: 1, Status: status, CreateTime: created}
}

func first(id string) *runstore.Change {
	return &runstore.Change{
		Summary: sum("RUNNING", 1), Head: []byte(`{"workflowId":"` + id + `","status":"RUNNING"}`),
		Input: []byte(`{"a":1}`), Variables: []byte(`{}`),
		DefinitionHash: "h1", Definition: []byte(`{"name":"wf"}`),
	}
}

func load(t *testing.T, s runstore.Store, id string) (string, bool) {
	t.Helper()
	doc, archived, err := s.Load(ctx, id)
	if err != nil {
		t.Fatalf("Load(%s): %v", id, err)
	}
	if !json.Valid(doc) {
		t.Fatalf("Load(%s) is not JSON: %s", id, doc)
	}
	return string(doc), archived
}

func testCommitByParts(t *testing.T, s runstore.Store) {
	if _, _, err := s.Load(ctx, "nope"); !errors.Is(err, runstore.ErrNotFound) {
		t.Fatalf("Load(missing) = %v, want ErrNotFound", err)
	}
	if err := s.Commit(ctx, "r1", first("r1")); err != nil {
		t.Fatal(err)
	}
	doc, archived := load(t, s, "r1")
	want := `{"workflowId":"r1","status":"RUNNING","input":{"a":1},"output":{},"variables":{},"tasks":[],"workflowDefinition":{"name":"wf"}}`
	if archived || doc != want {
		t.Fatalf("Load =\n%s\nwant\n%s", doc, want)
	}
	// Task records are written on their own and ordered by Seq, whatever
	// the order they were written in; unchanged parts stay.
	steps := []*runstore.Change{
		{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 2, Doc: []byte(`{"ref":"b"}`)}}},
		{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 1, Doc: []byte(`{"ref":"a"}`)}}, Variables: []byte(`{"v":2}`)},
		{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 2, Doc: []byte(`{"ref":"b","done":true}`)}},
			Head: []byte(`{"workflowId":"r1","status":"RUNNING","updateTime":5}`)},
		{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 10, Doc: []byte(`{"ref":"c"}`)}, {Seq: 11, Doc: []byte(`{"ref":"d"}`)}}},
		{Summary: sum("RUNNING", 1), DeleteTasks: []int{11, 12}},
	}
	for _, ch := range steps {
		if err := s.Commit(ctx, "r1", ch); err != nil {
			t.Fatal(err)
		}
	}
	doc, _ = load(t, s, "r1")
	want = `{"workflowId":"r1","status":"RUNNING","updateTime":5,"input":{"a":1},"output":{},"variables":{"v":2},"tasks":[{"ref":"a"},{"ref":"b","done":true},{"ref":"c"}],"workflowDefinition":{"name":"wf"}}`
	if doc != want {
		t.Fatalf("Load =\n%s\nwant\n%s", doc, want)
	}
	if st, ok := s.(runstore.StatsReporter); ok {
		if got := st.Stats(); got.Commits < 5 || got.Bytes <= 0 {
			t.Fatalf("Stats = %+v", got)
		}
	}
}

func testDefinitionShared(t *testing.T, s runstore.Store) {
	if err := s.Commit(ctx, "r1", first("r1")); err != nil {
		t.Fatal(err)
	}
	// A second run of the same definition names it by hash only.
	ch := first("r2")
	ch.Definition = nil
	if err := s.Commit(ctx, "r2", ch); err != nil {
		t.Fatal(err)
	}
	doc, _ := load(t, s, "r2")
	var d struct {
		Def json.RawMessage `json:"workflowDefinition"`
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil || string(d.Def) != `{"name":"wf"}` {
		t.Fatalf("r2 definition = %s %v", d.Def, err)
	}
}

func testArchiveRestoreDelete(t *testing.T, s runstore.Store) {
	if err := s.Commit(ctx, "r1", first("r1")); err != nil {
		t.Fatal(err)
	}
	c2 := first("r2")
	c2.Summary = sum("RUNNING", 2)
	c2.Summary.ParentID = "r1"
	if err := s.Commit(ctx, "r2", c2); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "r1"); !errors.Is(err, runstore.ErrNotEnded) {
		t.Fatalf("Delete(running) = %v, want ErrNotEnded", err)
	}
	if err := s.PutSignal(ctx, "r1", "k", []byte(`1`)); err != nil {
		t.Fatal(err)
	}
	if err := s.Archive(ctx, "r1", []byte(`{"v":"***"}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	doc, archived := load(t, s, "r1")
	if !archived || doc != `{"v":"***"}` {
		t.Fatalf("Load archived = %s %v", doc, archived)
	}
	if sig, _ := s.TakeSignals(ctx, "r1"); len(sig) != 0 {
		t.Fatalf("Archive left signals: %v", sig)
	}
	list, err := s.List(ctx, runstore.ListOptions{})
	if err != nil || len(list) != 2 || list[0].ID != "r2" || !list[1].Archived || list[1].Status != "COMPLETED" {
		t.Fatalf("List = %+v %v", list, err)
	}
	if list, _ := s.List(ctx, runstore.ListOptions{Status: "running"}); len(list) != 1 || list[0].ID != "r2" {
		t.Fatalf("List(status) = %+v", list)
	}
	if list, _ := s.List(ctx, runstore.ListOptions{ParentID: "r1"}); len(list) != 1 || list[0].ID != "r2" {
		t.Fatalf("List(parent) = %+v", list)
	}
	// Restore replaces the record wholly: parts of the old one do not come back.
	rc := &runstore.Change{Summary: sum("RUNNING", 1), Head: []byte(`{"workflowId":"r1"}`),
		Tasks: []runstore.Task{{Seq: 3, Doc: []byte(`{"t":3}`)}}, DefinitionHash: "h1"}
	if err := s.Restore(ctx, "r1", rc); err != nil {
		t.Fatal(err)
	}
	doc, archived = load(t, s, "r1")
	if archived || doc != `{"workflowId":"r1","input":{},"output":{},"variables":{},"tasks":[{"t":3}],"workflowDefinition":{"name":"wf"}}` {
		t.Fatalf("after Restore: %s archived=%v", doc, archived)
	}
	if err := s.Archive(ctx, "r1", []byte(`{}`), sum("FAILED", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(ctx, "r1"); !errors.Is(err, runstore.ErrNotFound) {
		t.Fatalf("Load(deleted) = %v", err)
	}
	if err := s.Delete(ctx, "r1"); !errors.Is(err, runstore.ErrNotFound) {
		t.Fatalf("Delete(deleted) = %v", err)
	}
	if list, _ := s.List(ctx, runstore.ListOptions{}); len(list) != 1 {
		t.Fatalf("List after Delete = %+v", list)
	}
}

// An Archive of a run archived already (no primary record) is refused
// (ErrArchived) and writes nothing: the first archive and its summary
// stand, as another process that ended the run first stored them.
// Restore brings the run back, and it archives again; Delete removes it.
func testArchiveAfterArchive(t *testing.T, s runstore.Store) {
	const firstEnd = `{"workflowId":"r1","status":"TERMINATED","v":"***"}`
	if err := s.Commit(ctx, "r1", first("r1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Archive(ctx, "r1", []byte(firstEnd), sum("TERMINATED", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSignal(ctx, "r1", "k", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	err := s.Archive(ctx, "r1", []byte(`{"workflowId":"r1","status":"COMPLETED"}`), sum("COMPLETED", 1))
	if !errors.Is(err, runstore.ErrArchived) || errors.Is(err, runstore.ErrUnavailable) {
		t.Fatalf("Archive after Archive = %v, want ErrArchived", err)
	}
	if doc, archived := load(t, s, "r1"); !archived || doc != firstEnd {
		t.Fatalf("Load after a refused archive = %s archived=%v", doc, archived)
	}
	list, err := s.List(ctx, runstore.ListOptions{})
	if err != nil || len(list) != 1 || !list[0].Archived || list[0].Status != "TERMINATED" {
		t.Fatalf("List after a refused archive = %+v %v", list, err)
	}
	// The signal was not stored: nobody would take it for an ended run.
	if sigs, err := s.TakeSignals(ctx, "r1"); err != nil || len(sigs) != 0 {
		t.Fatalf("a signal of an archived run was stored: %v %v", sigs, err)
	}
	// Restored, the run is primary again and archives again.
	if err := s.Restore(ctx, "r1", first("r1")); err != nil {
		t.Fatal(err)
	}
	const again = `{"workflowId":"r1","status":"COMPLETED","again":true}`
	if err := s.Archive(ctx, "r1", []byte(again), sum("COMPLETED", 1)); err != nil {
		t.Fatalf("Archive after Restore: %v", err)
	}
	if doc, archived := load(t, s, "r1"); !archived || doc != again {
		t.Fatalf("Load after the second archive = %s archived=%v", doc, archived)
	}
	// Other runs archived beside a refused one are archived.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		id := fmt.Sprintf("o%d", i)
		if err := s.Commit(ctx, id, first(id)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("o%d", i)
			errs[i] = s.Archive(ctx, id, []byte(`{"workflowId":"`+id+`"}`), sum("COMPLETED", 1))
			if err := s.Archive(ctx, "r1", []byte(`{}`), sum("FAILED", 1)); !errors.Is(err, runstore.ErrArchived) && errs[i] == nil {
				errs[i] = fmt.Errorf("late archive of r1: %v", err)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("archive o%d: %v", i, err)
		}
		id := fmt.Sprintf("o%d", i)
		if doc, archived := load(t, s, id); !archived || doc != `{"workflowId":"`+id+`"}` {
			t.Fatalf("Load(%s) = %s archived=%v", id, doc, archived)
		}
	}
	if doc, _ := load(t, s, "r1"); doc != again {
		t.Fatalf("r1 after late archives = %s", doc)
	}
	if err := s.Delete(ctx, "r1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Load(ctx, "r1"); !errors.Is(err, runstore.ErrNotFound) {
		t.Fatalf("Load after Delete: %v", err)
	}
}

// A Commit of an archived run is refused (ErrArchived) and writes nothing:
// no primary record beside the archive, no summary over the archived one,
// no lease. Restore brings the run back and Commit works again; Delete
// removes the archive.
func testCommitAfterArchive(t *testing.T, s runstore.Store) {
	if err := s.Commit(ctx, "r1", first("r1")); err != nil {
		t.Fatal(err)
	}
	if err := s.Archive(ctx, "r1", []byte(`{"workflowId":"r1","v":"***"}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	owner := runstore.NewLease("late-writer")
	late := []*runstore.Change{
		// A late write: the head and a record changed since, sealed.
		{Summary: sum("RUNNING", 1), Head: []byte(`{"workflowId":"r1","status":"RUNNING"}`),
			Tasks: []runstore.Task{{Seq: 1, Doc: []byte(`{"outputData":"sealed:v1:abc"}`)}}},
		// One that takes the lease, as another process's first write does.
		{Summary: sum("RUNNING", 1), Head: []byte(`{"workflowId":"r1","status":"PAUSED"}`), Lease: &owner, LeaseTTL: time.Minute},
		// A whole record (a definition, deleted records).
		func() *runstore.Change { c := first("r1"); c.DeleteTasks = []int{1}; return c }(),
	}
	for i, ch := range late {
		err := s.Commit(ctx, "r1", ch)
		if !errors.Is(err, runstore.ErrArchived) {
			t.Fatalf("Commit %d after Archive = %v, want ErrArchived", i, err)
		}
		if errors.Is(err, runstore.ErrUnavailable) {
			t.Fatalf("Commit %d after Archive = %v: not a store failure", i, err)
		}
	}
	if doc, archived := load(t, s, "r1"); !archived || doc != `{"workflowId":"r1","v":"***"}` {
		t.Fatalf("Load after refused commits = %s archived=%v", doc, archived)
	}
	list, err := s.List(ctx, runstore.ListOptions{})
	if err != nil || len(list) != 1 || !list[0].Archived || list[0].Status != "COMPLETED" || list[0].Lease != nil {
		t.Fatalf("List after refused commits = %+v %v", list, err)
	}
	if _, ok, err := s.GetLease(ctx, "r1"); ok || err != nil {
		t.Fatalf("a refused commit left a lease: %v %v", ok, err)
	}
	// Other runs committed beside the refused one are written.
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				errs[i] = s.Commit(ctx, "r1", late[0])
				if errors.Is(errs[i], runstore.ErrArchived) {
					errs[i] = nil
				} else {
					errs[i] = fmt.Errorf("archived run: %v", errs[i])
				}
				return
			}
			id := fmt.Sprintf("o%d", i)
			errs[i] = s.Commit(ctx, id, first(id))
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if doc, archived := load(t, s, "o1"); archived || doc[:20] != `{"workflowId":"o1","` {
		t.Fatalf("a run committed beside the refused one: %s", doc)
	}
	// Restore (restart) makes it primary; commits follow.
	rc := &runstore.Change{Summary: sum("RUNNING", 1), Head: []byte(`{"workflowId":"r1","status":"RUNNING"}`), DefinitionHash: "h1"}
	if err := s.Restore(ctx, "r1", rc); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(ctx, "r1", &runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 1, Doc: []byte(`{"t":1}`)}}}); err != nil {
		t.Fatalf("Commit after Restore: %v", err)
	}
	if doc, archived := load(t, s, "r1"); archived || doc != `{"workflowId":"r1","status":"RUNNING","input":{},"output":{},"variables":{},"tasks":[{"t":1}],"workflowDefinition":{"name":"wf"}}` {
		t.Fatalf("after Restore and Commit: %s archived=%v", doc, archived)
	}
	if err := s.Archive(ctx, "r1", []byte(`{}`), sum("FAILED", 1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "r1"); err != nil {
		t.Fatalf("Delete of the archived run: %v", err)
	}
	if _, _, err := s.Load(ctx, "r1"); !errors.Is(err, runstore.ErrNotFound) {
		t.Fatalf("Load(deleted) = %v", err)
	}
}

// A change of many parts (a restart or a first write of a long run) is
// written whole.
func testLargeCommit(t *testing.T, s runstore.Store) {
	const n = 2500
	ch := first("r1")
	for i := 1; i <= n; i++ {
		ch.Tasks = append(ch.Tasks, runstore.Task{Seq: i, Doc: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	if err := s.Commit(ctx, "r1", ch); err != nil {
		t.Fatal(err)
	}
	del := &runstore.Change{Summary: sum("RUNNING", 1)}
	for i := 1; i <= n; i++ {
		if i%5 != 0 {
			del.DeleteTasks = append(del.DeleteTasks, i)
		}
	}
	if err := s.Commit(ctx, "r1", del); err != nil {
		t.Fatal(err)
	}
	var d struct{ Tasks []struct{ N int } }
	doc, _ := load(t, s, "r1")
	if err := json.Unmarshal([]byte(doc), &d); err != nil || len(d.Tasks) != n/5 || d.Tasks[0].N != 5 || d.Tasks[n/5-1].N != n {
		t.Fatalf("tasks after a large commit and delete: %d %v", len(d.Tasks), err)
	}
}

func testSignals(t *testing.T, s runstore.Store) {
	if err := s.PutSignal(ctx, "r1", "wait_ref", []byte(`{"x":1}`)); err != nil {
		t.Fatal(err)
	}
	if err := s.PutSignal(ctx, "r10", "other", []byte(`2`)); err != nil {
		t.Fatal(err)
	}
	sig, err := s.TakeSignals(ctx, "r1")
	if err != nil || string(sig["wait_ref"]) != `{"x":1}` || len(sig) != 1 {
		t.Fatalf("TakeSignals = %v %v", sig, err)
	}
	if sig, _ := s.TakeSignals(ctx, "r1"); len(sig) != 0 {
		t.Fatalf("signals not deleted: %v", sig)
	}
	if sig, _ := s.TakeSignals(ctx, "r10"); len(sig) != 1 {
		t.Fatalf("another run's signals: %v", sig)
	}
}

func testLeases(t *testing.T, s runstore.Store) {
	a, b := runstore.NewLease("owner-a"), runstore.NewLease("owner-b")
	if _, ok, err := s.GetLease(ctx, "r1"); ok || err != nil {
		t.Fatalf("GetLease(none) = %v %v", ok, err)
	}
	if err := s.AcquireLease(ctx, "r1", a, time.Minute); err != nil {
		t.Fatal(err)
	}
	err := s.AcquireLease(ctx, "r1", b, time.Minute)
	var le *runstore.LeasedError
	if !errors.Is(err, runstore.ErrLeased) || !errors.As(err, &le) || le.Holder.Owner != "owner-a" || le.Holder.PID == 0 {
		t.Fatalf("AcquireLease(other) = %v, want the holder named", err)
	}
	if err := s.AcquireLease(ctx, "r1", a, 300*time.Millisecond); err != nil {
		t.Fatalf("renew: %v", err)
	}
	l, ok, err := s.GetLease(ctx, "r1")
	if err != nil || !ok || l.Owner != "owner-a" || !l.Live(time.Now()) {
		t.Fatalf("GetLease = %+v %v %v", l, ok, err)
	}
	// A lease that is not renewed expires and can be taken over.
	time.Sleep(400 * time.Millisecond)
	if err := s.AcquireLease(ctx, "r1", b, time.Minute); err != nil {
		t.Fatalf("take over expired lease: %v", err)
	}
	if err := s.ReleaseLease(ctx, "r1", "owner-a"); err != nil {
		t.Fatal(err)
	}
	if l, ok, _ := s.GetLease(ctx, "r1"); !ok || l.Owner != "owner-b" {
		t.Fatalf("release by a non-holder dropped the lease: %+v %v", l, ok)
	}
	if err := s.ReleaseLease(ctx, "r1", "owner-b"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.GetLease(ctx, "r1"); ok {
		t.Fatal("lease not released")
	}
}

func testLeaseInCommit(t *testing.T, s runstore.Store) {
	a, b := runstore.NewLease("owner-a"), runstore.NewLease("owner-b")
	ch := first("r1")
	ch.Lease, ch.LeaseTTL = &a, time.Minute
	if err := s.Commit(ctx, "r1", ch); err != nil {
		t.Fatal(err)
	}
	list, err := s.List(ctx, runstore.ListOptions{})
	if err != nil || len(list) != 1 || list[0].Lease == nil || list[0].Lease.Owner != "owner-a" {
		t.Fatalf("List lease = %+v %v", list, err)
	}
	ch2 := &runstore.Change{Summary: sum("RUNNING", 1), Head: []byte(`{"stolen":true}`), Lease: &b, LeaseTTL: time.Minute}
	if err := s.Commit(ctx, "r1", ch2); !errors.Is(err, runstore.ErrLeased) {
		t.Fatalf("Commit under another's lease = %v", err)
	}
	if doc, _ := load(t, s, "r1"); doc[:20] != `{"workflowId":"r1","` {
		t.Fatalf("a refused change was written: %s", doc)
	}
	if err := s.Archive(ctx, "r1", []byte(`{}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.GetLease(ctx, "r1"); ok {
		t.Fatal("Archive left the lease")
	}
}

func testConcurrentCommits(t *testing.T, s runstore.Store) {
	const runs, steps = 64, 5
	var wg sync.WaitGroup
	errs := make(chan error, runs)
	for i := 0; i < runs; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			id := fmt.Sprintf("r%02d", i)
			if err := s.Commit(ctx, id, first(id)); err != nil {
				errs <- err
				return
			}
			for j := 1; j <= steps; j++ {
				ch := &runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: j, Doc: []byte(fmt.Sprintf(`{"n":%d}`, j))}}}
				if err := s.Commit(ctx, id, ch); err != nil {
					errs <- err
					return
				}
			}
			if err := s.Archive(ctx, id, []byte(`{"done":true}`), sum("COMPLETED", 1)); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	list, err := s.List(ctx, runstore.ListOptions{Status: "COMPLETED"})
	if err != nil || len(list) != runs {
		t.Fatalf("List = %d runs, %v", len(list), err)
	}
}

// Runs whose ids extend one another keep their own records.
func testNeighbourIDs(t *testing.T, s runstore.Store) {
	ids := []string{"a", "a0", "a-b", "ab"}
	for i, id := range ids {
		ch := first(id)
		ch.Summary = sum("RUNNING", int64(i+1))
		ch.Tasks = []runstore.Task{{Seq: 1, Doc: []byte(`{"of":"` + id + `"}`)}}
		if err := s.Commit(ctx, id, ch); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Archive(ctx, "a", []byte(`{"archived":"a"}`), sum("COMPLETED", 1)); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids[1:] {
		doc, archived := load(t, s, id)
		want := `{"workflowId":"` + id + `","status":"RUNNING","input":{"a":1},"output":{},"variables":{},"tasks":[{"of":"` + id + `"}],"workflowDefinition":{"name":"wf"}}`
		if archived || doc != want {
			t.Fatalf("Load(%s) = %s", id, doc)
		}
	}
	list, err := s.List(ctx, runstore.ListOptions{})
	if err != nil || len(list) != len(ids) {
		t.Fatalf("List = %+v %v", list, err)
	}
	for i, l := range list {
		if want := ids[len(ids)-1-i]; l.ID != want || l.Archived != (want == "a") {
			t.Fatalf("List[%d] = %+v, want %s", i, l, want)
		}
	}
	if err := s.Delete(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "a0"); !errors.Is(err, runstore.ErrNotEnded) {
		t.Fatalf("Delete(a0) = %v", err)
	}
}

// Two Bolt stores on one file stand for two processes (each holds the file
// lock while it uses the file and hands it over when the other asks):
// alternating and concurrent use must both work, without lock timeouts.
func TestBoltSharedFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "runs.db")
	a, err := runstore.OpenBolt(p, runstore.WithLockTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := runstore.OpenBolt(p, runstore.WithLockTimeout(5*time.Second), runstore.WithIdleRelease(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 50; i++ {
		wg.Add(2)
		go func(i int) {
			defer wg.Done()
			ch := first("r")
			ch.Tasks = []runstore.Task{{Seq: i + 1, Doc: []byte(`{}`)}}
			if err := a.Commit(ctx, "r", ch); err != nil {
				errs <- err
			}
		}(i)
		go func() {
			defer wg.Done()
			if err := b.PutSignal(ctx, "r", "k", []byte(`1`)); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	doc, _, err := b.Load(ctx, "r")
	if err != nil {
		t.Fatal(err)
	}
	var d struct{ Tasks []json.RawMessage }
	if err := json.Unmarshal(doc, &d); err != nil || len(d.Tasks) != 50 {
		t.Fatalf("tasks = %d %v", len(d.Tasks), err)
	}
	sig, err := a.TakeSignals(ctx, "r")
	if err != nil || string(sig["k"]) != "1" {
		t.Fatalf("signals %v %v", sig, err)
	}
}

// Group commit: concurrent writers share transactions.
func TestBoltGroupCommit(t *testing.T) {
	s, err := runstore.OpenBolt(filepath.Join(t.TempDir(), "runs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const n = 64
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 10; j++ {
				if err := s.Commit(ctx, fmt.Sprintf("r%d", i), first("r")); err != nil {
					t.Error(err)
				}
			}
		}(i)
	}
	wg.Wait()
	if st := s.Stats(); st.Commits >= n*10 {
		t.Fatalf("%d Commit calls made %d transactions: no commit was shared", n*10, st.Commits)
	}
}

// TestRedisCommitScriptFlushed: Commit's and Archive's scripts are sent by
// their hash; a server that does not know them (new, restarted, its
// scripts flushed) is sent their text.
func TestRedisCommitScriptFlushed(t *testing.T) {
	addr := redistest.Start(t)
	s, err := runstore.OpenRedis("redis://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c := redis.NewClient(&redis.Options{Addr: addr})
	t.Cleanup(func() { c.Close() })
	for i, id := range []string{"r1", "r2"} {
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.Commit(ctx, id, first(id)); err != nil {
			t.Fatalf("Commit %d after SCRIPT FLUSH: %v", i, err)
		}
		if err := s.Commit(ctx, id, &runstore.Change{Summary: sum("RUNNING", 1), Tasks: []runstore.Task{{Seq: 1, Doc: []byte(`{}`)}}}); err != nil {
			t.Fatal(err)
		}
		if doc, _ := load(t, s, id); doc != `{"workflowId":"`+id+`","status":"RUNNING","input":{"a":1},"output":{},"variables":{},"tasks":[{}],"workflowDefinition":{"name":"wf"}}` {
			t.Fatalf("Load = %s", doc)
		}
		// Archive's script too, and its refusal.
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.Archive(ctx, id, []byte(`{"end":1}`), sum("COMPLETED", 1)); err != nil {
			t.Fatalf("Archive %d after SCRIPT FLUSH: %v", i, err)
		}
		if err := c.ScriptFlush(ctx).Err(); err != nil {
			t.Fatal(err)
		}
		if err := s.Archive(ctx, id, []byte(`{"end":2}`), sum("FAILED", 1)); !errors.Is(err, runstore.ErrArchived) {
			t.Fatalf("second Archive %d after SCRIPT FLUSH = %v, want ErrArchived", i, err)
		}
		if doc, archived := load(t, s, id); !archived || doc != `{"end":1}` {
			t.Fatalf("Load = %s %v", doc, archived)
		}
	}
}
