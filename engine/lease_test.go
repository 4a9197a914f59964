package engine_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// A lease held by a process of another host lasts until its TTL: resume is
// refused (naming the holder) until then, and succeeds after.
func TestLeaseOfAnotherHostExpires(t *testing.T) {
	rs := runstore.NewMemory()
	h := newHarness(t, rs)
	ctx, cancel := context.WithCancel(context.Background())
	d, err := h.e.Parse([]byte(`{"name":"w","tasks":[{"name":"pause","taskReferenceName":"p","type":"WAIT","inputParameters":{"duration":"300ms"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		time.Sleep(100 * time.Millisecond)
		cancel()
	}()
	res, err := h.e.Start(ctx, d, nil, engine.WithRunID("r1"))
	if !errors.Is(err, engine.ErrInterrupted) {
		t.Fatalf("%v %+v", err, res)
	}
	orphans := func() int {
		list, err := h.e.OrphanedRuns(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return len(list)
	}
	if n := orphans(); n != 1 {
		t.Fatalf("an interrupted run is orphaned: %d orphans", n)
	}
	other := runstore.Lease{Owner: "elsewhere", PID: 1, Host: "another-host"}
	if err := rs.AcquireLease(context.Background(), "r1", other, 400*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	_, err = h.e.Resume(context.Background(), "r1")
	var le *runstore.LeasedError
	if !errors.As(err, &le) || le.Holder.Host != "another-host" {
		t.Fatalf("resume under another host's lease: %v", err)
	}
	if n := orphans(); n != 0 {
		t.Fatalf("a run leased by another host is not orphaned: %d orphans", n)
	}
	time.Sleep(450 * time.Millisecond)
	if n := orphans(); n != 1 {
		t.Fatalf("a run whose lease expired is orphaned: %d orphans", n)
	}
	res, err = h.e.Resume(context.Background(), "r1")
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("resume after the lease expired: %v %+v", err, res)
	}
}

// Terminate ends a run executed by this engine and its running child run.
func TestTerminateWithChild(t *testing.T) {
	rs := runstore.NewMemory()
	h := newHarness(t, rs)
	d, err := h.e.Parse([]byte(`{"name":"parent","tasks":[{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW",
	  "subWorkflowParam":{"name":"child","workflowDefinition":{"name":"child","tasks":[
	    {"name":"pause","taskReferenceName":"p","type":"WAIT","inputParameters":{"duration":"60s"}}]}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *engine.Result, 1)
	go func() {
		res, _ := h.e.Start(context.Background(), d, nil, engine.WithRunID("parent-run"))
		done <- res
	}()
	var childID string
	for deadline := time.Now().Add(10 * time.Second); childID == ""; {
		kids, _ := rs.List(context.Background(), runstore.ListOptions{ParentID: "parent-run", Status: engine.StatusRunning})
		if len(kids) == 1 && kids[0].Lease != nil {
			childID = kids[0].ID
		}
		if time.Now().After(deadline) {
			t.Fatal("no child run")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := h.e.Terminate(context.Background(), "parent-run", "enough"); err != nil {
		t.Fatal(err)
	}
	select {
	case res := <-done:
		if res == nil || res.Status != engine.StatusTerminated || res.Reason != "enough" {
			t.Fatalf("parent result %+v", res)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("parent did not end")
	}
	for _, id := range []string{"parent-run", childID} {
		list, _ := rs.List(context.Background(), runstore.ListOptions{})
		for _, s := range list {
			if s.ID == id && (s.Status != engine.StatusTerminated || !s.Archived) {
				t.Fatalf("run %s: %+v", id, s)
			}
		}
	}
	if err := h.e.DeleteRun(context.Background(), "parent-run"); err != nil {
		t.Fatal(err)
	}
}
