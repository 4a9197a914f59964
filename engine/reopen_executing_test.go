package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// startHeld starts def on e in the background: the run executes here while
// the test acts on it. It returns the run's outcome channel.
func startHeld(t *testing.T, e *engine.Engine, def string, id string) <-chan *engine.Result {
	t.Helper()
	d, err := e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	out := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(context.Background(), d, json.RawMessage(`{}`), engine.WithRunID(id))
		if err != nil {
			t.Errorf("parent: %v", err)
		}
		out <- res
	}()
	return out
}

// ended waits up to 10 s for a run startHeld started.
func ended(t *testing.T, done <-chan *engine.Result) *engine.Result {
	t.Helper()
	select {
	case res := <-done:
		return res
	case <-time.After(10 * time.Second):
		t.Fatal("the parent never ended")
		return nil
	}
}

// waitFor polls cond every 5 ms for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// Conductor's updateAndPushParents re-opens the parent's SUB_WORKFLOW task
// whatever the parent's status, so also while this process executes the
// parent (the case under `wfrun serve`): a child restarted while its parent
// waits on its next task puts the parent's SUB_WORKFLOW record back to
// IN_PROGRESS (same record, same child), the parent executes the child
// beside that task, and completes only once both have, with the child's new
// output — whichever ends first.
func TestRestartOfAChildReopensItsExecutingParent(t *testing.T) {
	for _, holdFirst := range []bool{false, true} {
		name := "child ends first"
		if holdFirst {
			name = "parent's next task ends first"
		}
		t.Run(name, func(t *testing.T) {
			g := newGate(false)
			hold := make(chan struct{})
			held := make(chan struct{}, 1)
			e := harnessEngine(t, nil,
				engine.WithWorker("gated", g.worker),
				engine.WithWorker("hold", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
					held <- struct{}{}
					select {
					case <-hold:
						return json.RawMessage(`{"held":true}`), nil
					case <-c.Done():
						return nil, c.Err()
					}
				}))
			done := startHeld(t, e, `{"name":"executing_parent","version":1,"schemaVersion":2,"tasks":[
			 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"gated_child","workflowDefinition":`+childWithGate+`}},
			 {"name":"hold","taskReferenceName":"hold"}],
			 "outputParameters":{"call":"${sub.output.call}"}}`, "executing-parent")
			<-held // the parent runs here, at its next task
			sub := viewRun(t, e, "executing-parent").Tasks[0]
			if sub.Status != engine.TaskCompleted || sub.SubWorkflowID == "" {
				t.Fatalf("parent's tasks %+v", viewRun(t, e, "executing-parent").Tasks)
			}
			restarted := make(chan *engine.Result, 1)
			go func() {
				res, err := e.Restart(context.Background(), sub.SubWorkflowID, true)
				if err != nil {
					t.Errorf("restart: %v", err)
				}
				restarted <- res
			}()
			select {
			case <-g.entered:
			case <-time.After(10 * time.Second):
				t.Fatal("the child's task never ran again")
			}
			wf := viewRun(t, e, "executing-parent")
			if wf.Status != engine.StatusRunning || wf.Tasks[0].TaskID != sub.TaskID || wf.Tasks[0].Status != engine.TaskInProgress ||
				wf.Tasks[0].SubWorkflowID != sub.SubWorkflowID {
				t.Fatalf("parent while its child runs again: %s %+v, want RUNNING with %s IN_PROGRESS", wf.Status, wf.Tasks, sub.TaskID)
			}
			if holdFirst {
				close(hold)
				time.Sleep(50 * time.Millisecond)
				if wf := viewRun(t, e, "executing-parent"); wf.Status != engine.StatusRunning {
					t.Fatalf("parent ended before its re-opened child: %s %+v", wf.Status, wf.Tasks)
				}
				close(g.release)
			} else {
				close(g.release)
				if got := <-restarted; got == nil || got.Status != engine.StatusCompleted {
					t.Fatalf("child: %+v", got)
				}
				waitFor(t, "the parent's SUB_WORKFLOW task to complete", func() bool {
					return viewRun(t, e, "executing-parent").Tasks[0].Status == engine.TaskCompleted
				})
				if wf := viewRun(t, e, "executing-parent"); wf.Status != engine.StatusRunning {
					t.Fatalf("parent after its child, before its next task: %s %+v", wf.Status, wf.Tasks)
				}
				close(hold)
			}
			var res *engine.Result
			select {
			case res = <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("the parent never ended")
			}
			if res == nil || res.Status != engine.StatusCompleted {
				t.Fatalf("parent: %+v", res)
			}
			if holdFirst {
				if got := <-restarted; got == nil || got.Status != engine.StatusCompleted {
					t.Fatalf("child: %+v", got)
				}
			}
			wf = viewRun(t, e, "executing-parent")
			checkTasks(t, wf.Tasks, "SUB_WORKFLOW:COMPLETED", "hold:COMPLETED")
			if s := wf.Tasks[0]; s.TaskID != sub.TaskID || s.SubWorkflowID != sub.SubWorkflowID || s.Output["call"] != float64(2) {
				t.Fatalf("parent's SUB_WORKFLOW record %+v, want %s with child %s and its new output", s, sub.TaskID, sub.SubWorkflowID)
			}
			if wf.Output["call"] != float64(2) {
				t.Fatalf("parent's output %v", wf.Output)
			}
			if n := g.count(); n != 2 {
				t.Fatalf("the child's task ran %d times, want 2", n)
			}
		})
	}
}

