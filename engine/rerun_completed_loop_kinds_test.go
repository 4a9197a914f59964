package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks"
)

// loopKindsToken is the secret api_token of loopKindsEngine's runs.
const loopKindsToken = "tok-58213-loopkinds"

// loopKindsEngine runs the definitions of the tests below on store: w_a,
// w_b and w_c answer their name, w_after fails while fail is set; ran
// (when not nil) hears each call, the worker's name followed by its input.
// Its runs read the secret api_token (loopKindsToken).
func loopKindsEngine(t *testing.T, store runstore.Store, fail *atomic.Bool, ran func(string)) *engine.Engine {
	t.Helper()
	zero := 0
	defs := engine.NewTaskDefs()
	if err := defs.Put(&engine.TaskDef{Name: "w_a", RetryCount: &zero}, &engine.TaskDef{Name: "w_b", RetryCount: &zero},
		&engine.TaskDef{Name: "w_c", RetryCount: &zero}, &engine.TaskDef{Name: "w_after", RetryCount: &zero}); err != nil {
		t.Fatal(err)
	}
	worker := func(name string) func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			if ran != nil {
				var m map[string]any
				_ = json.Unmarshal(in, &m)
				b, _ := json.Marshal(m) // keys sorted
				ran(name + string(b))
			}
			if name == "after" && fail.Load() {
				return nil, errors.New("boom")
			}
			return json.RawMessage(`{"by":"` + name + `"}`), nil
		}
	}
	e, err := engine.New(engine.WithRunStore(store), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
		engine.WithKeyring(keyring(t, 9)),
		engine.WithSecrets(func(engine.Principal, string, string) interpolate.SecretSource {
			return interpolate.MapSecrets{"api_token": json.RawMessage(`"` + loopKindsToken + `"`)}
		}),
		engine.WithWorker("w_a", worker("a")), engine.WithWorker("w_b", worker("b")),
		engine.WithWorker("w_c", worker("c")), engine.WithWorker("w_after", worker("after")))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// loopKindsRun is a definition whose DO_WHILE "loop" runs 2 iterations
// and is followed by w_after "after", and the ref the rerun starts from
// (in iteration 1).
type loopKindsRun struct {
	def, from string
}

// failedLoopKinds runs k.def to its failure on the task after the loop,
// which completed its 2 iterations: the run's id, the loop's record and
// the record the rerun starts from.
func failedLoopKinds(t *testing.T, e *engine.Engine, k loopKindsRun, fail *atomic.Bool) (string, map[string]any, map[string]any) {
	t.Helper()
	d, err := e.Parse([]byte(k.def))
	if err != nil {
		t.Fatal(err)
	}
	id, before := failedRun(t, e, d, `{}`, fail)
	loop, from := lastRecord(before, "loop"), lastRecord(before, k.from)
	if loop == nil || from == nil || loop["status"] != engine.TaskCompleted || loop["iteration"] != float64(2) ||
		lastRecord(before, "c__2") == nil {
		t.Fatalf("first run: %v", before)
	}
	fail.Store(false)
	return id, loop, from
}

// checkLoopKindsRerun checks run id after the rerun: COMPLETED, the loop
// as it was, the records (ref:status in the run's order) want, no record
// of iteration 2.
func checkLoopKindsRerun(t *testing.T, e *engine.Engine, id string, loop map[string]any, want string) []map[string]any {
	t.Helper()
	status, after := rawTasks(t, e, id)
	if status != engine.StatusCompleted {
		t.Errorf("after the rerun: run %s, want COMPLETED", status)
	}
	sameCompletedLoop(t, "after the rerun", lastRecord(after, "loop"), loop)
	var refs []string
	for _, tk := range after {
		refs = append(refs, fmt.Sprintf("%s:%s", tk["referenceTaskName"], tk["status"]))
	}
	if fmt.Sprint(refs) != want {
		t.Errorf("records after the rerun: %v\nwant %s", refs, want)
	}
	return after
}

