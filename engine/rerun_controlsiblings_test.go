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

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// rerunControlSiblingsDef: four branches. While the first run fails, w_side
// (the loop's body, the child's task, a) waits until the run's failure
// cancels it, and b fails once pre has seen the others start: loop (a
// DO_WHILE), body__1, sub (a SUB_WORKFLOW), a and the JOIN end
// unsuccessfully with seqs below b's.
const rerunControlSiblingsDef = `{"name":"rerun_control_siblings","version":1,"schemaVersion":2,"tasks":[
 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
  [{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","inputParameters":{"k":"${workflow.input.k}"},"loopCondition":"if ($.loop['iteration'] < 1) { true; } else { false; }",
    "loopOver":[{"name":"w_side","taskReferenceName":"body","inputParameters":{"who":"body","k":"${workflow.input.k}"}}]}],
  [{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","inputParameters":{"k":"${workflow.input.k}"},
    "subWorkflowParam":{"name":"rerun_sibling_child","priority":"${workflow.input.p}","workflowDefinition":{"name":"rerun_sibling_child","version":1,"schemaVersion":2,
     "tasks":[{"name":"w_side","taskReferenceName":"inner","inputParameters":{"who":"inner","k":"${workflow.input.k}"}}]}}}],
  [{"name":"w_side","taskReferenceName":"a","inputParameters":{"who":"a","k":"${workflow.input.k}"}}],
  [{"name":"w_ok","taskReferenceName":"pre"},
   {"name":"w_flaky","taskReferenceName":"b","inputParameters":{"who":"b","k":"${workflow.input.k}"}}]]},
 {"name":"join","taskReferenceName":"join","type":"JOIN","inputParameters":{"k":"${workflow.input.k}"},"joinOn":["loop","sub","a","b"]},
 {"name":"w_ok","taskReferenceName":"after","inputParameters":{"who":"after","k":"${workflow.input.k}"}}]}`

