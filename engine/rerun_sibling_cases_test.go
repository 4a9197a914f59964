package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// TestRerunResetsAFailedTerminateInPlace: a TERMINATE of another fork
// branch that failed (a termination status it does not know) is reset in
// place by a rerun, IN_PROGRESS (Conductor's Terminate is synchronous), as
// finalizeRerun resets every unsuccessful record before the rerun task; it
// runs again with its stored input (the status it was given), not with the
// rerun's new workflow input: it fails again, and so does the run. One
// TERMINATE record, its id kept. The fork is in a DO_WHILE's loopOver: the
// one place Conductor's registration leaves a TERMINATE's status to be
// resolved (and judged) when it runs; the rerun from the other branch's
// task, in the loop's iteration, reopens the loop there (finalizeRerun).
func TestRerunResetsAFailedTerminateInPlace(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(`{"name":"rerun_terminate_sibling","version":1,"schemaVersion":2,"tasks":[
	 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"false","loopOver":[
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	   [{"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":{"terminationStatus":"${workflow.input.st}"}}],
	   [{"name":"echo","taskReferenceName":"b","inputParameters":{}}]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["b","t"]}]}]}`, `{"st":"DONE"}`)
	if res.Status != engine.StatusFailed {
		t.Fatalf("first run: %+v", res)
	}
	_, before := rawTasks(t, h.e, res.RunID)
	var from, term string
	for _, tk := range before {
		switch tk["referenceTaskName"] {
		case "b__1":
			from, _ = tk["taskId"].(string)
		case "t__1":
			if tk["status"] != engine.TaskFailed {
				t.Fatalf("first run: TERMINATE %v", tk["status"])
			}
			term, _ = tk["taskId"].(string)
		}
	}
	if from == "" || term == "" {
		t.Fatalf("first run: no b__1 or t__1 record: %v", before)
	}
	r, err := h.e.RerunWith(context.Background(), res.RunID, engine.RerunOptions{FromTaskID: from, WorkflowInput: json.RawMessage(`{"st":"COMPLETED"}`)})
	if err != nil {
		t.Fatal(err)
	}
	_, after := rawTasks(t, h.e, res.RunID)
	terms := recordsOf(after, "t__1", func(tk map[string]any) string {
		return fmt.Sprintf("%v:%v:%v", tk["taskId"] == term, tk["status"], tk["inputData"])
	})
	if want := "[true:FAILED:map[terminationStatus:DONE]]"; fmt.Sprint(terms) != want {
		t.Errorf("TERMINATE records after the rerun: %v, want %s", terms, want)
	}
	if r.Status != engine.StatusFailed {
		t.Errorf("rerun: %+v, want FAILED", r)
	}
}

