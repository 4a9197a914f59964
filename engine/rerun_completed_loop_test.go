package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

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
	zero := 0
	defs := engine.NewTaskDefs()
	if err := defs.Put(&engine.TaskDef{Name: "w_a", RetryCount: &zero}, &engine.TaskDef{Name: "w_b", RetryCount: &zero},
		&engine.TaskDef{Name: "w_after", RetryCount: &zero}); err != nil {
		t.Fatal(err)
	}
	worker := func(name string) func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			mu.Lock()
			ran = append(ran, name+string(in))
			mu.Unlock()
			if name == "after" && fail.Load() {
				return nil, errors.New("boom")
			}
			return json.RawMessage(`{"by":"` + name + `"}`), nil
		}
	}
	gate := newRestoreGate()
	e, err := engine.New(engine.WithRunStore(gate), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
		engine.WithKeyring(keyring(t, 7)),
		engine.WithWorker("w_a", worker("a")), engine.WithWorker("w_b", worker("b")), engine.WithWorker("w_after", worker("after")))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(`{"name":"rerun_completed_loop","version":1,"schemaVersion":2,"tasks":[
	 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 3",
	  "loopOver":[{"name":"w_a","taskReferenceName":"a","inputParameters":{"i":"${loop.output.iteration}"}},
	   {"name":"w_b","taskReferenceName":"b","inputParameters":{"i":"${loop.output.iteration}"}}]},
	 {"name":"w_after","taskReferenceName":"after"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	id, before := failedRun(t, e, d, `{}`, &fail)
	loop, from := lastRecord(before, "loop"), lastRecord(before, "a__2")
	if loop == nil || from == nil || loop["status"] != engine.TaskCompleted || lastRecord(before, "b__3") == nil {
		t.Fatalf("first run: %v", before)
	}
	fail.Store(false)
	mu.Lock()
	ran = nil
	mu.Unlock()
	sameLoop := func(when string, tk map[string]any) {
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
	status, now, wait := rerunAtItsWrite(t, e, gate, id, engine.RerunOptions{FromTaskID: from["taskId"].(string)})
	if status != engine.StatusRunning {
		t.Errorf("the rerun's write: run %s", status)
	}
	sameLoop("the rerun's write", lastRecord(now, "loop"))
	rr, err := wait()
	if err != nil || rr.Status != engine.StatusCompleted {
		t.Fatalf("rerun: %v %+v", err, rr)
	}
	_, after := rawTasks(t, e, id)
	sameLoop("after the rerun", lastRecord(after, "loop"))
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
	mu.Lock()
	defer mu.Unlock()
	// b__2 is scheduled anew: its ${loop.output.iteration} reads the
	// loop's output, which stays at 3, as Conductor's getTaskInputV2 reads
	// the loop's record; a__2 runs with its kept input.
	if want := `[a{"i":2} b{"i":3} after{}]`; fmt.Sprint(ran) != want {
		t.Errorf("tasks run by the rerun: %v, want %s", ran, want)
	}
}