// runLoopKindsRerun runs k to its failure, reruns it from k.from (checking
// the loop at the rerun's write) and returns the run's id, the loop's
// record as it was, the record rerun from, the tasks the rerun ran
// (sorted: branches run in parallel) and its result.
func runLoopKindsRerun(t *testing.T, k loopKindsRun) (*engine.Engine, *restoreGate, string, map[string]any, map[string]any, []string, *engine.Result) {
	t.Helper()
	var fail atomic.Bool
	var mu sync.Mutex
	var ran []string
	gate := newRestoreGate()
	e := loopKindsEngine(t, gate, &fail, func(s string) {
		mu.Lock()
		ran = append(ran, s)
		mu.Unlock()
	})
	id, loop, from := failedLoopKinds(t, e, k, &fail)
	mu.Lock()
	ran = nil
	mu.Unlock()
	status, now, wait := rerunAtItsWrite(t, e, gate, id, engine.RerunOptions{FromTaskID: from["taskId"].(string)})
	if status != engine.StatusRunning {
		t.Errorf("the rerun's write: run %s", status)
	}
	sameCompletedLoop(t, "the rerun's write", lastRecord(now, "loop"), loop)
	rr, err := wait()
	if err != nil || rr == nil {
		t.Fatalf("rerun: %v %+v", err, rr)
	}
	mu.Lock()
	defer mu.Unlock()
	got := append([]string(nil), ran...)
	sort.Strings(got)
	return e, gate, id, loop, from, got, rr
}

const loopDynForkDef = `{"name":"rerun_completed_loop_dynfork","version":1,"schemaVersion":2,"tasks":[
 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 2",
  "loopOver":[
   {"name":"dyn","taskReferenceName":"dyn","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"ts","dynamicForkTasksInputParamName":"in",
    "inputParameters":{"ts":[{"name":"w_a","taskReferenceName":"x","type":"SIMPLE"},{"name":"w_b","taskReferenceName":"y","type":"SIMPLE"}],
     "in":{"x":{"i":"${loop.output.iteration}"},"y":{}}}},
   {"name":"join","taskReferenceName":"join","type":"JOIN"},
   {"name":"w_c","taskReferenceName":"c","inputParameters":{"i":"${loop.output.iteration}"}}]},
 {"name":"w_after","taskReferenceName":"after"}]}`

// loopDynForkRecords are the records of loopDynForkDef's run after a rerun
// from the FORK of iteration 1.
const loopDynForkRecords = "[loop:COMPLETED dyn__1:COMPLETED x__1:COMPLETED y__1:COMPLETED join__1:COMPLETED c__1:COMPLETED after:COMPLETED]"

// checkLoopDynForkRerun checks loopDynForkDef's run id after the rerun
// from the FORK of iteration 1 (from): the loop as it was, iteration 1's
// fork mapped again (a new FORK record), its branches, JOIN and the task
// after them run again, no iteration 2, the task after the loop completed.
func checkLoopDynForkRerun(t *testing.T, e *engine.Engine, id string, loop, from map[string]any) {
	t.Helper()
	after := checkLoopKindsRerun(t, e, id, loop, loopDynForkRecords)
	if rec := lastRecord(after, "dyn__1"); rec == nil || rec["taskId"] == from["taskId"] || rec["seq"] != from["seq"] {
		t.Errorf("the FORK's record after the rerun: %v, want a new id at seq %v (was %v)", rec, from["seq"], from["taskId"])
	}
}

// TestRerunInsideACompletedLoopFromADynamicFork: a rerun from the FORK of
// a FORK_JOIN_DYNAMIC in iteration 1 of a DO_WHILE that completed (2
// iterations; the run failed on the task after it). Conductor's rerunWF
// removes the tasks after the FORK (its branches, JOIN, the rest of the
// iteration, iteration 2, the failed task after the loop) and
// finalizeRerun maps the fork again (a new FORK record and branches),
// touching nothing else: the loop stays COMPLETED, its output, iteration
// and endTime kept. The decider then schedules the JOIN and the task after
// it, and at the iteration's last task finds the loop recorded already: no
// iteration follows. wfrun then goes on past the loop (see
// replayRerunIteration) and the run completes. Each task of the iteration
// runs once; those reading ${loop.output.iteration} read 2, the loop's
// output as it stays.
func TestRerunInsideACompletedLoopFromADynamicFork(t *testing.T) {
	e, _, id, loop, from, ran, rr := runLoopKindsRerun(t, loopKindsRun{def: loopDynForkDef, from: "dyn__1"})
	if rr.Status != engine.StatusCompleted {
		t.Errorf("rerun: %+v, want COMPLETED", rr)
	}
	checkLoopDynForkRerun(t, e, id, loop, from)
	if want := `[after{} a{"i":2} b{} c{"i":2}]`; fmt.Sprint(ran) != want {
		t.Errorf("tasks run by the rerun: %v, want %s", ran, want)
	}
}

