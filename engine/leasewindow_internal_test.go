package engine

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
)

// TestTerminateBeforeTheRunHoldsItsLease: a run terminated between its
// first write and execute (Terminate finds no process executing it, ends
// and archives it here) is not executed: execute returns the TERMINATED
// result, its task never runs, and the stored run stays TERMINATED. Before,
// the run executed its task and its writes brought it back, COMPLETED.
func TestTerminateBeforeTheRunHoldsItsLease(t *testing.T) {
	ctx := context.Background()
	var ran atomic.Int32
	e, err := New(WithRunStore(runstore.NewMemory()), WithPollInterval(5*time.Millisecond),
		WithWorker("w", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			ran.Add(1)
			return json.RawMessage(`{"r":"ok"}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.Parse([]byte(`{"name":"terminated_early","tasks":[{"name":"w","taskReferenceName":"w"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.newRun(ctx, def, nil, &runConfig{principal: localPrincipal}, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Terminate(ctx, r.id, "stopped before it ran"); err != nil {
		t.Fatal(err)
	}
	res, err := r.execute(ctx)
	if err != nil || res == nil || res.Status != StatusTerminated || res.Reason != "stopped before it ran" {
		t.Fatalf("execute: %+v %v; want the TERMINATED result", res, err)
	}
	if n := ran.Load(); n != 0 {
		t.Fatalf("the terminated run's task ran %d times", n)
	}
	_, d, archived, err := e.loadRunDoc(ctx, r.id)
	if err != nil || !archived || d.Status != StatusTerminated {
		t.Fatalf("stored: %v archived=%v %v; want TERMINATED, archived", d, archived, err)
	}
	if e.isActive(r.id) {
		t.Fatal("the run is still marked executing")
	}
}

// loadCounting counts the run store's Load calls and fails commits on
// demand.
type loadCounting struct {
	runstore.Store
	loads   atomic.Int64
	failing atomic.Bool
}

func (s *loadCounting) Load(ctx context.Context, id string) ([]byte, bool, error) {
	s.loads.Add(1)
	return s.Store.Load(ctx, id)
}

func (s *loadCounting) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	if s.failing.Load() {
		return errors.New("commit refused by the test")
	}
	return s.Store.Commit(ctx, id, ch)
}

// TestStartReadsNothingBack: a run started here that no Pause or
// Terminate touched before it executes is not read back from the store
// (the check of the lease window costs no read); one that was, is.
func TestStartReadsNothingBack(t *testing.T) {
	ctx := context.Background()
	rs := &loadCounting{Store: runstore.NewMemory()}
	e, err := New(WithRunStore(rs), WithWorker("w", func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`{}`), nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.Parse([]byte(`{"name":"untouched","tasks":[{"name":"w","taskReferenceName":"w"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.Start(ctx, def, nil); err != nil || res.Status != StatusCompleted {
		t.Fatalf("%+v %v", res, err)
	}
	if n := rs.loads.Load(); n != 0 {
		t.Fatalf("Start read the run %d times, want 0", n)
	}
	r, err := e.newRun(ctx, def, nil, &runConfig{principal: localPrincipal}, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Pause(ctx, r.id); err != nil {
		t.Fatal(err)
	}
	before := rs.loads.Load()
	if err := e.ResumePaused(ctx, r.id); err != nil {
		t.Fatal(err)
	}
	during := rs.loads.Load() - before
	before = rs.loads.Load()
	if res, err := r.execute(ctx); err != nil || res.Status != StatusCompleted {
		t.Fatalf("%+v %v", res, err)
	}
	if n := rs.loads.Load() - before; n != 1 {
		t.Fatalf("execute of a run paused and resumed before it ran read it %d times, want 1 (ResumePaused: %d)", n, during)
	}
}

// TestPauseNotStoredReachesItsCaller: a pause the executing process takes
// but cannot store is undone there (the run goes on RUNNING and completes)
// and Pause returns that error, naming the run. Before, the caller waited
// for a PAUSED status no write brought.
func TestPauseNotStoredReachesItsCaller(t *testing.T) {
	ctx := context.Background()
	rs := &loadCounting{Store: runstore.NewMemory()}
	entered, release := make(chan struct{}), make(chan struct{})
	e, err := New(WithRunStore(rs), WithPollInterval(5*time.Millisecond), WithLeaseTTL(300*time.Millisecond),
		WithWorker("w", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			close(entered)
			<-release
			return json.RawMessage(`{"r":"ok"}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.Parse([]byte(`{"name":"pause_not_stored","tasks":[{"name":"w","taskReferenceName":"w"},
	  {"name":"w2","taskReferenceName":"w2","type":"SET_VARIABLE","inputParameters":{"x":1}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		res *Result
		err error
	}
	done := make(chan result, 1)
	go func() {
		res, err := e.Start(ctx, def, nil, WithRunID("pause-not-stored"))
		done <- result{res, err}
	}()
	<-entered
	rs.failing.Store(true)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	err = e.Pause(pctx, "pause-not-stored")
	if err == nil || !strings.Contains(err.Error(), "pause-not-stored") || !strings.Contains(err.Error(), "commit refused by the test") {
		t.Fatalf("Pause: %v; want the store's error, naming the run", err)
	}
	rs.failing.Store(false)
	close(release)
	select {
	case got := <-done:
		if got.err != nil || got.res.Status != StatusCompleted {
			t.Fatalf("run: %+v %v; want COMPLETED (the pause was not stored)", got.res, got.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not end")
	}
}

// TestResumeIsWrittenWhenTheRunRunsHere: a resume signal taken by the
// process executing a run that it already has RUNNING (the store has it
// PAUSED: a write it did not see) is written, so ResumePaused returns
// instead of waiting for a RUNNING status no write brought.
func TestResumeIsWrittenWhenTheRunRunsHere(t *testing.T) {
	ctx := context.Background()
	entered, release := make(chan struct{}), make(chan struct{})
	e, err := New(WithRunStore(runstore.NewMemory()), WithPollInterval(5*time.Millisecond),
		WithWorker("w", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			close(entered)
			<-release
			return json.RawMessage(`{}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	def, err := e.Parse([]byte(`{"name":"diverged","tasks":[{"name":"w","taskReferenceName":"w"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.Start(ctx, def, nil, WithRunID("diverged"))
		done <- err
	}()
	<-entered
	// The running task's record is written early (visible.go); after
	// that, this process writes nothing until the task ends.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		_, d, _, err := e.loadRunDoc(ctx, "diverged")
		if err == nil && len(d.Tasks) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the running task was never written")
		}
	}
	doc, d, _, err := e.loadRunDoc(ctx, "diverged")
	if err != nil {
		t.Fatal(err)
	}
	other, err := e.loadDoc(ctx, "diverged", doc, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	other.lease.held = true
	if err := other.setPausedStatus(ctx, true, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	if st := storedStatus(t, e, "diverged"); st != StatusPaused {
		t.Fatalf("stored %s, want the PAUSED status written", st)
	}
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := e.ResumePaused(rctx, "diverged"); err != nil {
		t.Fatalf("ResumePaused: %v", err)
	}
	if st := storedStatus(t, e, "diverged"); st != StatusRunning {
		t.Fatalf("stored %s, want RUNNING", st)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