// The FORK case while this process executes the parent: a permissive
// SUB_WORKFLOW task failed in one branch while the other still runs (the
// JOIN waits). Retrying the child re-opens that task; the JOIN waits for
// it and completes with the child's new output, and so does the parent.
func TestRetryOfAChildReopensItsExecutingParentInAFork(t *testing.T) {
	g := newGate(true)
	hold := make(chan struct{})
	e := harnessEngine(t, nil,
		engine.WithWorker("gated", g.worker),
		engine.WithWorker("hold", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
			select {
			case <-hold:
				return json.RawMessage(`{"held":true}`), nil
			case <-c.Done():
				return nil, c.Err()
			}
		}))
	done := startHeld(t, e, `{"name":"executing_fork_parent","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	  [{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","permissive":true,"subWorkflowParam":{"name":"gated_child","workflowDefinition":`+childWithGate+`}}],
	  [{"name":"hold","taskReferenceName":"hold"}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["sub","hold"]}]}`, "fork-parent")
	var sub taskView
	waitFor(t, "the child to fail", func() bool {
		b, err := e.Show(context.Background(), "fork-parent")
		var v runView
		if err != nil || json.Unmarshal(b, &v) != nil {
			return false
		}
		sub = byRef(v.Tasks)["sub"]
		return sub.Status == engine.TaskFailed
	})
	got := g.whileBlocked(t, func(c context.Context) (*engine.Result, error) {
		return e.Retry(c, sub.SubWorkflowID, false)
	}, func() {
		wf := viewRun(t, e, "fork-parent")
		if tk := byRef(wf.Tasks)["sub"]; wf.Status != engine.StatusRunning || tk.TaskID != sub.TaskID || tk.Status != engine.TaskInProgress {
			t.Errorf("parent's sub-workflow task while its child runs again: %s %+v, want %s IN_PROGRESS", wf.Status, tk, sub.TaskID)
		}
	})
	if got.Status != engine.StatusCompleted {
		t.Fatalf("child: %+v", got)
	}
	close(hold)
	res := ended(t, done)
	if res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("parent: %+v", res)
	}
	wf := viewRun(t, e, "fork-parent")
	checkTasks(t, wf.Tasks, "FORK:COMPLETED", "SUB_WORKFLOW:COMPLETED", "hold:COMPLETED", "JOIN:COMPLETED")
	if s := wf.Tasks[1]; s.TaskID != sub.TaskID || s.SubWorkflowID != sub.SubWorkflowID || s.Output["call"] != float64(2) {
		t.Fatalf("parent's SUB_WORKFLOW record %+v, want %s with child %s and its new output", s, sub.TaskID, sub.SubWorkflowID)
	}
}

// signalsFail is a run store whose PutSignal fails: a process restarting a
// child that dies before it can hand the re-open to the parent's executor.
type signalsFail struct{ runstore.Store }

func (signalsFail) PutSignal(context.Context, string, string, []byte) error {
	return errors.New("the restarting process went away")
}

