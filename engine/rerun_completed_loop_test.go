package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// completedLoopEngine runs the tasks of completedLoopDef on store: w_a and
// w_b answer their name, w_after fails while fail is set; ran (when not
// nil) hears each call, the worker's name followed by its input.
func completedLoopEngine(t *testing.T, store runstore.Store, fail *atomic.Bool, ran func(string)) *engine.Engine {
	t.Helper()
	zero := 0
	defs := engine.NewTaskDefs()
	if err := defs.Put(&engine.TaskDef{Name: "w_a", RetryCount: &zero}, &engine.TaskDef{Name: "w_b", RetryCount: &zero},
		&engine.TaskDef{Name: "w_after", RetryCount: &zero}); err != nil {
		t.Fatal(err)
	}
	worker := func(name string) func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			if ran != nil {
				ran(name + string(in))
			}
			if name == "after" && fail.Load() {
				return nil, errors.New("boom")
			}
			return json.RawMessage(`{"by":"` + name + `"}`), nil
		}
	}
	e, err := engine.New(engine.WithRunStore(store), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
		engine.WithKeyring(keyring(t, 7)),
		engine.WithWorker("w_a", worker("a")), engine.WithWorker("w_b", worker("b")), engine.WithWorker("w_after", worker("after")))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

const completedLoopDef = `{"name":"rerun_completed_loop","version":1,"schemaVersion":2,"tasks":[
 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 3",
  "loopOver":[{"name":"w_a","taskReferenceName":"a","inputParameters":{"i":"${loop.output.iteration}"}},
   {"name":"w_b","taskReferenceName":"b","inputParameters":{"i":"${loop.output.iteration}"}}]},
 {"name":"w_after","taskReferenceName":"after"}]}`

// failedCompletedLoop runs completedLoopDef to its failure on the task
// after the loop, which completed its 3 iterations: the run's id, the
// loop's record and a__2's (the task the rerun starts from).
func failedCompletedLoop(t *testing.T, e *engine.Engine, fail *atomic.Bool) (string, map[string]any, map[string]any) {
	t.Helper()
	d, err := e.Parse([]byte(completedLoopDef))
	if err != nil {
		t.Fatal(err)
	}
	id, before := failedRun(t, e, d, `{}`, fail)
	loop, from := lastRecord(before, "loop"), lastRecord(before, "a__2")
	if loop == nil || from == nil || loop["status"] != engine.TaskCompleted || lastRecord(before, "b__3") == nil {
		t.Fatalf("first run: %v", before)
	}
	fail.Store(false)
	return id, loop, from
}

// sameCompletedLoop checks that tk, the loop's record, is loop as it was:
// COMPLETED, its endTime, iteration and output.
func sameCompletedLoop(t *testing.T, when string, tk, loop map[string]any) {
	t.Helper()
	if tk == nil {
		t.Fatalf("%s: no loop record", when)
	}
	out, _ := json.Marshal(tk["outputData"])
	was, _ := json.Marshal(loop["outputData"])
	if tk["taskId"] != loop["taskId"] || tk["status"] != engine.TaskCompleted || tk["endTime"] != loop["endTime"] ||
		tk["iteration"] != loop["iteration"] || string(out) != string(was) {
		t.Errorf("%s: the loop is %v %v endTime %v iteration %v output %s; want it as it was: COMPLETED endTime %v iteration %v output %s",
			when, tk["taskId"] == loop["taskId"], tk["status"], tk["endTime"], tk["iteration"], out, loop["endTime"], loop["iteration"], was)
	}
}

// checkCompletedLoopRerun checks run id after the rerun from a__2 (from):
// the loop as it was, iteration 2 run again (a__2 under its id), no third
// iteration, the task after the loop completed.
func checkCompletedLoopRerun(t *testing.T, e *engine.Engine, id string, loop, from map[string]any) {
	t.Helper()
	_, after := rawTasks(t, e, id)
	sameCompletedLoop(t, "after the rerun", lastRecord(after, "loop"), loop)
	var refs []string
	for _, tk := range after {
		refs = append(refs, fmt.Sprintf("%s:%s", tk["referenceTaskName"], tk["status"]))
	}
	want := "[loop:COMPLETED a__1:COMPLETED b__1:COMPLETED a__2:COMPLETED b__2:COMPLETED after:COMPLETED]"
	if fmt.Sprint(refs) != want {
		t.Errorf("records after the rerun: %v\nwant %s", refs, want)
	}
	if rec := lastRecord(after, "a__2"); rec == nil || rec["taskId"] != from["taskId"] {
		t.Errorf("the rerun task's record: %v, want its id %v kept", rec, from["taskId"])
	}
}

