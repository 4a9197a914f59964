package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// gate is a worker that answers at once on its first call and, on later
// calls, reports that it was entered and waits until released.
type gate struct {
	mu      sync.Mutex
	calls   int
	fail    bool // the first call fails
	entered chan struct{}
	release chan struct{}
}

func newGate(failFirst bool) *gate {
	return &gate{fail: failFirst, entered: make(chan struct{}, 1), release: make(chan struct{})}
}

func (g *gate) worker(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
	g.mu.Lock()
	g.calls++
	n := g.calls
	g.mu.Unlock()
	if n == 1 {
		if g.fail {
			return nil, errors.New("failed")
		}
		return json.RawMessage(`{"call":1}`), nil
	}
	g.entered <- struct{}{}
	select {
	case <-g.release:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return json.RawMessage(`{"call":2}`), nil
}

func (g *gate) count() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls
}

// whileBlocked runs op, calls during once the gate's worker is entered,
// then releases it and returns op's outcome.
func (g *gate) whileBlocked(t *testing.T, op func(context.Context) (*engine.Result, error), during func()) *engine.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type out struct {
		res *engine.Result
		err error
	}
	done := make(chan out, 1)
	go func() {
		res, err := op(ctx)
		done <- out{res, err}
	}()
	select {
	case <-g.entered:
	case o := <-done:
		t.Fatalf("ended before the child's task ran again: %+v %v", o.res, o.err)
	case <-ctx.Done():
		t.Fatal("the child's task never ran again")
	}
	during()
	close(g.release)
	o := <-done
	if o.err != nil {
		t.Fatal(o.err)
	}
	return o.res
}

const childWithGate = `{"name":"gated_child","version":1,"schemaVersion":2,"tasks":[{"name":"gated","taskReferenceName":"g","retryCount":0}]}`