// A restart in another process that stored the child RUNNING but never
// delivered the re-open leaves nothing lost: the process executing the
// parent notices the RUNNING child of its ended SUB_WORKFLOW record before
// it completes the parent, re-opens the record and executes the child.
func TestExecutingParentNoticesAChildRestartedElsewhere(t *testing.T) {
	shared := runstore.NewMemory()
	ring := keyring(t, 7) // processes sharing a run store share its keyring
	g := newGate(false)
	hold := make(chan struct{})
	held := make(chan struct{}, 1)
	a := harnessEngine(t, shared, engine.WithKeyring(ring),
		engine.WithWorker("gated", g.worker),
		engine.WithWorker("hold", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
			held <- struct{}{}
			select {
			case <-hold:
				return json.RawMessage(`{"held":true}`), nil
			case <-c.Done():
				return nil, c.Err()
			}
		}))
	b := harnessEngine(t, signalsFail{shared}, engine.WithKeyring(ring))
	done := startHeld(t, a, `{"name":"executing_parent","version":1,"schemaVersion":2,"tasks":[
	 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"gated_child","workflowDefinition":`+childWithGate+`}},
	 {"name":"hold","taskReferenceName":"hold"}],
	 "outputParameters":{"call":"${sub.output.call}"}}`, "noticing-parent")
	<-held
	sub := viewRun(t, a, "noticing-parent").Tasks[0]
	if _, err := b.Restart(context.Background(), sub.SubWorkflowID, true); err == nil || !strings.Contains(err.Error(), "went away") {
		t.Fatalf("the restart delivered its re-open: %v", err)
	}
	if c := viewRun(t, a, sub.SubWorkflowID); c.Status != engine.StatusRunning {
		t.Fatalf("child after the restart: %s", c.Status)
	}
	close(hold)
	select {
	case <-g.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the child's task never ran again")
	}
	wf := viewRun(t, a, "noticing-parent")
	if wf.Status != engine.StatusRunning || wf.Tasks[0].TaskID != sub.TaskID || wf.Tasks[0].Status != engine.TaskInProgress {
		t.Fatalf("parent while its child runs again: %s %+v", wf.Status, wf.Tasks)
	}
	close(g.release)
	res := ended(t, done)
	if res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("parent: %+v", res)
	}
	wf = viewRun(t, a, "noticing-parent")
	checkTasks(t, wf.Tasks, "SUB_WORKFLOW:COMPLETED", "hold:COMPLETED")
	if s := wf.Tasks[0]; s.TaskID != sub.TaskID || s.Output["call"] != float64(2) || wf.Output["call"] != float64(2) {
		t.Fatalf("parent's SUB_WORKFLOW record %+v, output %v", s, wf.Output)
	}
	if c := viewRun(t, a, sub.SubWorkflowID); c.Status != engine.StatusCompleted {
		t.Fatalf("child at the end: %s", c.Status)
	}
}

