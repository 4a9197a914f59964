package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// failOnce is a worker per task name whose first call blocks until release
// and then fails; its later calls complete.
type failOnce struct {
	mu      sync.Mutex
	calls   map[string]int
	entered chan string
	release chan struct{}
}

func newFailOnce() *failOnce {
	return &failOnce{calls: map[string]int{}, entered: make(chan string, 4), release: make(chan struct{})}
}

func (f *failOnce) worker(name string) func(context.Context, json.RawMessage) (json.RawMessage, error) {
	return func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		f.mu.Lock()
		f.calls[name]++
		n := f.calls[name]
		f.mu.Unlock()
		if n > 1 {
			return json.RawMessage(`{"call":2}`), nil
		}
		f.entered <- name
		select {
		case <-f.release:
			return nil, errors.New(name + " failed")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// siblingsDef is a FORK of two SUB_WORKFLOW tasks, a and b, each a child
// whose one task fails at its first call, then a JOIN. With running set,
// both are permissive and a third branch holds the parent RUNNING after
// they failed.
func siblingsDef(running bool) string {
	child := func(name string) string {
		return `{"name":"c` + name + `","version":1,"schemaVersion":2,"tasks":[{"name":"w_` + name + `","taskReferenceName":"w","retryCount":0}],
		 "outputParameters":{"call":"${w.output.call}"}}`
	}
	sub := func(name string) string {
		return `[{"name":"` + name + `","taskReferenceName":"` + name + `","type":"SUB_WORKFLOW","retryCount":0,"permissive":` +
			map[bool]string{true: "true", false: "false"}[running] + `,"subWorkflowParam":{"name":"c` + name + `","workflowDefinition":` + child(name) + `}}]`
	}
	branches, joinOn := sub("a")+","+sub("b"), `"a","b"`
	if running {
		branches += `,[{"name":"hold","taskReferenceName":"hold"}]`
		joinOn += `,"hold"`
	}
	return `{"name":"sibling_parent","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[` + branches + `]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":[` + joinOn + `]}],
	 "outputParameters":{"a":"${a.output.call}","b":"${b.output.call}"}}`
}

// Conductor's updateAndPushParents (WorkflowExecutorOps.java) re-opens the
// parent's SUB_WORKFLOW task whatever the parent's status, and with it
// retries the parent's other SUB_WORKFLOW tasks that ended unsuccessfully:
// their records go back to IN_PROGRESS, same record and same child, and
// the child is retried in place (its failed task scheduled again, with
// retriedTaskId). Here both children of a FORK failed while the parent is
// PAUSED (it stays PAUSED with both records FAILED), or while it is
// RUNNING (both permissive, a third branch holds it); the parent is
// executed by no process, by this one, or by another process sharing the
// run store (the re-open then travels as a sealed signal). Retrying child
// a re-opens a and b and retries b's child; the JOIN (the same record)
// and the parent complete with both children's new outputs.
func TestReopenOfARunningOrPausedParentRetriesItsOtherFailedSubWorkflows(t *testing.T) {
	for _, paused := range []bool{true, false} {
		for _, where := range []string{"no process", "this process", "another process"} {
			name := "running parent executed by " + where
			if paused {
				name = "paused parent executed by " + where
			}
			t.Run(name, func(t *testing.T) { siblingsUnderRunningParent(t, paused, where) })
		}
	}
}

func siblingsUnderRunningParent(t *testing.T, paused bool, where string) {
	f := newFailOnce()
	hold := make(chan struct{})
	holdWorker := func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
		select {
		case <-hold:
			return json.RawMessage(`{"held":true}`), nil
		case <-c.Done():
			return nil, c.Err()
		}
	}
	shared := runstore.NewMemory()
	ring := keyring(t, 9) // processes sharing a run store share its keyring
	a := harnessEngine(t, shared, engine.WithKeyring(ring),
		engine.WithWorker("w_a", f.worker("w_a")), engine.WithWorker("w_b", f.worker("w_b")), engine.WithWorker("hold", holdWorker))
	retrier := a
	if where == "another process" {
		retrier = harnessEngine(t, shared, engine.WithKeyring(ring),
			engine.WithSignalNotify(func(_ context.Context, id string) { a.SignalStored(id) }))
	}
	d, err := a.Parse([]byte(siblingsDef(!paused)))
	if err != nil {
		t.Fatal(err)
	}
	const id = "sibling-parent"
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := a.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(id))
		if err != nil && !errors.Is(err, engine.ErrInterrupted) {
			t.Errorf("parent: %v", err)
		}
		done <- res
	}()
	for range 2 {
		select {
		case <-f.entered:
		case <-time.After(10 * time.Second):
			t.Fatal("the children's tasks never ran")
		}
	}
	if paused {
		if err := a.Pause(context.Background(), id); err != nil {
			t.Fatal(err)
		}
	}
	close(f.release)
	var before map[string]taskView
	// The running parent's third branch holds it: its record is scheduled
	// beside the children's, in its own time.
	waitFor(t, "both SUB_WORKFLOW tasks to fail", func() bool {
		before = byRef(viewRun(t, a, id).Tasks)
		return before["a"].Status == engine.TaskFailed && before["b"].Status == engine.TaskFailed &&
			(paused || before["hold"].Status == engine.TaskInProgress)
	})
	time.Sleep(50 * time.Millisecond)
	want := map[bool]string{true: engine.StatusPaused, false: engine.StatusRunning}[paused]
	if wf := viewRun(t, a, id); wf.Status != want {
		t.Fatalf("parent after its children failed: %s %q %+v, want %s", wf.Status, wf.Reason, wf.Tasks, want)
	}
	for _, ref := range []string{"a", "b"} {
		if c := viewRun(t, a, before[ref].SubWorkflowID); c.Status != engine.StatusFailed {
			t.Fatalf("child %s: %s", ref, c.Status)
		}
	}
	if where == "no process" {
		cancel() // the process goes away: nobody executes the parent
		<-done
		if wf := viewRun(t, a, id); wf.Status != want {
			t.Fatalf("parent interrupted: %s %+v", wf.Status, wf.Tasks)
		}
		close(hold) // its next process completes the held task at once
	}
	got, err := retrier.Retry(context.Background(), before["a"].SubWorkflowID, false)
	if err != nil || got.Status != engine.StatusCompleted {
		t.Fatalf("retry of child a: %+v %v", got, err)
	}
	if where != "no process" {
		if !paused {
			close(hold)
		}
		select {
		case res := <-done:
			if res == nil || res.Status != engine.StatusCompleted {
				t.Fatalf("parent: %+v", res)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the parent never ended")
		}
	}
	waitFor(t, "the parent to end", func() bool { return viewRun(t, a, id).Status != want })
	wf := viewRun(t, a, id)
	if wf.Status != engine.StatusCompleted || wf.Output["a"] != float64(2) || wf.Output["b"] != float64(2) {
		t.Fatalf("parent after the retry: %s %q output %v %+v", wf.Status, wf.Reason, wf.Output, wf.Tasks)
	}
	after := byRef(wf.Tasks)
	if len(wf.Tasks) != len(before) && !(len(wf.Tasks) == len(before)+1 && before["join"].TaskID == "") {
		t.Fatalf("parent's records %+v, were %+v", wf.Tasks, before)
	}
	for ref, was := range before {
		now := after[ref]
		if now.TaskID != was.TaskID || now.SubWorkflowID != was.SubWorkflowID || now.Status != engine.TaskCompleted || now.RetriedTaskID != "" {
			t.Fatalf("record %s after the retry: %+v, was %+v", ref, now, was)
		}
	}
	if after["join"].Status != engine.TaskCompleted {
		t.Fatalf("JOIN %+v", after["join"])
	}
	// The record whose child was retried has updateAndPushParents' line
	// in its execution log; its sibling has none.
	taskLog(t, a, id, before["a"].TaskID, "Sub workflow ca.1/"+before["a"].SubWorkflowID+" retried.")
	taskLog(t, a, id, before["b"].TaskID)
	for _, ref := range []string{"a", "b"} {
		c := viewRun(t, a, before[ref].SubWorkflowID)
		checkTasks(t, c.Tasks, "w_"+ref+":FAILED", "w_"+ref+":COMPLETED")
		if c.Status != engine.StatusCompleted || c.Tasks[1].RetriedTaskID != c.Tasks[0].TaskID || c.Tasks[1].RetryCount != 1 {
			t.Fatalf("child %s after the retry: %s %+v", ref, c.Status, c.Tasks)
		}
	}
}

