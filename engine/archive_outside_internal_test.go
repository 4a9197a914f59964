package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store/seal"
)

// outsideEngines are two engines ("processes") over one store, with one
// keyring: a SIMPLE worker of the first waits on gate (entered says it
// runs) and answers a `_secrets` value.
func outsideEngines(t *testing.T, rs runstore.Store, entered chan<- string, gate <-chan struct{}) (a, b *Engine, def *Definition) {
	t.Helper()
	k, err := seal.NewKeyring(bytes.Repeat([]byte{3}, 32))
	if err != nil {
		t.Fatal(err)
	}
	worker := func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		entered <- "w"
		select {
		case <-gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return json.RawMessage(`{"_secrets":{"token":"` + outsideLate + `"},"plain":"late"}`), nil
	}
	// An hour's lease: the first engine does not renew it while the test
	// runs, so that it is lost as a process that stalled loses it.
	if a, err = New(WithRunStore(rs), WithKeyring(k), WithWorker("outside_w", worker), WithLeaseTTL(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if b, err = New(WithRunStore(rs), WithKeyring(k), WithWorker("outside_w", worker)); err != nil {
		t.Fatal(err)
	}
	def, err = a.Parse([]byte(`{"name":"outside","schemaVersion":2,"tasks":[
	  {"name":"outside_w","taskReferenceName":"w","type":"SIMPLE"},
	  {"name":"outside_w","taskReferenceName":"w2","type":"SIMPLE"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return a, b, def
}

const outsideLate = "LATE-outside-secret-4b1e"

// checkArchiveStands: run id is archived as want holds it (byte for byte),
// with status, no primary record, no lease, and nothing of outsideLate.
func checkArchiveStands(t *testing.T, rs runstore.Store, id string, want []byte, status string) {
	t.Helper()
	ctx := context.Background()
	doc, archived, err := rs.Load(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if !archived {
		t.Fatalf("a primary record was stored after the archive: %.300s", doc)
	}
	if !bytes.Equal(doc, want) {
		t.Fatalf("the archive changed:\nbefore %.400s\nafter  %.400s", want, doc)
	}
	if got := gjson.GetBytes(doc, "status").String(); got != status || strings.Contains(string(doc), outsideLate) {
		t.Fatalf("stored run: status %s, %.400s", got, doc)
	}
	sums, err := rs.List(ctx, runstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sums {
		if s.ID == id && (!s.Archived || s.Status != status || s.Lease != nil) {
			t.Fatalf("summary: %+v", s)
		}
	}
	if l, ok, err := rs.GetLease(ctx, id); ok || err != nil {
		t.Fatalf("lease left on the archived run: %+v %v", l, err)
	}
}

// TestExecutionEndsWhenArchivedOutside: a process executing a run whose
// lease it lost (it stalled) while another process ended the run (a
// Terminate of the orphan, archived there) answers that end when its next
// write finds the run archived: before, the store created a primary record
// again from that write (the head and the record changed, with the
// worker's `_secrets` value stored sealed), the process went on to execute
// the rest and archived COMPLETED over the TERMINATED archive.
func TestExecutionEndsWhenArchivedOutside(t *testing.T) {
	for _, name := range []string{"memory", "bolt"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			rs := outsideStore(t, name)
			entered, gate := make(chan string, 4), make(chan struct{})
			a, b, def := outsideEngines(t, rs, entered, gate)
			const id = "outside-exec"
			type out struct {
				res *Result
				err error
			}
			done := make(chan out, 1)
			go func() {
				res, err := a.Start(ctx, def, json.RawMessage(`{"param":"kept"}`), WithRunID(id))
				done <- out{res, err}
			}()
			<-entered
			// The executing process stalls past its lease: another takes
			// the run over and terminates it.
			if err := rs.ReleaseLease(ctx, id, a.owner); err != nil {
				t.Fatal(err)
			}
			if err := b.Terminate(ctx, id, "ended outside"); err != nil {
				t.Fatal(err)
			}
			ended, archived, err := rs.Load(ctx, id)
			if err != nil || !archived {
				t.Fatalf("after Terminate: archived %v, %v", archived, err)
			}
			close(gate)
			var o out
			select {
			case o = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the execution did not end")
			}
			if o.err != nil || o.res == nil || o.res.Status != StatusTerminated || o.res.Reason != "ended outside" {
				t.Fatalf("Start = %+v, %v; want the TERMINATED end stored by the other process", o.res, o.err)
			}
			if len(entered) != 0 {
				t.Fatal("the execution went on to the next task")
			}
			checkArchiveStands(t, rs, id, ended, StatusTerminated)
		})
	}
}

// TestFinishAfterArchivedOutside: a process executing a run stalls after
// its last write (the last task's end), loses the run's lease, and another
// process ends the run (a Terminate of the orphan, archived there). When
// the stalled process reaches finish, its next store operation is the
// Archive, not a Commit: the store refuses it (runstore.ErrArchived) and
// the process answers the end the other process stored. Before, its
// archive (COMPLETED) replaced the other process's (TERMINATED).
func TestFinishAfterArchivedOutside(t *testing.T) {
	for _, name := range []string{"memory", "bolt"} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			rs := outsideStore(t, name)
			entered, gate := make(chan string, 4), make(chan struct{})
			a, b, def := outsideEngines(t, rs, entered, gate)
			const id = "outside-finish"
			// After the last task's end is written, the first process
			// stalls (in its write hook) until the other ended the run.
			var armed atomic.Bool
			stalled, resume := make(chan struct{}), make(chan struct{})
			a.written = func(runID string) {
				if runID == id && armed.CompareAndSwap(true, false) {
					close(stalled)
					<-resume
				}
			}
			var events []Event
			var evMu sync.Mutex
			a.events = func(ev Event) {
				evMu.Lock()
				events = append(events, ev)
				evMu.Unlock()
			}
			type out struct {
				res *Result
				err error
			}
			done := make(chan out, 1)
			go func() {
				res, err := a.Start(ctx, def, json.RawMessage(`{"param":"kept"}`), WithRunID(id))
				done <- out{res, err}
			}()
			<-entered // w
			gate <- struct{}{}
			<-entered // w2: its IN_PROGRESS is written
			armed.Store(true)
			gate <- struct{}{}
			<-stalled // w2's end is written: the run is ready to finish
			if err := rs.ReleaseLease(ctx, id, a.owner); err != nil {
				t.Fatal(err)
			}
			if err := b.Terminate(ctx, id, "ended outside"); err != nil {
				t.Fatal(err)
			}
			ended, archived, err := rs.Load(ctx, id)
			if err != nil || !archived {
				t.Fatalf("after Terminate: archived %v, %v", archived, err)
			}
			close(resume)
			var o out
			select {
			case o = <-done:
			case <-time.After(30 * time.Second):
				t.Fatal("the execution did not end")
			}
			if o.err != nil || o.res == nil || o.res.Status != StatusTerminated || o.res.Reason != "ended outside" {
				t.Fatalf("Start = %+v, %v; want the TERMINATED end stored by the other process", o.res, o.err)
			}
			checkArchiveStands(t, rs, id, ended, StatusTerminated)
			evMu.Lock()
			defer evMu.Unlock()
			for _, ev := range events {
				if ev.Kind == EventWorkflow && ev.Status != StatusRunning {
					t.Fatalf("the process announced an end it did not store: %+v", ev)
				}
			}
		})
	}
}

// TestOutsideWriteAfterArchive: a process holding a run it loaded (to
// change it from outside, or to resume it) writes after another process
// archived it: the store refuses (runstore.ErrArchived) and the write
// answers that the run is not running; nothing is stored.
func TestOutsideWriteAfterArchive(t *testing.T) {
	ctx := context.Background()
	rs := runstore.NewMemory()
	entered, gate := make(chan string, 4), make(chan struct{})
	a, b, def := outsideEngines(t, rs, entered, gate)
	for _, tc := range []struct {
		name  string
		write func(r *runState) error
	}{
		{"a worker's output and end", func(r *runState) error {
			rec := r.lookup("w")
			if err := r.setTaskData(rec, nil, []byte(`{"_secrets":{"token":"`+outsideLate+`"}}`)); err != nil {
				return err
			}
			return r.transition(ctx, rec, TaskCompleted, "")
		}},
		{"variables", func(r *runState) error {
			if err := r.setVariables([]byte(`{"v":{"_secrets":{"x":"` + outsideLate + `"}}}`)); err != nil {
				return err
			}
			return r.save(ctx)
		}},
		{"a pause", func(r *runState) error {
			r.mu.Lock()
			r.pauseLocked()
			r.mu.Unlock()
			return r.save(ctx)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := "outside-" + strings.ReplaceAll(strings.ReplaceAll(tc.name, " ", "-"), "'", "")
			done := make(chan error, 1)
			go func() {
				res, err := a.Start(ctx, def, json.RawMessage(`{"param":"kept"}`), WithRunID(id))
				if err == nil && res.Status != StatusCompleted {
					err = errors.New("status " + res.Status)
				}
				done <- err
			}()
			<-entered
			gate <- struct{}{}
			<-entered // w2 runs: w's end is stored
			// The other process holds the run as stored while it runs.
			_, d, archived, err := b.loadRunDoc(ctx, id)
			if err != nil || archived {
				t.Fatalf("load: %v %v", archived, err)
			}
			r, err := b.loadDoc(ctx, id, nil, d, nil)
			if err != nil {
				t.Fatal(err)
			}
			r.lease.held = true // as under its lease (leaseOutside)
			gate <- struct{}{}
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			before, _, err := rs.Load(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			err = tc.write(r)
			if !errors.Is(err, ErrNotRunning) || !errors.Is(err, runstore.ErrArchived) {
				t.Fatalf("the late write = %v, want ErrNotRunning and runstore.ErrArchived", err)
			}
			if strings.Contains(err.Error(), outsideLate) {
				t.Fatalf("the error shows a secret: %v", err)
			}
			if err := r.save(ctx); err != nil {
				t.Fatalf("a write after the refused one: %v (dropped, as after an archive here)", err)
			}
			checkArchiveStands(t, rs, id, before, StatusCompleted)
		})
	}
}

func outsideStore(t *testing.T, kind string) runstore.Store {
	if kind == "memory" {
		return runstore.NewMemory()
	}
	s, err := runstore.OpenBolt(t.TempDir() + "/runs.db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}
