package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/store/seal"
)

const (
	failsDef  = `{"name":"fails","version":1,"schemaVersion":2,"failureWorkflow":"on_fail","tasks":[{"name":"end","taskReferenceName":"end","type":"TERMINATE","inputParameters":{"terminationStatus":"FAILED","terminationReason":"on purpose"}}]}`
	onFailDef = `{"name":"on_fail","version":1,"schemaVersion":2,"tasks":[{"name":"notify","taskReferenceName":"notify","type":"SIMPLE"}]}`
)

// failureRig is an engine whose definitions directory holds on_fail, and
// whose notify worker counts its calls.
func failureRig(t *testing.T, rs runstore.Store, notified *atomic.Int64, opts ...engine.Option) *engine.Engine {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "on_fail.json"), []byte(onFailDef), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(append([]engine.Option{engine.WithRunStore(rs), engine.WithDefinitionsDir(dir),
		engine.WithKeyring(keyring(t, 21)), engine.WithPollInterval(5 * time.Millisecond),
		engine.WithWorker("notify", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			notified.Add(1)
			return json.RawMessage(`{}`), nil
		})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// endArchiver archives run id as another process ending it would, just
// before this process's own Archive of it; and fails the first Load of it
// after that (fail), as a process dying there would not read it.
type endArchiver struct {
	runstore.Store
	id string

	mu          sync.Mutex
	first       bool // another process archives the run first
	failArchive bool // the process dies as it archives the run
	tried       bool // the run's archive was tried
	fail        bool // the first Load of the run after that fails
	// ring seals the other process's end as that process would
	// (first).
	ring *seal.Keyring
}

func (s *endArchiver) Archive(ctx context.Context, id string, archived []byte, sum runstore.Summary) error {
	s.mu.Lock()
	first := id == s.id && s.first
	s.first = false
	dies := id == s.id && s.failArchive
	if id == s.id {
		s.tried = true
	}
	s.mu.Unlock()
	if dies {
		return fmt.Errorf("%w: the process stops here", runstore.ErrUnavailable)
	}
	if first {
		other := strings.Replace(string(archived), `"status":"FAILED"`, `"status":"COMPLETED"`, 1)
		other = strings.Replace(other, `"conductor.failure_workflow"`, `"not_this_end"`, 1)
		osum := sum
		osum.Status = "COMPLETED"
		resealed, err := engine.ResealArchived([]byte(other), id, s.ring)
		if err != nil {
			return err
		}
		if err := s.Store.Archive(ctx, id, resealed, osum); err != nil {
			return err
		}
	}
	return s.Store.Archive(ctx, id, archived, sum)
}

func (s *endArchiver) Load(ctx context.Context, id string) ([]byte, bool, error) {
	s.mu.Lock()
	fail := id == s.id && s.tried && s.fail
	if fail {
		s.fail = false
	}
	s.mu.Unlock()
	if fail {
		return nil, false, fmt.Errorf("%w: the process stops here", runstore.ErrUnavailable)
	}
	return s.Store.Load(ctx, id)
}

func runsOf(t *testing.T, rs runstore.Store, name string) []runstore.Summary {
	t.Helper()
	all, err := rs.List(context.Background(), runstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []runstore.Summary
	for _, s := range all {
		if s.WorkflowType == name {
			out = append(out, s)
		}
	}
	return out
}

// startFails starts failsDef as run id on e: its result, or its error.
func startFails(t *testing.T, e *engine.Engine, id string) (*engine.Result, error) {
	t.Helper()
	d, err := e.Parse([]byte(failsDef))
	if err != nil {
		t.Fatal(err)
	}
	return e.Start(context.Background(), d, json.RawMessage(`{}`), engine.WithRunID(id))
}

// resumeOnceFree resumes run id on e once its lease (the process that
// stopped it) has expired.
func resumeOnceFree(t *testing.T, e *engine.Engine, id string) (*engine.Result, error) {
	t.Helper()
	var res *engine.Result
	var err error
	waitFor(t, "run "+id+" resumed", func() bool {
		res, err = e.Resume(context.Background(), id)
		return !errors.Is(err, runstore.ErrLeased)
	})
	return res, err
}

// TestFailureRunOnlyForTheStoredEnd: a process ending a run FAILED whose
// archive is refused (another process ended and archived the run first)
// starts no failure run: the end that would have started it is not the
// run's end. Conductor records the failure run's id in the failed run's
// end, so that run is stored first; it never executes, and is removed.
func TestFailureRunOnlyForTheStoredEnd(t *testing.T) {
	for _, b := range slotBackends() {
		t.Run(b.name, func(t *testing.T) {
			id := "5b0d7a4e-0000-4000-8000-00000000b31f"
			rs := &endArchiver{Store: b.open(t), id: id, first: true, ring: keyring(t, 21)}
			var notified atomic.Int64
			e := failureRig(t, rs, &notified)
			res, err := startFails(t, e, id)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != engine.StatusCompleted {
				t.Fatalf("the run's stored end is the other process's: %s %q", res.Status, res.Reason)
			}
			if err := e.WaitStarted(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := notified.Load(); n != 0 {
				t.Fatalf("a failure run executed %d times for an end that was not stored", n)
			}
			if runs := runsOf(t, rs.Store, "on_fail"); len(runs) != 0 {
				t.Fatalf("failure runs left: %+v", runs)
			}
		})
	}
}

// TestFailureRunResumedOnceAfterItsRunsEnd: a process that stored a
// failed run's end and dies before its failure run executes leaves that
// run RUNNING; Resume in another process executes it, once.
func TestFailureRunResumedOnceAfterItsRunsEnd(t *testing.T) {
	for _, b := range slotBackends() {
		t.Run(b.name, func(t *testing.T) {
			id := "5b0d7a4e-0000-4000-8000-00000000b32f"
			rs := &endArchiver{Store: b.open(t), id: id, fail: true}
			var notified atomic.Int64
			e1 := failureRig(t, rs, &notified, engine.WithLeaseTTL(300*time.Millisecond))
			res, err := startFails(t, e1, id)
			if err != nil {
				t.Fatal(err)
			}
			fid := failureRunOf(t, res)
			if res.Status != engine.StatusFailed {
				t.Fatalf("run %s output %s", res.Status, res.Output)
			}
			_ = e1.WaitStarted(context.Background()) // its failure run stopped at its first step
			if n := notified.Load(); n != 0 {
				t.Fatalf("notified %d times before the resume", n)
			}
			if runs := runsOf(t, rs.Store, "on_fail"); len(runs) != 1 || runs[0].ID != fid || runs[0].Status != engine.StatusRunning {
				t.Fatalf("failure runs %+v, want %s RUNNING", runs, fid)
			}
			e2 := failureRig(t, rs, &notified)
			fres, err := resumeOnceFree(t, e2, fid)
			if err != nil || fres.Status != engine.StatusCompleted {
				t.Fatalf("resumed failure run: %+v %v", fres, err)
			}
			if _, err := e2.Resume(context.Background(), fid); err == nil {
				t.Fatal("the ended failure run resumed again")
			}
			if n := notified.Load(); n != 1 {
				t.Fatalf("the failure run's task executed %d times, want once", n)
			}
		})
	}
}

// TestFailureRunOfAnEndNeverStoredIsDropped: a process that stored the
// failure run of a run's end and dies before that end is stored leaves
// the failure run RUNNING; Resume in another process drops it unexecuted
// (the run's end, when it comes, starts a failure run of its own).
func TestFailureRunOfAnEndNeverStoredIsDropped(t *testing.T) {
	for _, b := range slotBackends() {
		t.Run(b.name, func(t *testing.T) {
			id := "5b0d7a4e-0000-4000-8000-00000000b33f"
			rs := &endArchiver{Store: b.open(t), id: id, failArchive: true, fail: true}
			var notified atomic.Int64
			e1 := failureRig(t, rs, &notified, engine.WithLeaseTTL(300*time.Millisecond))
			if _, err := startFails(t, e1, id); !errors.Is(err, runstore.ErrUnavailable) {
				t.Fatalf("Start = %v, want the archive's failure", err)
			}
			_ = e1.WaitStarted(context.Background())
			runs := runsOf(t, rs.Store, "on_fail")
			if len(runs) != 1 || runs[0].Status != engine.StatusRunning {
				t.Fatalf("failure runs %+v, want one RUNNING", runs)
			}
			fid := runs[0].ID
			e2 := failureRig(t, rs, &notified)
			fres, err := resumeOnceFree(t, e2, fid)
			if err != nil || fres.Status != engine.StatusTerminated {
				t.Fatalf("resumed failure run: %+v %v", fres, err)
			}
			if n := notified.Load(); n != 0 {
				t.Fatalf("the failure run of an end never stored executed %d times", n)
			}
			if runs := runsOf(t, rs.Store, "on_fail"); len(runs) != 0 {
				t.Fatalf("failure runs left: %+v", runs)
			}
		})
	}
}

// TestFailureRunGateNotInItsView: a failure run waiting at its gate (the
// process that stored its run's end died before it executed) shows no
// gate: failureOf is the engine's own, stored but in no view.
func TestFailureRunGateNotInItsView(t *testing.T) {
	id := "5b0d7a4e-0000-4000-8000-00000000b34f"
	rs := &endArchiver{Store: runstore.NewMemory(), id: id, fail: true}
	var notified atomic.Int64
	e := failureRig(t, rs, &notified, engine.WithLeaseTTL(300*time.Millisecond))
	res, err := startFails(t, e, id)
	if err != nil {
		t.Fatal(err)
	}
	fid := failureRunOf(t, res)
	_ = e.WaitStarted(context.Background()) // stopped at its gate
	stored, _, err := rs.Store.Load(context.Background(), fid)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(stored), `"failureOf":"`+id+`"`) {
		t.Fatalf("the failure run is not at its gate: %s", stored)
	}
	view, err := e.Show(context.Background(), fid)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(view), "failureOf") {
		t.Fatalf("the view shows the gate: %s", view)
	}
}

// TestFailureRunOfARestartedEndExecutes: a failed run's end is stored,
// naming its failure run, and the run is restarted before that failure
// run passed its gate (the process that stored the end died first). As
// Conductor's restart leaves the failure workflow it started alone, the
// failure run executes when resumed (the end that started it was stored;
// the restart recorded it), besides the failure run of the run's next end.
func TestFailureRunOfARestartedEndExecutes(t *testing.T) {
	for _, b := range slotBackends() {
		t.Run(b.name, func(t *testing.T) {
			id := "5b0d7a4e-0000-4000-8000-00000000b35f"
			rs := &endArchiver{Store: b.open(t), id: id, fail: true}
			var notified atomic.Int64
			e1 := failureRig(t, rs, &notified, engine.WithLeaseTTL(300*time.Millisecond))
			res, err := startFails(t, e1, id)
			if err != nil {
				t.Fatal(err)
			}
			first := failureRunOf(t, res)
			if res.Status != engine.StatusFailed {
				t.Fatalf("run %s output %s", res.Status, res.Output)
			}
			_ = e1.WaitStarted(context.Background()) // stopped at its gate
			again, err := e1.Restart(context.Background(), id, true)
			if err != nil {
				t.Fatal(err)
			}
			second := failureRunOf(t, again)
			if again.Status != engine.StatusFailed || second == first {
				t.Fatalf("restarted run %s output %s", again.Status, again.Output)
			}
			if err := e1.WaitStarted(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := notified.Load(); n != 1 {
				t.Fatalf("notified %d times, want once (the second end's failure run)", n)
			}
			e2 := failureRig(t, rs, &notified)
			fres, err := resumeOnceFree(t, e2, first)
			if err != nil || fres.Status != engine.StatusCompleted {
				t.Fatalf("the failure run of the restarted end: %+v %v, want it executed", fres, err)
			}
			if n := notified.Load(); n != 2 {
				t.Fatalf("notified %d times, want twice", n)
			}
			view, err := e2.Show(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if strings.Contains(string(view), "restartedFailures") {
				t.Fatalf("the view shows the restarted failure runs: %s", view)
			}
		})
	}
}