// TestRerunInsideACompletedLoopLeavesItCompleted: a rerun from a task of
// iteration 2 of a DO_WHILE that completed (3 iterations; the run failed on
// the task after it) leaves the loop as it is, as Conductor's rerunWF and
// finalizeRerun do (a successful record is not touched): COMPLETED, its
// output (iteration 3) and endTime kept, in the rerun's write and after.
// The rerun task and the task after it in iteration 2 run again (the
// decider schedules each next task of the iteration), and no iteration
// follows: at the iteration's last task Conductor's getNextTask finds the
// loop recorded already. The run then goes on past the loop (where
// Conductor's decider schedules nothing more: see replayRerunIteration).
func TestRerunInsideACompletedLoopLeavesItCompleted(t *testing.T) {
	var fail atomic.Bool
	var mu sync.Mutex
	var ran []string
	gate := newRestoreGate()
	e := completedLoopEngine(t, gate, &fail, func(s string) {
		mu.Lock()
		ran = append(ran, s)
		mu.Unlock()
	})
	id, loop, from := failedCompletedLoop(t, e, &fail)
	mu.Lock()
	ran = nil
	mu.Unlock()
	status, now, wait := rerunAtItsWrite(t, e, gate, id, engine.RerunOptions{FromTaskID: from["taskId"].(string)})
	if status != engine.StatusRunning {
		t.Errorf("the rerun's write: run %s", status)
	}
	sameCompletedLoop(t, "the rerun's write", lastRecord(now, "loop"), loop)
	rr, err := wait()
	if err != nil || rr.Status != engine.StatusCompleted {
		t.Fatalf("rerun: %v %+v", err, rr)
	}
	checkCompletedLoopRerun(t, e, id, loop, from)
	mu.Lock()
	defer mu.Unlock()
	// b__2 is scheduled anew: its ${loop.output.iteration} reads the
	// loop's output, which stays at 3, as Conductor's getTaskInputV2 reads
	// the loop's record; a__2 runs with its kept input.
	if want := `[a{"i":2} b{"i":3} after{}]`; fmt.Sprint(ran) != want {
		t.Errorf("tasks run by the rerun: %v, want %s", ran, want)
	}
}

// TestRerunInsideACompletedLoopPermissiveFailure: the rerun task, a
// permissive task of a COMPLETED loop's iteration, fails again: no loop
// judges it (the loop stays COMPLETED), the run goes on past it as past
// any permissive task and fails at its end with its reason, as Conductor's
// decider fails the workflow on a permissive task that did not succeed
// once nothing is left to schedule.
func TestRerunInsideACompletedLoopPermissiveFailure(t *testing.T) {
	var fail atomic.Bool
	zero := 0
	defs := engine.NewTaskDefs()
	if err := defs.Put(&engine.TaskDef{Name: "w_p", RetryCount: &zero}, &engine.TaskDef{Name: "w_after", RetryCount: &zero}); err != nil {
		t.Fatal(err)
	}
	var failP atomic.Bool
	e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
		engine.WithKeyring(keyring(t, 7)),
		engine.WithWorker("w_p", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			if failP.Load() {
				return nil, errors.New("p failed")
			}
			return json.RawMessage(`{}`), nil
		}),
		engine.WithWorker("w_after", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			if fail.Load() {
				return nil, errors.New("boom")
			}
			return json.RawMessage(`{}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(`{"name":"rerun_completed_loop_permissive","version":1,"schemaVersion":2,"tasks":[
	 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 2",
	  "loopOver":[{"name":"w_p","taskReferenceName":"p","permissive":true}]},
	 {"name":"w_after","taskReferenceName":"after"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	id, before := failedRun(t, e, d, `{}`, &fail)
	loop, from := lastRecord(before, "loop"), lastRecord(before, "p__1")
	if loop == nil || from == nil || loop["status"] != engine.TaskCompleted {
		t.Fatalf("first run: %v", before)
	}
	fail.Store(false)
	failP.Store(true)
	r, err := e.RerunWith(context.Background(), id, engine.RerunOptions{FromTaskID: from["taskId"].(string)})
	if err != nil || r.Status != engine.StatusFailed || !strings.Contains(r.Reason, "p failed") {
		t.Fatalf("rerun: %v %+v, want FAILED for p's failure", err, r)
	}
	_, after := rawTasks(t, e, id)
	sameCompletedLoop(t, "after the rerun", lastRecord(after, "loop"), loop)
	var refs []string
	for _, tk := range after {
		refs = append(refs, fmt.Sprintf("%s:%s", tk["referenceTaskName"], tk["status"]))
	}
	if want := "[loop:COMPLETED p__1:FAILED after:COMPLETED]"; fmt.Sprint(refs) != want {
		t.Errorf("records after the rerun: %v, want %s", refs, want)
	}
}