// TestRerunResetsControlAndSubWorkflowSiblingsInPlace: Conductor's
// finalizeRerun resets in place every record before the rerun task that
// ended unsuccessfully, control tasks and SUB_WORKFLOWs too: in the
// rerun's write the DO_WHILE is IN_PROGRESS (same task id), the
// SUB_WORKFLOW SCHEDULED with no child (no subWorkflowId, in the record
// nor in its output), the leaf tasks SCHEDULED; the executor takes them
// over (one record each, the loop going on at its iteration, the
// SUB_WORKFLOW starting a new child). They run with the input they have
// (Conductor's scheduled task keeps its inputData): the rerun's new
// workflow input reaches the tasks scheduled after the rerun only.
// controlSiblingsEngine runs rerunControlSiblingsDef: while fail, w_side
// waits until the run's failure cancels it (closing started[who] when it
// starts, if given), pre waits for the three to start, and w_flaky fails.
// record gets each worker call's who=k.
func controlSiblingsEngine(t *testing.T, rs runstore.Store, fail *atomic.Bool, started map[string]chan struct{}, record func(string), opts ...engine.Option) *engine.Engine {
	t.Helper()
	var once sync.Map
	call := func(in json.RawMessage) string {
		var v struct{ Who, K string }
		_ = json.Unmarshal(in, &v)
		record(v.Who + "=" + v.K)
		return v.Who
	}
	zero := 0
	defs := engine.NewTaskDefs()
	if err := defs.Put(&engine.TaskDef{Name: "w_flaky", RetryCount: &zero}, &engine.TaskDef{Name: "w_side", RetryCount: &zero},
		&engine.TaskDef{Name: "w_ok", RetryCount: &zero}); err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(append([]engine.Option{engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
		engine.WithKeyring(keyring(t, 5)),
		engine.WithWorker("w_side", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			who := call(in)
			if fail.Load() {
				if _, dup := once.LoadOrStore(who, true); !dup && started[who] != nil {
					close(started[who])
				}
				<-ctx.Done() // cancelled as the run fails
				return nil, ctx.Err()
			}
			return json.RawMessage(`{"r":"side"}`), nil
		}),
		engine.WithWorker("w_flaky", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			call(in)
			if fail.Load() {
				return nil, errors.New("boom")
			}
			return json.RawMessage(`{"r":"done"}`), nil
		}),
		engine.WithWorker("w_ok", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			call(in)
			if fail.Load() {
				for _, c := range started {
					select {
					case <-c:
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}
			}
			return json.RawMessage(`{"r":"ok"}`), nil
		})}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// failedControlSiblings runs rerunControlSiblingsDef to its failure and
// returns each ref's record.
func failedControlSiblings(t *testing.T, e *engine.Engine, fail *atomic.Bool) (string, map[string]map[string]any) {
	t.Helper()
	d, err := e.Parse([]byte(rerunControlSiblingsDef))
	if err != nil {
		t.Fatal(err)
	}
	id, before := failedRun(t, e, d, `{"k":"v1","p":3}`, fail)
	prior := map[string]map[string]any{} // each ref's record
	for _, tk := range before {
		ref := tk["referenceTaskName"].(string)
		if prior[ref] != nil {
			t.Fatalf("first run: two records of %s: %v", ref, before)
		}
		prior[ref] = tk
	}
	bSeq := prior["b"]["seq"].(float64)
	for ref, st := range map[string]string{"loop": engine.TaskCanceled, "body__1": engine.TaskCanceled, "sub": engine.TaskCanceled,
		"a": engine.TaskCanceled, "b": engine.TaskFailed} {
		if tk := prior[ref]; tk == nil || tk["status"] != st || (ref != "b" && tk["seq"].(float64) > bSeq) {
			t.Fatalf("first run: want %s %s before b: %v", ref, st, before)
		}
	}
	if c, _ := prior["sub"]["subWorkflowId"].(string); c == "" {
		t.Fatalf("first run: sub names no child: %v", prior["sub"])
	}
	fail.Store(false)
	return id, prior
}

// controlSiblingsRerun is the rerun of failedControlSiblings' run: from b,
// with a new workflow input.
func controlSiblingsRerun(from string) engine.RerunOptions {
	return engine.RerunOptions{FromTaskID: from, WorkflowInput: json.RawMessage(`{"k":"v2","p":9}`)}
}

// checkControlSiblingsRerun: after the rerun, one record of each ref, the
// ones before the rerun's with their ids, all COMPLETED; sub with a new
// child; the records reset in place and b with their stored input (k v1),
// after with the new one; the new child's input the stored one too.
func checkControlSiblingsRerun(t *testing.T, e *engine.Engine, id string, prior map[string]map[string]any) {
	t.Helper()
	_, after := rawTasks(t, e, id)
	n := map[string]int{}
	for _, tk := range after {
		ref := tk["referenceTaskName"].(string)
		n[ref]++
		if p := prior[ref]; p != nil && tk["taskId"] != p["taskId"] {
			t.Errorf("%s after the rerun: task id %v, want %v (reset in place)", ref, tk["taskId"], p["taskId"])
		}
		if tk["status"] != engine.TaskCompleted {
			t.Errorf("%s after the rerun: %v", ref, tk["status"])
		}
		in, _ := tk["inputData"].(map[string]any)
		want := "v1"
		if ref == "after" {
			want = "v2"
		}
		if ref == "sub" {
			in, _ = in["workflowInput"].(map[string]any)
			child, _ := tk["subWorkflowId"].(string)
			if child == "" || child == prior["sub"]["subWorkflowId"] {
				t.Errorf("sub after the rerun: child %q, want a new one (was %v)", child, prior["sub"]["subWorkflowId"])
			} else if v := viewRun(t, e, child); v.Status != engine.StatusCompleted || v.Input["k"] != "v1" {
				t.Errorf("sub's new child: %s, input %v, want COMPLETED with k v1", v.Status, v.Input)
			} else if p := runPriority(t, e, child); p != 3 {
				// Conductor's SubWorkflow.start reads it from the
				// record's stored inputData, not from the new input.
				t.Errorf("sub's new child: priority %d, want the stored 3", p)
			}
		}
		if k, ok := in["k"]; (ok || ref != "fork" && ref != "join" && ref != "loop" && ref != "pre") && k != want {
			t.Errorf("%s's input after the rerun: %v, want k %s", ref, in, want)
		}
	}
	for ref, c := range n {
		if c != 1 {
			t.Errorf("%d records of %s after the rerun, want 1", c, ref)
		}
	}
}

func TestRerunResetsControlAndSubWorkflowSiblingsInPlace(t *testing.T) {
	var fail atomic.Bool
	var mu sync.Mutex
	var inputs []string
	record := func(s string) {
		mu.Lock()
		inputs = append(inputs, s)
		mu.Unlock()
	}
	started := map[string]chan struct{}{"body": make(chan struct{}), "inner": make(chan struct{}), "a": make(chan struct{})}
	gate := newRestoreGate()
	e := controlSiblingsEngine(t, gate, &fail, started, record)
	id, prior := failedControlSiblings(t, e, &fail)
	mu.Lock()
	inputs = nil
	mu.Unlock()
	_, now, wait := rerunAtItsWrite(t, e, gate, id, controlSiblingsRerun(prior["b"]["taskId"].(string)))
	byID := map[any]map[string]any{}
	for _, tk := range now {
		byID[tk["taskId"]] = tk
	}
	for ref, st := range map[string]string{"loop": engine.TaskInProgress, "body__1": engine.TaskScheduled, "sub": engine.TaskScheduled,
		"a": engine.TaskScheduled, "join": engine.TaskInProgress, "b": engine.TaskScheduled} {
		k := byID[prior[ref]["taskId"]]
		if k == nil {
			t.Errorf("the rerun's write holds no record %v of %s: %v", prior[ref]["taskId"], ref, now)
			continue
		}
		if k["status"] != st || k["endTime"] != 0.0 {
			t.Errorf("%s in the rerun's write: %v (endTime %v), want %s", ref, k["status"], k["endTime"], st)
		}
		if ref == "sub" {
			out, _ := k["outputData"].(map[string]any)
			if k["subWorkflowId"] != nil || out["subWorkflowId"] != nil {
				t.Errorf("sub in the rerun's write names a child: %v, output %v", k["subWorkflowId"], out)
			}
		}
	}
	if rr, err := wait(); err != nil || rr.Status != engine.StatusCompleted {
		t.Fatalf("rerun: %v %+v", err, rr)
	}
	checkControlSiblingsRerun(t, e, id, prior)
	mu.Lock()
	got := append([]string(nil), inputs...)
	mu.Unlock()
	sort.Strings(got)
	// The tasks reset in place and the rerun task run with their stored
	// input (k v1); the task after the JOIN reads the new input.
	if want := "[a=v1 after=v2 b=v1 body=v1 inner=v1]"; fmt.Sprint(got) != want {
		t.Errorf("the rerun's tasks ran with %v, want %s", got, want)
	}
}

const rerunSubSiblingsDef = `{"name":"rerun_sub_siblings","version":1,"schemaVersion":2,"tasks":[
 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
  [{"name":"w_side","taskReferenceName":"a","inputParameters":{"who":"a","k":"${workflow.input.k}"}}],
  [{"name":"w_ok","taskReferenceName":"pre"},
   {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","inputParameters":{"k":"${workflow.input.k}"},
    "subWorkflowParam":{"name":"rerun_sub_child","workflowDefinition":{"name":"rerun_sub_child","version":1,"schemaVersion":2,
     "tasks":[{"name":"w_flaky","taskReferenceName":"inner","inputParameters":{"who":"inner","k":"${workflow.input.k}"}}]}}}]]},
 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","sub"]}]}`

// failedSubSiblings runs rerunSubSiblingsDef to its failure (sub FAILED by
// its child, a CANCELED) on an engine of controlSiblingsEngine whose
// started holds "a", and returns each ref's record.
func failedSubSiblings(t *testing.T, e *engine.Engine, fail *atomic.Bool) (string, map[string]map[string]any) {
	t.Helper()
	d, err := e.Parse([]byte(rerunSubSiblingsDef))
	if err != nil {
		t.Fatal(err)
	}
	id, before := failedRun(t, e, d, `{"k":"v1"}`, fail)
	prior := map[string]map[string]any{}
	for _, tk := range before {
		prior[tk["referenceTaskName"].(string)] = tk
	}
	if prior["a"]["status"] != engine.TaskCanceled || prior["sub"]["status"] != engine.TaskFailed {
		t.Fatalf("first run: want a CANCELED, sub FAILED: %v", before)
	}
	fail.Store(false)
	return id, prior
}

// checkSubSiblingsRerun: after the rerun from sub, one record of each ref
// with its id, COMPLETED; a with its stored input; sub with a new child,
// whose input is sub's stored one.
func checkSubSiblingsRerun(t *testing.T, e *engine.Engine, id string, prior map[string]map[string]any) {
	t.Helper()
	_, after := rawTasks(t, e, id)
	n := map[string]int{}
	for _, tk := range after {
		ref := tk["referenceTaskName"].(string)
		n[ref]++
		if p := prior[ref]; p == nil || tk["taskId"] != p["taskId"] || tk["status"] != engine.TaskCompleted {
			t.Errorf("%s after the rerun: %v %v, want %v COMPLETED", ref, tk["taskId"], tk["status"], p["taskId"])
		}
		in, _ := tk["inputData"].(map[string]any)
		switch ref {
		case "a":
			if in["k"] != "v1" {
				t.Errorf("a's input after the rerun: %v, want k v1", in)
			}
		case "sub":
			child, _ := tk["subWorkflowId"].(string)
			if child == "" || child == prior["sub"]["subWorkflowId"] {
				t.Errorf("sub after the rerun: child %q, want a new one (was %v)", child, prior["sub"]["subWorkflowId"])
			} else if v := viewRun(t, e, child); v.Status != engine.StatusCompleted || v.Input["k"] != "v1" {
				t.Errorf("sub's new child: %s, input %v, want COMPLETED with k v1", v.Status, v.Input)
			}
		}
	}
	for ref, c := range n {
		if c != 1 {
			t.Errorf("%d records of %s after the rerun, want 1", c, ref)
		}
	}
}

// TestRerunFromSubWorkflowResetsSiblingsInPlace: a rerun from a
// SUB_WORKFLOW task keeps the run's other records (Conductor's rerunWF
// starts the task's new child in place) and its finalizeRerun resets the
// unsuccessful ones in place, as for a rerun from another task: the fork's
// other branch's cancelled task keeps its task id (SCHEDULED in the
// rerun's write, one record after) and runs with its stored input.
func TestRerunFromSubWorkflowResetsSiblingsInPlace(t *testing.T) {
	var fail atomic.Bool
	var mu sync.Mutex
	var inputs []string
	gate := newRestoreGate()
	e := controlSiblingsEngine(t, gate, &fail, map[string]chan struct{}{"a": make(chan struct{})}, func(s string) {
		mu.Lock()
		inputs = append(inputs, s)
		mu.Unlock()
	})
	id, prior := failedSubSiblings(t, e, &fail)
	mu.Lock()
	inputs = nil
	mu.Unlock()
	_, now, wait := rerunAtItsWrite(t, e, gate, id, controlSiblingsRerun(prior["sub"]["taskId"].(string)))
	for _, tk := range now {
		if tk["taskId"] == prior["a"]["taskId"] && (tk["status"] != engine.TaskScheduled || tk["endTime"] != 0.0) {
			t.Errorf("a in the rerun's write: %v (endTime %v), want SCHEDULED", tk["status"], tk["endTime"])
		}
	}
	if rr, err := wait(); err != nil || rr.Status != engine.StatusCompleted {
		t.Fatalf("rerun: %v %+v", err, rr)
	}
	checkSubSiblingsRerun(t, e, id, prior)
	mu.Lock()
	got := append([]string(nil), inputs...)
	mu.Unlock()
	sort.Strings(got)
	// a runs with its stored input; the new child with the SUB_WORKFLOW
	// task's (Conductor keeps the record's input), not the new workflow
	// input.
	if want := "[a=v1 inner=v1]"; fmt.Sprint(got) != want {
		t.Errorf("the rerun's tasks ran with %v, want %s", got, want)
	}
}

// runPriority is the priority run id was started with.
func runPriority(t *testing.T, e *engine.Engine, id string) int {
	t.Helper()
	b, err := e.Show(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Priority int `json:"priority"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return v.Priority
}
