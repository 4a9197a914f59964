package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// completedLoopParent runs loopSubDef to its completion (its DO_WHILE
// COMPLETED after 2 iterations, each starting a child): the run's id, its
// records, and the record of the child task of iteration 1's child.
func completedLoopParent(t *testing.T, e *engine.Engine) (string, []map[string]any, map[string]any) {
	t.Helper()
	d, err := e.Parse([]byte(loopSubDef))
	if err != nil {
		t.Fatal(err)
	}
	res := startRun(t, e, d, `{}`)
	if res.Status != engine.StatusCompleted {
		t.Fatalf("first run: %+v", res)
	}
	_, before := rawTasks(t, e, res.RunID)
	loop, sub := lastRecord(before, "loop"), lastRecord(before, "sub__1")
	if loop == nil || loop["status"] != engine.TaskCompleted || loop["iteration"] != float64(2) || sub == nil {
		t.Fatalf("first run: %v", before)
	}
	_, ct := rawTasks(t, e, sub["subWorkflowId"].(string))
	ca := lastRecord(ct, "ca")
	if ca == nil || ca["status"] != engine.TaskCompleted {
		t.Fatalf("first run's child: %v", ct)
	}
	return res.RunID, before, ca
}

// sameRecords reports how the records after differ from before: each
// record's reference, id, status and child, in the run's order.
func sameRecords(t *testing.T, when string, after, before []map[string]any) {
	t.Helper()
	show := func(ts []map[string]any) string {
		var s []string
		for _, tk := range ts {
			s = append(s, fmt.Sprintf("%s:%s:%s:%v", tk["referenceTaskName"], tk["taskId"], tk["status"], tk["subWorkflowId"]))
		}
		return fmt.Sprint(s)
	}
	if a, b := show(after), show(before); a != b {
		t.Errorf("%s: records\n%s\nwant them as they were\n%s", when, a, b)
	}
}

// checkChildRerunUnderLoop checks loopSubDef's run id after its iteration
// 1's child ran again from its task ca (the record caWas): the run
// COMPLETED, every record of it as it was (before) and the loop as it
// was, the child COMPLETED with ca's record kept.
func checkChildRerunUnderLoop(t *testing.T, e *engine.Engine, id string, before []map[string]any, caWas map[string]any) {
	t.Helper()
	status, after := rawTasks(t, e, id)
	if status != engine.StatusCompleted {
		t.Errorf("after the rerun: run %s, want COMPLETED", status)
	}
	sameCompletedLoop(t, "after the rerun", lastRecord(after, "loop"), lastRecord(before, "loop"))
	sameRecords(t, "after the rerun", after, before)
	cs, ct := rawTasks(t, e, lastRecord(before, "sub__1")["subWorkflowId"].(string))
	if ca := lastRecord(ct, "ca"); cs != engine.StatusCompleted || len(ct) != 1 || ca["taskId"] != caWas["taskId"] || ca["status"] != engine.TaskCompleted {
		t.Errorf("the child after the rerun: %s %v, want COMPLETED with ca's record %v", cs, ct, caWas["taskId"])
	}
}

// TestRerunFromAChildTaskInsideACompletedLoop: a rerun from the task of the
// child that a SUB_WORKFLOW task of iteration 1 of a DO_WHILE started, the
// loop and the run COMPLETED (named by the parent's id, as Conductor's
// rerunWF finds the task in a child, or by the child's). Conductor reruns
// the child from its task and its updateAndPushParents sets the parent's
// SUB_WORKFLOW task IN_PROGRESS (same record, same child) and the parent
// RUNNING, touching nothing else: the loop stays COMPLETED. When the child
// completes, the task completes and the decider's next tasks (the
// iteration's next task, the loop, the task after it) are recorded
// already (dedupAndAddTasks): nothing else runs and the parent completes.
// Before, the parent's replay skipped the loop, done, and the re-opened
// task stayed IN_PROGRESS until the run's end cancelled it: its child's
// task did not run.
func TestRerunFromAChildTaskInsideACompletedLoop(t *testing.T) {
	for _, by := range []string{"parent", "child"} {
		t.Run("by the "+by+"'s id", func(t *testing.T) {
			var fail atomic.Bool
			var mu sync.Mutex
			var ran []string
			gate := newRestoreGate()
			e := loopKindsEngine(t, gate, &fail, func(s string) {
				mu.Lock()
				ran = append(ran, s)
				mu.Unlock()
			})
			id, before, ca := completedLoopParent(t, e)
			sub := lastRecord(before, "sub__1")
			mu.Lock()
			ran = nil
			mu.Unlock()
			target := id
			if by == "child" {
				target = sub["subWorkflowId"].(string)
			}
			// The first write is the parent's (executeUnder): RUNNING,
			// its task IN_PROGRESS with the same child, the loop as it was.
			gate.armed.Store(true)
			done := make(chan error, 1)
			var rr *engine.Result
			go func() {
				var err error
				rr, err = e.RerunWith(context.Background(), target, engine.RerunOptions{FromTaskID: ca["taskId"].(string)})
				done <- err
			}()
			select {
			case <-gate.restored:
			case err := <-done:
				t.Fatalf("the rerun returned without its write: %v", err)
			}
			status, now := rawTasks(t, e, id)
			close(gate.release)
			if status != engine.StatusRunning {
				t.Errorf("the parent's write: run %s, want RUNNING", status)
			}
			if rec := lastRecord(now, "sub__1"); rec == nil || rec["taskId"] != sub["taskId"] || rec["status"] != engine.TaskInProgress ||
				rec["subWorkflowId"] != sub["subWorkflowId"] {
				t.Errorf("the parent's write: its task %v, want %v IN_PROGRESS naming its child %v", rec, sub["taskId"], sub["subWorkflowId"])
			}
			sameCompletedLoop(t, "the parent's write", lastRecord(now, "loop"), lastRecord(before, "loop"))
			if err := <-done; err != nil || rr == nil || rr.Status != engine.StatusCompleted {
				t.Fatalf("rerun: %v %+v", err, rr)
			}
			checkChildRerunUnderLoop(t, e, id, before, ca)
			mu.Lock()
			got := append([]string(nil), ran...)
			mu.Unlock()
			sort.Strings(got)
			// The child's task, with its input; nothing of the parent.
			if want := `[a{"i":1}]`; fmt.Sprint(got) != want {
				t.Errorf("tasks run by the rerun: %v, want %s", got, want)
			}
		})
	}
}