// A stale re-open signal stays harmless under a parent with failed
// siblings: sealed as a process sharing the store writes it, it names a
// record whose child has ended (not RUNNING), so it re-opens nothing and
// retries no sibling's child; the parent ends FAILED with its permissive
// failures, as it would have.
func TestStaleReopenSignalRetriesNoSibling(t *testing.T) {
	f := newFailOnce()
	hold := make(chan struct{})
	shared := runstore.NewMemory()
	e := harnessEngine(t, shared,
		engine.WithWorker("w_a", f.worker("w_a")), engine.WithWorker("w_b", f.worker("w_b")),
		engine.WithWorker("hold", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
			select {
			case <-hold:
				return json.RawMessage(`{"held":true}`), nil
			case <-c.Done():
				return nil, c.Err()
			}
		}))
	const id = "stale-siblings"
	done := startHeld(t, e, siblingsDef(true), id)
	<-f.entered
	<-f.entered
	close(f.release)
	var recs map[string]taskView
	waitFor(t, "both SUB_WORKFLOW tasks to fail", func() bool {
		recs = byRef(viewRun(t, e, id).Tasks)
		return recs["a"].Status == engine.TaskFailed && recs["b"].Status == engine.TaskFailed
	})
	payload, err := engine.ReopenSignal(e, id, recs["a"].TaskID, recs["a"].SubWorkflowID)
	if err != nil {
		t.Fatal(err)
	}
	if err := shared.PutSignal(context.Background(), id, "__wfrun_reopen "+recs["a"].TaskID, payload); err != nil {
		t.Fatal(err)
	}
	e.SignalStored(id)
	time.Sleep(1100 * time.Millisecond) // the lease keeper's look, poked or not
	for _, ref := range []string{"a", "b"} {
		if tk := byRef(viewRun(t, e, id).Tasks)[ref]; tk.Status != engine.TaskFailed {
			t.Fatalf("record %s after the stale signal: %+v", ref, tk)
		}
		if c := viewRun(t, e, recs[ref].SubWorkflowID); c.Status != engine.StatusFailed || len(c.Tasks) != 1 {
			t.Fatalf("child %s after the stale signal: %s %+v", ref, c.Status, c.Tasks)
		}
	}
	close(hold)
	if res := ended(t, done); res == nil || res.Status != engine.StatusFailed {
		t.Fatalf("parent: %+v", res)
	}
}