// dynForkSiblingEngine: w_flaky fails while fail, w_ok succeeds; runs
// counts w_flaky's calls.
func dynForkSiblingEngine(t *testing.T, fail *atomic.Bool, runs *atomic.Int32) *engine.Engine {
	t.Helper()
	zero := 0
	defs := engine.NewTaskDefs()
	if err := defs.Put(&engine.TaskDef{Name: "w_flaky", RetryCount: &zero}, &engine.TaskDef{Name: "w_ok", RetryCount: &zero}); err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
		engine.WithKeyring(keyring(t, 6)),
		engine.WithWorker("w_ok", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{}`), nil
		}),
		engine.WithWorker("w_flaky", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			runs.Add(1)
			if fail.Load() {
				return nil, errors.New("boom")
			}
			return json.RawMessage(`{}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// TestRerunFromADynamicForkLeavesSiblingsAsTheyAre: a rerun from a dynamic
// fork's FORK maps the fork again, and Conductor's finalizeRerun returns
// right after, before it resets the unsuccessful records before it: a task
// of another branch that failed stays as it was (its id, FAILED, its end
// time), not run again.
func TestRerunFromADynamicForkLeavesSiblingsAsTheyAre(t *testing.T) {
	var fail atomic.Bool
	var aRuns atomic.Int32
	e := dynForkSiblingEngine(t, &fail, &aRuns)
	d, err := e.Parse([]byte(`{"name":"rerun_dynfork_sibling","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	  [{"name":"w_flaky","taskReferenceName":"a"}],
	  [{"name":"dyn","taskReferenceName":"dyn","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"ts","dynamicForkTasksInputParamName":"in",
	    "inputParameters":{"ts":[{"name":"w_ok","taskReferenceName":"x","type":"SIMPLE"}],"in":{"x":{}}}},
	   {"name":"join","taskReferenceName":"dyn_join","type":"JOIN"}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","dyn_join"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	id, before := failedRun(t, e, d, `{}`, &fail)
	a, fork := lastRecord(before, "a"), lastRecord(before, "dyn")
	if a == nil || fork == nil || a["status"] != engine.TaskFailed || a["seq"].(float64) > fork["seq"].(float64) {
		t.Fatalf("first run: want a FAILED before the dynamic fork's FORK: %v", before)
	}
	fail.Store(false)
	aRuns.Store(0)
	if _, err := e.RerunWith(context.Background(), id, engine.RerunOptions{FromTaskID: fork["taskId"].(string)}); err != nil {
		t.Fatal(err)
	}
	_, after := rawTasks(t, e, id)
	as := recordsOf(after, "a", func(tk map[string]any) string {
		return fmt.Sprintf("%v:%v:%v", tk["taskId"] == a["taskId"], tk["status"], tk["endTime"] == a["endTime"])
	})
	if want := "[true:FAILED:true]"; fmt.Sprint(as) != want {
		t.Errorf("a's records after the rerun: %v, want %s", as, want)
	}
	if n := aRuns.Load(); n != 0 {
		t.Errorf("a ran %d times on the rerun, want 0", n)
	}
}

// TestRerunFromADynamicForkInALoopDoesNotReopenIt: nor does Conductor's
// finalizeRerun reopen the DO_WHILE holding a dynamic fork's FORK it reruns
// from: the loop, CANCELED as the run failed, stays so, and the next
// decision ends the run on it (Conductor's retry() of a CANCELED task
// terminates the workflow).
func TestRerunFromADynamicForkInALoopDoesNotReopenIt(t *testing.T) {
	var fail atomic.Bool
	var xRuns atomic.Int32
	e := dynForkSiblingEngine(t, &fail, &xRuns)
	d, err := e.Parse([]byte(`{"name":"rerun_dynfork_loop","version":1,"schemaVersion":2,"tasks":[
	 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 2","loopOver":[
	  {"name":"dyn","taskReferenceName":"dyn","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"ts","dynamicForkTasksInputParamName":"in",
	    "inputParameters":{"ts":[{"name":"w_flaky","taskReferenceName":"x","type":"SIMPLE"}],"in":{"x":{}}}},
	   {"name":"join","taskReferenceName":"dyn_join","type":"JOIN"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	res := startRun(t, e, d, `{}`)
	_, before := rawTasks(t, e, res.RunID)
	var loop, fork map[string]any
	for _, tk := range before {
		switch tk["taskType"] {
		case "DO_WHILE":
			loop = tk
		case "FORK":
			fork = tk
		}
	}
	if res.Status != engine.StatusFailed || loop == nil || fork == nil || loop["status"] != engine.TaskCanceled {
		t.Fatalf("first run: %s %v", res.Status, before)
	}
	fail.Store(false)
	r, err := e.RerunWith(context.Background(), res.RunID, engine.RerunOptions{FromTaskID: fork["taskId"].(string)})
	if err != nil {
		t.Fatal(err)
	}
	_, after := rawTasks(t, e, res.RunID)
	var loops []string
	for _, tk := range after {
		if tk["taskType"] == "DO_WHILE" {
			loops = append(loops, fmt.Sprintf("%v:%v:%v", tk["taskId"] == loop["taskId"], tk["status"], tk["endTime"] == loop["endTime"]))
		}
	}
	if want := "[true:CANCELED:true]"; fmt.Sprint(loops) != want {
		t.Errorf("DO_WHILE records after the rerun: %v, want %s", loops, want)
	}
	if r.Status != engine.StatusTerminated {
		t.Errorf("rerun: %+v, want TERMINATED", r)
	}
}