// TestRerunInsideACompletedLoopFromAForkBranch: a rerun from the task of
// the last branch of a static FORK_JOIN in iteration 1 of a DO_WHILE that
// completed. Conductor's rerunWF resets the task in place and removes the
// tasks after it (the JOIN, the rest of the iteration, iteration 2, the
// task after the loop); finalizeRerun leaves the COMPLETED loop and the
// other branch's task as they are. The decider schedules the JOIN once the
// task ends (both branches done), then the iteration's last task, then
// finds the loop recorded: no iteration follows.
func TestRerunInsideACompletedLoopFromAForkBranch(t *testing.T) {
	e, _, id, loop, from, ran, rr := runLoopKindsRerun(t, loopKindsRun{from: "b__1", def: `{"name":"rerun_completed_loop_fork","version":1,"schemaVersion":2,"tasks":[
	 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 2",
	  "loopOver":[
	   {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	    [{"name":"w_a","taskReferenceName":"a","inputParameters":{"i":"${loop.output.iteration}"}}],
	    [{"name":"w_b","taskReferenceName":"b","inputParameters":{"i":"${loop.output.iteration}"}}]]},
	   {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","b"]},
	   {"name":"w_c","taskReferenceName":"c","inputParameters":{"i":"${loop.output.iteration}"}}]},
	 {"name":"w_after","taskReferenceName":"after"}]}`})
	if rr.Status != engine.StatusCompleted {
		t.Errorf("rerun: %+v, want COMPLETED", rr)
	}
	after := checkLoopKindsRerun(t, e, id, loop,
		"[loop:COMPLETED fork__1:COMPLETED a__1:COMPLETED b__1:COMPLETED join__1:COMPLETED c__1:COMPLETED after:COMPLETED]")
	if rec := lastRecord(after, "b__1"); rec == nil || rec["taskId"] != from["taskId"] {
		t.Errorf("the rerun task's record: %v, want its id %v kept", rec, from["taskId"])
	}
	// b__1 runs with its kept input (iteration 1); c__1 is scheduled anew
	// and reads the loop's output, which stays at 2.
	if want := `[after{} b{"i":1} c{"i":2}]`; fmt.Sprint(ran) != want {
		t.Errorf("tasks run by the rerun: %v, want %s", ran, want)
	}
}

// TestRerunInsideACompletedLoopFromASwitchCase: a rerun from the first
// task of a SWITCH case in iteration 1 of a DO_WHILE that completed.
// Conductor's rerunWF resets it in place and removes the tasks after it;
// the decider schedules the case's next task, then the task after the
// SWITCH, then finds the loop recorded: no iteration follows. Both the
// rerun task and the case's next task (scheduled anew) read a secret: each
// gets its value, and the stored run never holds it. (The rerun task's
// template reading a secret is resolved again rather than its input kept,
// replacementInput: it reads nothing else here.)
func TestRerunInsideACompletedLoopFromASwitchCase(t *testing.T) {
	e, gate, id, loop, from, ran, rr := runLoopKindsRerun(t, loopKindsRun{from: "a__1", def: `{"name":"rerun_completed_loop_switch","version":1,"schemaVersion":2,"tasks":[
	 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 2",
	  "loopOver":[
	   {"name":"sw","taskReferenceName":"sw","type":"SWITCH","evaluatorType":"value-param","expression":"k","inputParameters":{"k":"go"},
	    "decisionCases":{"go":[
	     {"name":"w_a","taskReferenceName":"a","inputParameters":{"tok":"${workflow.secrets.api_token}"}},
	     {"name":"w_b","taskReferenceName":"b","inputParameters":{"i":"${loop.output.iteration}","tok":"${workflow.secrets.api_token}"}}]},
	    "defaultCase":[]},
	   {"name":"w_c","taskReferenceName":"c","inputParameters":{"i":"${loop.output.iteration}"}}]},
	 {"name":"w_after","taskReferenceName":"after"}]}`})
	if rr.Status != engine.StatusCompleted {
		t.Errorf("rerun: %+v, want COMPLETED", rr)
	}
	after := checkLoopKindsRerun(t, e, id, loop,
		"[loop:COMPLETED sw__1:COMPLETED a__1:COMPLETED b__1:COMPLETED c__1:COMPLETED after:COMPLETED]")
	if rec := lastRecord(after, "a__1"); rec == nil || rec["taskId"] != from["taskId"] {
		t.Errorf("the rerun task's record: %v, want its id %v kept", rec, from["taskId"])
	}
	want := fmt.Sprintf(`[after{} a{"tok":%q} b{"i":2,"tok":%q} c{"i":2}]`, loopKindsToken, loopKindsToken)
	if fmt.Sprint(ran) != want {
		t.Errorf("tasks run by the rerun: %v, want %s", ran, want)
	}
	raw, _, err := gate.Load(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(loopKindsToken)) || bytes.Contains(raw, []byte(loopKindsToken[:12])) {
		t.Errorf("the stored run holds the secret")
	}
}