// Conductor's updateAndPushParents walks up from a child that runs again
// whatever the parent's state: it stops only at an optional SUB_WORKFLOW
// task and at one a retry superseded. A child that COMPLETED and is
// restarted (or rerun) therefore re-opens its COMPLETED parent: the same
// SUB_WORKFLOW record goes back to IN_PROGRESS with the same child, the
// parent to RUNNING, and once the child completes again the parent
// completes, its later tasks (already executed) not run again.
func TestRestartOfACompletedChildReopensItsCompletedParent(t *testing.T) {
	for _, op := range []string{"restart", "rerun"} {
		t.Run(op, func(t *testing.T) {
			g := newGate(false)
			after := 0
			e := harnessEngine(t, nil, engine.WithWorker("gated", g.worker),
				engine.WithWorker("after", func(context.Context, json.RawMessage) (json.RawMessage, error) {
					after++
					return json.RawMessage(`{"after":true}`), nil
				}))
			d, err := e.Parse([]byte(`{"name":"completed_parent","version":1,"schemaVersion":2,"tasks":[
			 {"name":"sw","taskReferenceName":"sw","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"gated_child","workflowDefinition":` + childWithGate + `}},
			 {"name":"after","taskReferenceName":"after"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			res := startRun(t, e, d, `{}`)
			if res.Status != engine.StatusCompleted {
				t.Fatalf("parent %s (%s)", res.Status, res.Reason)
			}
			parent := viewRun(t, e, res.RunID)
			child := parent.Tasks[0].SubWorkflowID
			childTask := viewRun(t, e, child).Tasks[0].TaskID
			reopened := g.whileBlocked(t, func(ctx context.Context) (*engine.Result, error) {
				if op == "rerun" {
					return e.Rerun(ctx, child, childTask)
				}
				return e.Restart(ctx, child, true)
			}, func() {
				wf := viewRun(t, e, res.RunID)
				if wf.Status != engine.StatusRunning {
					t.Errorf("parent while the child runs again: %s, want RUNNING", wf.Status)
				}
				checkTasks(t, wf.Tasks, "SUB_WORKFLOW:IN_PROGRESS", "after:COMPLETED")
				if wf.Tasks[0].TaskID != parent.Tasks[0].TaskID || wf.Tasks[0].SubWorkflowID != child {
					t.Errorf("SUB_WORKFLOW record %+v, want the same record and child as %+v", wf.Tasks[0], parent.Tasks[0])
				}
			})
			if reopened.Status != engine.StatusCompleted {
				t.Fatalf("child after the %s: %s", op, reopened.Status)
			}
			wf := viewRun(t, e, res.RunID)
			if wf.Status != engine.StatusCompleted {
				t.Fatalf("parent after the child completed: %s (%s)", wf.Status, wf.Reason)
			}
			checkTasks(t, wf.Tasks, "SUB_WORKFLOW:COMPLETED", "after:COMPLETED")
			if wf.Tasks[0].TaskID != parent.Tasks[0].TaskID || wf.Tasks[1].TaskID != parent.Tasks[1].TaskID || after != 1 {
				t.Fatalf("parent's records %+v (before %+v), 'after' ran %d times", wf.Tasks, parent.Tasks, after)
			}
			if got := wf.Tasks[0].Output["call"]; got != float64(2) {
				t.Fatalf("SUB_WORKFLOW output %v, want the child's new output", wf.Tasks[0].Output)
			}
			done := map[string]string{"restart": "restarted", "rerun": "reran"}[op]
			taskLog(t, e, res.RunID, parent.Tasks[0].TaskID, "Sub workflow gated_child.1/"+child+" "+done+".")
		})
	}
}

// WorkflowRetryTests.testRetryWithSubWorkflowOptionalLevels: the parent's
// SUB_WORKFLOW task is optional, its child fails and the parent completes;
// retrying the child runs it again while the parent stays COMPLETED
// (Conductor: "Sub workflow task ... is optional, skip updating parents").
func TestRetryOfAChildUnderAnOptionalTaskLeavesTheParentCompleted(t *testing.T) {
	g := newGate(true)
	e := harnessEngine(t, nil, engine.WithWorker("gated", g.worker))
	d, err := e.Parse([]byte(`{"name":"parent-wf-2level","version":1,"schemaVersion":2,"tasks":[
	 {"name":"sw","taskReferenceName":"sw","type":"SUB_WORKFLOW","optional":true,"subWorkflowParam":{"name":"gated_child","workflowDefinition":` + childWithGate + `}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res := startRun(t, e, d, `{}`)
	parent := viewRun(t, e, res.RunID)
	if parent.Status != engine.StatusCompleted {
		t.Fatalf("parent %s", parent.Status)
	}
	checkTasks(t, parent.Tasks, "SUB_WORKFLOW:COMPLETED_WITH_ERRORS")
	child := parent.Tasks[0].SubWorkflowID
	got := g.whileBlocked(t, func(ctx context.Context) (*engine.Result, error) {
		return e.Retry(ctx, child, false)
	}, func() {
		if c := viewRun(t, e, child); c.Status != engine.StatusRunning {
			t.Errorf("child %s, want RUNNING", c.Status)
		}
		if wf := viewRun(t, e, res.RunID); wf.Status != engine.StatusCompleted {
			t.Errorf("parent %s, want COMPLETED", wf.Status)
		}
	})
	if got.Status != engine.StatusCompleted {
		t.Fatalf("child %s", got.Status)
	}
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted || wf.Tasks[0].TaskID != parent.Tasks[0].TaskID {
		t.Fatalf("parent %s %+v", wf.Status, wf.Tasks)
	}
	checkTasks(t, wf.Tasks, "SUB_WORKFLOW:COMPLETED_WITH_ERRORS")
}

// Conductor's updateAndPushParents re-opens the parent without touching
// its failed tasks other than SUB_WORKFLOW; the parent's first decide
// hands the task that failed it to retry() again, which (no retries left)
// fails the parent once more with that task, and cancelling the parent's
// SUB_WORKFLOW task terminates the child that was retried. Here a FORK:
// branch b's task fails the parent while branch a's child runs (the child
// is terminated, a's record cancelled); retrying a's child re-opens the
// parent, which fails again at once. b's task is not run again.
func TestReopenedParentKeepsItsFailedTask(t *testing.T) {
	t.Run("parent", func(t *testing.T) { testKeptFailure(t, false) })
	// The parent re-opened under its own re-opened parent: the top one
	// executes and loads it from the store, kept failure included.
	t.Run("grandparent", func(t *testing.T) { testKeptFailure(t, true) })
}

func testKeptFailure(t *testing.T, nested bool) {
	var mu sync.Mutex
	calls := map[string]int{}
	call := func(name string) int {
		mu.Lock()
		defer mu.Unlock()
		calls[name]++
		return calls[name]
	}
	slowEntered := make(chan struct{}, 1)
	e := harnessEngine(t, nil,
		engine.WithWorker("slow", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if call("slow") == 1 {
				slowEntered <- struct{}{}
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return json.RawMessage(`{"slow":2}`), nil
		}),
		engine.WithWorker("bad", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if call("bad") == 1 {
				select {
				case <-slowEntered:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				return nil, errors.New("bad failed")
			}
			return json.RawMessage(`{"bad":2}`), nil
		}))
	parent := `{"name":"kept_failure","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	  [{"name":"a","taskReferenceName":"a","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"ca","workflowDefinition":{"name":"ca","version":1,"schemaVersion":2,"tasks":[{"name":"slow","taskReferenceName":"s","inputParameters":{"n":7}}]}}}],
	  [{"name":"bad","taskReferenceName":"b","retryCount":0}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","b"]}]}`
	top := parent
	if nested {
		top = `{"name":"kept_failure_top","version":1,"schemaVersion":2,"tasks":[
		 {"name":"p","taskReferenceName":"p","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"kept_failure","workflowDefinition":` + parent + `}}]}`
	}
	d, err := e.Parse([]byte(top))
	if err != nil {
		t.Fatal(err)
	}
	res := startRun(t, e, d, `{}`)
	parentID := res.RunID
	if nested {
		parentID = viewRun(t, e, res.RunID).Tasks[0].SubWorkflowID
	}
	before := viewRun(t, e, parentID)
	recs := byRef(before.Tasks)
	a, b := recs["a"], recs["b"]
	if before.Status != engine.StatusFailed || a.Status != engine.TaskCanceled || b.Status != engine.TaskFailed {
		t.Fatalf("parent %s, tasks %+v", before.Status, before.Tasks)
	}
	if c := viewRun(t, e, a.SubWorkflowID); c.Status != engine.StatusTerminated {
		t.Fatalf("child %s", c.Status)
	}
	got, err := e.Retry(context.Background(), a.SubWorkflowID, false)
	if err != nil {
		t.Fatal(err)
	}
	wf := viewRun(t, e, parentID)
	want := "Task " + b.TaskID + " failed with status: FAILED and reason: 'bad failed'"
	if wf.Status != engine.StatusFailed || wf.Reason != want {
		t.Fatalf("parent after the retry: %s %q, want FAILED %q", wf.Status, wf.Reason, want)
	}
	if len(wf.Tasks) != len(before.Tasks) {
		t.Fatalf("parent's tasks %+v, want the records it had %+v", wf.Tasks, before.Tasks)
	}
	for _, tk := range wf.Tasks {
		was := recs[tk.Ref]
		if tk.TaskID != was.TaskID || tk.Status != was.Status {
			t.Fatalf("record %s after the retry: %s %s, want %s %s", tk.Ref, tk.TaskID, tk.Status, was.TaskID, was.Status)
		}
	}
	if n := calls["bad"]; n != 1 {
		t.Fatalf("the failed task ran %d times, want once", n)
	}
	c := viewRun(t, e, a.SubWorkflowID)
	if got.Status != engine.StatusTerminated || c.Status != engine.StatusTerminated ||
		c.Reason != "Parent workflow has been terminated with reason: "+want {
		t.Fatalf("child after the retry: %s / %s %q", got.Status, c.Status, c.Reason)
	}
	// Conductor's retry of the child schedules a new attempt of its
	// cancelled task at once; the parent failing again cancels it: the
	// child's task list shows both records.
	checkTasks(t, c.Tasks, "slow:CANCELED", "slow:CANCELED")
	if at := c.Tasks[1]; at.RetriedTaskID != c.Tasks[0].TaskID || at.RetryCount != c.Tasks[0].RetryCount+1 || at.TaskID == c.Tasks[0].TaskID {
		t.Fatalf("child's retry attempt %+v, want one retrying %s", at, c.Tasks[0].TaskID)
	}
	// Conductor's retry copies the attempt's input.
	if at := c.Tasks[1]; at.Input["n"] != float64(7) || len(at.Input) != len(c.Tasks[0].Input) {
		t.Fatalf("child's retry attempt input %v, want the first attempt's %v", at.Input, c.Tasks[0].Input)
	}
	if nested {
		g := viewRun(t, e, res.RunID)
		checkTasks(t, g.Tasks, "SUB_WORKFLOW:FAILED")
		if g.Status != engine.StatusFailed || g.Tasks[0].SubWorkflowID != parentID {
			t.Fatalf("top run after the retry: %s %+v", g.Status, g.Tasks)
		}
	}
}

// Conductor's updateAndPushParents reschedules a re-opened parent's
// CANCELED tasks in place: the same record (same task id) SCHEDULED again
// with retryCount + 1, not a new attempt beside it. Here FORK branch b's
// task was cancelled when branch a's child failed; retrying the child
// re-opens the parent, b's record runs again and the parent completes with
// the records it had.
func TestReopenedParentReschedulesCancelledTasksInPlace(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	call := func(name string) int {
		mu.Lock()
		defer mu.Unlock()
		calls[name]++
		return calls[name]
	}
	slowEntered := make(chan struct{}, 1)
	e := harnessEngine(t, nil,
		engine.WithWorker("fails_once", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if call("fails_once") == 1 {
				select {
				case <-slowEntered:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				return nil, errors.New("failed")
			}
			return json.RawMessage(`{"a":2}`), nil
		}),
		engine.WithWorker("slow", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if call("slow") == 1 {
				slowEntered <- struct{}{}
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return json.RawMessage(`{"b":2}`), nil
		}))
	d, err := e.Parse([]byte(`{"name":"cancelled_in_place","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	  [{"name":"a","taskReferenceName":"a","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"ca","workflowDefinition":{"name":"ca","version":1,"schemaVersion":2,"tasks":[{"name":"fails_once","taskReferenceName":"w","retryCount":0}]}}}],
	  [{"name":"slow","taskReferenceName":"b"}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","b"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res := startRun(t, e, d, `{}`)
	before := viewRun(t, e, res.RunID)
	recs := byRef(before.Tasks)
	if before.Status != engine.StatusFailed || recs["a"].Status != engine.TaskFailed || recs["b"].Status != engine.TaskCanceled {
		t.Fatalf("parent %s, tasks %+v", before.Status, before.Tasks)
	}
	got, err := e.Retry(context.Background(), recs["a"].SubWorkflowID, false)
	if err != nil || got.Status != engine.StatusCompleted {
		t.Fatalf("retry: %v %+v", err, got)
	}
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted || len(wf.Tasks) != len(before.Tasks) {
		t.Fatalf("parent after the retry: %s %+v", wf.Status, wf.Tasks)
	}
	for _, tk := range wf.Tasks {
		was := recs[tk.Ref]
		if tk.TaskID != was.TaskID || tk.Status != engine.TaskCompleted {
			t.Fatalf("record %s: %+v, want record %s COMPLETED", tk.Ref, tk, was.TaskID)
		}
		if tk.Ref == "b" && (tk.RetryCount != was.RetryCount+1 || tk.Output["b"] != float64(2)) {
			t.Fatalf("b rescheduled in place: %+v", tk)
		}
	}
}

// A permissive task that failed is one Conductor's decider went on past
// (marked executed): a re-opened parent leaves it FAILED, never runs it
// again, and its JOIN fails once more on it. Here FORK branch p's
// permissive task fails, then branch a's child fails the parent; retrying
// the child re-opens the parent, the child completes, and the parent
// fails again with p's record as it was.
func TestReopenedParentKeepsItsFailedPermissiveTask(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	call := func(name string) int {
		mu.Lock()
		defer mu.Unlock()
		calls[name]++
		return calls[name]
	}
	var e *engine.Engine
	var parentID atomic.Value
	e = harnessEngine(t, nil,
		engine.WithWorker("perm", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			if call("perm") == 1 {
				return nil, errors.New("perm failed")
			}
			return json.RawMessage(`{"p":2}`), nil
		}),
		engine.WithWorker("fails_once", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if call("fails_once") > 1 {
				return json.RawMessage(`{"a":2}`), nil
			}
			// Fail once the other branch's permissive task is stored FAILED.
			for {
				if id, _ := parentID.Load().(string); id != "" {
					b, _ := e.Show(ctx, id)
					var v runView
					_ = json.Unmarshal(b, &v)
					for _, tk := range v.Tasks {
						if tk.Ref == "p" && tk.Status == engine.TaskFailed {
							return nil, errors.New("child failed")
						}
					}
				}
				select {
				case <-ctx.Done():
					return nil, ctx.Err()
				case <-time.After(5 * time.Millisecond):
				}
			}
		}))
	d, err := e.Parse([]byte(`{"name":"kept_permissive","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	  [{"name":"a","taskReferenceName":"a","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"ca","workflowDefinition":{"name":"ca","version":1,"schemaVersion":2,"tasks":[{"name":"fails_once","taskReferenceName":"w","retryCount":0}]}}}],
	  [{"name":"perm","taskReferenceName":"p","permissive":true,"retryCount":0}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","p"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	parentID.Store("kept-permissive")
	res := startRun(t, e, d, `{}`, engine.WithRunID("kept-permissive"))
	before := viewRun(t, e, res.RunID)
	recs := byRef(before.Tasks)
	if before.Status != engine.StatusFailed || recs["a"].Status != engine.TaskFailed || recs["p"].Status != engine.TaskFailed {
		t.Fatalf("parent %s, tasks %+v", before.Status, before.Tasks)
	}
	got, err := e.Retry(context.Background(), recs["a"].SubWorkflowID, false)
	if err != nil || got.Status != engine.StatusCompleted {
		t.Fatalf("retry: %v %+v", err, got)
	}
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusFailed || len(wf.Tasks) != len(before.Tasks) {
		t.Fatalf("parent after the retry: %s %+v", wf.Status, wf.Tasks)
	}
	for _, tk := range wf.Tasks {
		was := recs[tk.Ref]
		if tk.TaskID != was.TaskID {
			t.Fatalf("record %s: %s, want the record %s", tk.Ref, tk.TaskID, was.TaskID)
		}
		if tk.Ref == "p" && (tk.Status != engine.TaskFailed || tk.RetryCount != was.RetryCount) {
			t.Fatalf("permissive record after the retry: %+v", tk)
		}
		if tk.Ref == "a" && tk.Status != engine.TaskCompleted {
			t.Fatalf("SUB_WORKFLOW record after the retry: %+v", tk)
		}
	}
	if calls["perm"] != 1 {
		t.Fatalf("the permissive task ran %d times, want once", calls["perm"])
	}
}