// Two levels: the leaf fails, its parent (the mid level) ends FAILED, and
// the root, which this process executes, goes on with its other branch
// (the mid level's SUB_WORKFLOW task is permissive). Retrying the leaf
// re-opens the ended mid level as before and hands the mid level's re-open
// to the root's executor: the root's record goes back to IN_PROGRESS with
// the same mid level, which runs the same leaf again; all three complete.
func TestRetryOfALeafReopensAnEndedParentUnderAnExecutingRoot(t *testing.T) {
	g := newGate(true)
	hold := make(chan struct{})
	e := harnessEngine(t, nil,
		engine.WithWorker("gated", g.worker),
		engine.WithWorker("hold", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
			select {
			case <-hold:
				return json.RawMessage(`{"held":true}`), nil
			case <-c.Done():
				return nil, c.Err()
			}
		}))
	mid := `{"name":"mid","version":1,"schemaVersion":2,"tasks":[{"name":"leaf","taskReferenceName":"leaf","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"gated_child","workflowDefinition":` + childWithGate + `}}]}`
	done := startHeld(t, e, `{"name":"executing_root","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	  [{"name":"mid","taskReferenceName":"mid","type":"SUB_WORKFLOW","permissive":true,"subWorkflowParam":{"name":"mid","workflowDefinition":`+mid+`}}],
	  [{"name":"hold","taskReferenceName":"hold"}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["mid","hold"]}]}`, "executing-root")
	var midRec taskView
	waitFor(t, "the mid level to fail", func() bool {
		b, err := e.Show(context.Background(), "executing-root")
		var v runView
		if err != nil || json.Unmarshal(b, &v) != nil {
			return false
		}
		midRec = byRef(v.Tasks)["mid"]
		return midRec.Status == engine.TaskFailed
	})
	leafRec := viewRun(t, e, midRec.SubWorkflowID).Tasks[0]
	got := g.whileBlocked(t, func(c context.Context) (*engine.Result, error) {
		return e.Retry(c, leafRec.SubWorkflowID, false)
	}, func() {
		root := viewRun(t, e, "executing-root")
		if tk := byRef(root.Tasks)["mid"]; root.Status != engine.StatusRunning || tk.TaskID != midRec.TaskID || tk.Status != engine.TaskInProgress {
			t.Errorf("root while the leaf runs again: %s %+v", root.Status, tk)
		}
		m := viewRun(t, e, midRec.SubWorkflowID)
		if m.Status != engine.StatusRunning || m.Tasks[0].TaskID != leafRec.TaskID || m.Tasks[0].Status != engine.TaskInProgress {
			t.Errorf("mid level while the leaf runs again: %s %+v", m.Status, m.Tasks)
		}
	})
	if got.Status != engine.StatusCompleted {
		t.Fatalf("leaf: %+v", got)
	}
	close(hold)
	res := ended(t, done)
	if res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("root: %+v", res)
	}
	checkTasks(t, viewRun(t, e, "executing-root").Tasks, "FORK:COMPLETED", "SUB_WORKFLOW:COMPLETED", "hold:COMPLETED", "JOIN:COMPLETED")
	m := viewRun(t, e, midRec.SubWorkflowID)
	if m.Status != engine.StatusCompleted || m.Tasks[0].TaskID != leafRec.TaskID || m.Tasks[0].Status != engine.TaskCompleted {
		t.Fatalf("mid level at the end: %s %+v", m.Status, m.Tasks)
	}
	// updateAndPushParents' execution log line on each re-opened task,
	// the runs below it named up the chain.
	leafName := "gated_child.1/" + leafRec.SubWorkflowID
	taskLog(t, e, midRec.SubWorkflowID, leafRec.TaskID, "Sub workflow "+leafName+" retried.")
	taskLog(t, e, "executing-root", midRec.TaskID, "Sub workflow mid.1/"+midRec.SubWorkflowID+" -> "+leafName+" retried.")
}

// taskLog checks that task taskID of run id has the execution log want.
func taskLog(t *testing.T, e *engine.Engine, id, taskID string, want ...string) {
	t.Helper()
	logs, err := e.TaskLogs(context.Background(), id, taskID)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range logs {
		got = append(got, l.Log)
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("task %s of run %s: execution log %q, want %q", taskID, id, got, want)
	}
}

// The re-opened task fails with its child: the parent this process
// executes fails with it, as Conductor's decider fails a workflow whose
// task failed without retries left, and its other running task is
// cancelled.
func TestReopenedTaskOfAnExecutingParentFailsItWithItsChild(t *testing.T) {
	var calls atomic.Int32
	held := make(chan struct{}, 1)
	e := harnessEngine(t, nil,
		engine.WithWorker("gated", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			if calls.Add(1) == 1 {
				return json.RawMessage(`{"call":1}`), nil
			}
			return nil, errors.New("failed again")
		}),
		engine.WithWorker("hold", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
			held <- struct{}{}
			<-c.Done()
			return nil, c.Err()
		}))
	done := startHeld(t, e, `{"name":"executing_parent","version":1,"schemaVersion":2,"tasks":[
	 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"gated_child","workflowDefinition":`+childWithGate+`}},
	 {"name":"hold","taskReferenceName":"hold"}]}`, "failing-parent")
	<-held
	sub := viewRun(t, e, "failing-parent").Tasks[0]
	got, err := e.Restart(context.Background(), sub.SubWorkflowID, true)
	if err != nil || got.Status != engine.StatusFailed {
		t.Fatalf("child: %+v %v", got, err)
	}
	res := ended(t, done)
	if res == nil || res.Status != engine.StatusFailed || res.FailedTaskRef != "sub" {
		t.Fatalf("parent: %+v", res)
	}
	wf := viewRun(t, e, "failing-parent")
	checkTasks(t, wf.Tasks, "SUB_WORKFLOW:FAILED", "hold:CANCELED")
	if wf.Tasks[0].TaskID != sub.TaskID || !strings.Contains(wf.Reason, "failed again") {
		t.Fatalf("parent: %q %+v", wf.Reason, wf.Tasks)
	}
}