const loopSubDef = `{"name":"rerun_completed_loop_sub","version":1,"schemaVersion":2,"tasks":[
 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 2",
  "loopOver":[
   {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","inputParameters":{"i":"${loop.output.iteration}"},
    "subWorkflowParam":{"name":"rerun_completed_loop_child","version":1,"workflowDefinition":{"name":"rerun_completed_loop_child","version":1,"schemaVersion":2,
     "tasks":[{"name":"w_a","taskReferenceName":"ca","inputParameters":{"i":"${workflow.input.i}"}}]}}},
   {"name":"w_c","taskReferenceName":"c","inputParameters":{"i":"${loop.output.iteration}"}}]},
 {"name":"w_after","taskReferenceName":"after"}]}`

// checkLoopSubRerun checks loopSubDef's run id after the rerun from the
// SUB_WORKFLOW task of iteration 1 (from): the loop and the other records
// as they were, the task's record kept with a new child.
func checkLoopSubRerun(t *testing.T, e *engine.Engine, id string, loop, from map[string]any) {
	t.Helper()
	after := checkLoopKindsRerun(t, e, id, loop,
		"[loop:COMPLETED sub__1:COMPLETED c__1:COMPLETED sub__2:COMPLETED c__2:COMPLETED after:COMPLETED]")
	rec := lastRecord(after, "sub__1")
	if rec == nil || rec["taskId"] != from["taskId"] || rec["subWorkflowId"] == from["subWorkflowId"] {
		t.Errorf("the rerun task's record: %v, want its id %v kept and a new child (was %v)", rec, from["taskId"], from["subWorkflowId"])
	}
}

// TestRerunInsideACompletedLoopFromASubWorkflow: a rerun from a
// SUB_WORKFLOW task in iteration 1 of a DO_WHILE that completed.
// Conductor's rerunWF reruns a SUB_WORKFLOW task in place (a new child)
// and removes nothing after it; finalizeRerun resets the unsuccessful
// records (the task after the loop, scheduled again) and leaves the
// COMPLETED loop and the successful records as they are. When the child
// ends, the decider's next task of the iteration is recorded already
// (dedupAndAddTasks drops it) and the loop too: the iteration's later task
// and iteration 2 do not run again; the run completes once the task after
// the loop has.
func TestRerunInsideACompletedLoopFromASubWorkflow(t *testing.T) {
	e, _, id, loop, from, ran, rr := runLoopKindsRerun(t, loopKindsRun{from: "sub__1", def: loopSubDef})
	if rr.Status != engine.StatusCompleted {
		t.Errorf("rerun: %+v, want COMPLETED", rr)
	}
	checkLoopSubRerun(t, e, id, loop, from)
	// The new child runs with the child input the record kept.
	if want := `[after{} a{"i":1}]`; fmt.Sprint(ran) != want {
		t.Errorf("tasks run by the rerun: %v, want %s", ran, want)
	}
}