// TestRestartOfAChildInsideACompletedLoop: the same for a restart of that
// child (Conductor's restart pushes the parents the same way): the
// child's task runs again, the parent's records stay as they were and the
// parent completes.
func TestRestartOfAChildInsideACompletedLoop(t *testing.T) {
	var fail atomic.Bool
	var ran atomic.Int32
	e := loopKindsEngine(t, newRestoreGate(), &fail, func(s string) { ran.Add(1) })
	id, before, _ := completedLoopParent(t, e)
	ran.Store(0)
	rr, err := e.Restart(context.Background(), lastRecord(before, "sub__1")["subWorkflowId"].(string), true)
	if err != nil || rr == nil || rr.Status != engine.StatusCompleted {
		t.Fatalf("restart: %v %+v", err, rr)
	}
	status, after := rawTasks(t, e, id)
	if status != engine.StatusCompleted {
		t.Errorf("after the restart: parent %s, want COMPLETED", status)
	}
	sameRecords(t, "after the restart", after, before)
	if n := ran.Load(); n != 1 {
		t.Errorf("tasks run by the restart: %d, want the child's one", n)
	}
}

// TestRestartOfAChildInsideACompletedLoopOfARunningParent: the same when
// the parent still runs, past the loop, and no process executes it
// (updateAndPushParents re-opens the task whatever the parent's status):
// the parent's replay goes through the loop's iteration again to reach
// its re-opened task, which completes with the child, and the parent goes
// on and completes, its loop as it was.
func TestRestartOfAChildInsideACompletedLoopOfARunningParent(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls, holds atomic.Int32
	e := harnessEngine(t, nil,
		engine.WithWorker("rcl_a", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			calls.Add(1)
			return json.RawMessage(`{"by":"a"}`), nil
		}),
		engine.WithWorker("rcl_hold", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if holds.Add(1) == 1 {
				cancel() // the process goes away while the parent runs
				<-c.Done()
				return nil, c.Err()
			}
			return json.RawMessage(`{"held":true}`), nil
		}))
	d, err := e.Parse([]byte(`{"name":"rerun_completed_loop_running","version":1,"schemaVersion":2,"tasks":[
	 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 2",
	  "loopOver":[
	   {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","inputParameters":{"i":"${loop.output.iteration}"},
	    "subWorkflowParam":{"name":"rerun_completed_loop_running_child","version":1,"workflowDefinition":{"name":"rerun_completed_loop_running_child","version":1,"schemaVersion":2,
	     "tasks":[{"name":"rcl_a","taskReferenceName":"ca","inputParameters":{"i":"${workflow.input.i}"}}]}}}]},
	 {"name":"rcl_hold","taskReferenceName":"hold"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(ctx, d, json.RawMessage(`{}`))
	if !errors.Is(err, engine.ErrInterrupted) || res.Status != engine.StatusRunning {
		t.Fatalf("want the parent interrupted while running: %v %+v", err, res)
	}
	_, before := rawTasks(t, e, res.RunID)
	sub := lastRecord(before, "sub__1")
	if sub == nil || sub["status"] != engine.TaskCompleted || lastRecord(before, "loop")["status"] != engine.TaskCompleted {
		t.Fatalf("first run: %v", before)
	}
	calls.Store(0)
	if rr, err := e.Restart(context.Background(), sub["subWorkflowId"].(string), true); err != nil || rr.Status != engine.StatusCompleted {
		t.Fatalf("restart: %v %+v", err, rr)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer wcancel()
	if err := e.WaitStarted(wctx); err != nil {
		t.Fatal(err)
	}
	status, after := rawTasks(t, e, res.RunID)
	if status != engine.StatusCompleted {
		t.Errorf("parent after the restart: %s, want COMPLETED", status)
	}
	sameCompletedLoop(t, "after the restart", lastRecord(after, "loop"), lastRecord(before, "loop"))
	if rec := lastRecord(after, "sub__1"); rec["taskId"] != sub["taskId"] || rec["status"] != engine.TaskCompleted || rec["subWorkflowId"] != sub["subWorkflowId"] {
		t.Errorf("the re-opened task after the restart: %v, want %v COMPLETED naming %v", rec, sub["taskId"], sub["subWorkflowId"])
	}
	var refs []string
	for _, tk := range after {
		refs = append(refs, fmt.Sprintf("%s:%s", tk["referenceTaskName"], tk["status"]))
	}
	if want := "[loop:COMPLETED sub__1:COMPLETED sub__2:COMPLETED hold:COMPLETED]"; fmt.Sprint(refs) != want {
		t.Errorf("records after the restart: %v, want %s", refs, want)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("child tasks run by the restart: %d, want 1", n)
	}
}

// TestRestartOfAChildInsideACompletedLoopOfAnExecutingParent: the same
// while this process executes the parent, at its task after the loop: the
// re-opened task runs its child beside that task (reopen_executing.go),
// nothing of the loop runs again, and the parent completes once both
// have, its loop as it was.
func TestRestartOfAChildInsideACompletedLoopOfAnExecutingParent(t *testing.T) {
	var calls atomic.Int32
	hold, held := make(chan struct{}), make(chan struct{}, 1)
	e := harnessEngine(t, nil,
		engine.WithWorker("rcl_a", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			calls.Add(1)
			return json.RawMessage(`{"by":"a"}`), nil
		}),
		engine.WithWorker("rcl_hold", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
			held <- struct{}{}
			select {
			case <-hold:
				return json.RawMessage(`{"held":true}`), nil
			case <-c.Done():
				return nil, c.Err()
			}
		}))
	done := startHeld(t, e, `{"name":"rerun_completed_loop_executing","version":1,"schemaVersion":2,"tasks":[
	 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 2",
	  "loopOver":[
	   {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","inputParameters":{"i":"${loop.output.iteration}"},
	    "subWorkflowParam":{"name":"rerun_completed_loop_executing_child","version":1,"workflowDefinition":{"name":"rerun_completed_loop_executing_child","version":1,"schemaVersion":2,
	     "tasks":[{"name":"rcl_a","taskReferenceName":"ca","inputParameters":{"i":"${workflow.input.i}"}}]}}}]},
	 {"name":"rcl_hold","taskReferenceName":"hold"}]}`, "rcl-executing-parent")
	<-held // the parent runs here, at its task after the loop
	_, before := rawTasks(t, e, "rcl-executing-parent")
	sub := lastRecord(before, "sub__1")
	if sub == nil || sub["status"] != engine.TaskCompleted || lastRecord(before, "loop")["status"] != engine.TaskCompleted {
		t.Fatalf("first run: %v", before)
	}
	calls.Store(0)
	if rr, err := e.Restart(context.Background(), sub["subWorkflowId"].(string), true); err != nil || rr.Status != engine.StatusCompleted {
		t.Fatalf("restart: %v %+v", err, rr)
	}
	waitFor(t, "the re-opened task to complete", func() bool {
		_, now := rawTasks(t, e, "rcl-executing-parent")
		return lastRecord(now, "sub__1")["status"] == engine.TaskCompleted
	})
	close(hold)
	if res := ended(t, done); res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("parent: %+v", res)
	}
	_, after := rawTasks(t, e, "rcl-executing-parent")
	sameCompletedLoop(t, "after the restart", lastRecord(after, "loop"), lastRecord(before, "loop"))
	if rec := lastRecord(after, "sub__1"); rec["taskId"] != sub["taskId"] || rec["subWorkflowId"] != sub["subWorkflowId"] {
		t.Errorf("the re-opened task after the restart: %v, want %v naming %v", rec, sub["taskId"], sub["subWorkflowId"])
	}
	var refs []string
	for _, tk := range after {
		refs = append(refs, fmt.Sprintf("%s:%s", tk["referenceTaskName"], tk["status"]))
	}
	if want := "[loop:COMPLETED sub__1:COMPLETED sub__2:COMPLETED hold:COMPLETED]"; fmt.Sprint(refs) != want {
		t.Errorf("records after the restart: %v, want %s", refs, want)
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("child tasks run by the restart: %d, want 1", n)
	}
}
