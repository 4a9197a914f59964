package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// TestRerunResetsEarlierUnsuccessfulTasksInPlace: as Conductor's rerunWF
// and finalizeRerun, a rerun from a task keeps every record before it: the
// earlier failed attempts of the task rerun from stay as they were, and a
// task of another fork branch that ended unsuccessfully (here CANCELED when
// the run failed) is reset in place in the rerun's own write — same task
// id, SCHEDULED, its start time now, no end time, no reason — as is the
// JOIN scheduled before the rerun task (IN_PROGRESS), and the executor
// takes those records over: no second record of them.
const rerunSiblingsDef = `{"name":"rerun_siblings","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	  [{"name":"w_side","taskReferenceName":"a","inputParameters":{"k":"${workflow.input.k}"}}],
	  [{"name":"w_flaky","taskReferenceName":"b"}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","b"]},
	 {"name":"w_ok","taskReferenceName":"after"}]}`

// siblingEngine runs rerunSiblingsDef: while fail, w_flaky fails (twice,
// its retry) and w_side waits until the run's failure cancels it.
func siblingEngine(t *testing.T, rs runstore.Store, fail *atomic.Bool, sideRuns *atomic.Int32) *engine.Engine {
	t.Helper()
	one, zero := 1, 0
	defs := engine.NewTaskDefs()
	if err := defs.Put(&engine.TaskDef{Name: "w_flaky", RetryCount: &one, RetryDelaySeconds: &zero},
		&engine.TaskDef{Name: "w_side", RetryCount: &zero}, &engine.TaskDef{Name: "w_ok", RetryCount: &zero}); err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.WithRunStore(rs), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
		engine.WithKeyring(keyring(t, 3)),
		engine.WithWorker("w_side", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			sideRuns.Add(1)
			if fail.Load() {
				<-ctx.Done() // cancelled as the run fails
				return nil, ctx.Err()
			}
			return json.RawMessage(`{"r":"side"}`), nil
		}),
		engine.WithWorker("w_flaky", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			if fail.Load() {
				return nil, errors.New("boom")
			}
			return json.RawMessage(`{"r":"done"}`), nil
		}),
		engine.WithWorker("w_ok", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{"r":"ok"}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// failedSiblings runs rerunSiblingsDef to its failure and returns its
// records of a (CANCELED) and b (two failed attempts).
func failedSiblings(t *testing.T, e *engine.Engine, fail *atomic.Bool) (id string, a, b0, b1 map[string]any) {
	t.Helper()
	d, err := e.Parse([]byte(rerunSiblingsDef))
	if err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	res := startRun(t, e, d, `{"k":"v1"}`)
	if res.Status != engine.StatusFailed {
		t.Fatalf("first run: %+v", res)
	}
	_, before := rawTasks(t, e, res.RunID)
	for _, tk := range before {
		switch {
		case tk["referenceTaskName"] == "a":
			a = tk
		case tk["referenceTaskName"] == "b" && tk["retryCount"] == 0.0:
			b0 = tk
		case tk["referenceTaskName"] == "b" && tk["retryCount"] == 1.0:
			b1 = tk
		}
	}
	if a == nil || b0 == nil || b1 == nil || a["status"] != engine.TaskCanceled || b0["status"] != engine.TaskFailed || b1["status"] != engine.TaskFailed {
		t.Fatalf("want a CANCELED and b failed twice: %v", before)
	}
	fail.Store(false)
	return res.RunID, a, b0, b1
}

// siblingsRerun is the rerun of failedSiblings' run from b's last
// attempt, with a new workflow input.
func siblingsRerun(b1 map[string]any) engine.RerunOptions {
	return engine.RerunOptions{FromTaskID: b1["taskId"].(string), WorkflowInput: json.RawMessage(`{"k":"v2"}`)}
}

// checkSiblingsRerun: after the rerun, a's record (its id) COMPLETED, the
// only one of a, with the input it had (k v1: Conductor's scheduled task
// keeps its inputData, the rerun's workflow input does not reach it); b's
// earlier attempt FAILED, then b's rerun attempt; one JOIN record.
func checkSiblingsRerun(t *testing.T, e *engine.Engine, id string, a, b0, b1 map[string]any) {
	t.Helper()
	_, after := rawTasks(t, e, id)
	refs := map[any][]string{}
	for _, tk := range after {
		refs[tk["referenceTaskName"]] = append(refs[tk["referenceTaskName"]], fmt.Sprintf("%v:%v", tk["taskId"], tk["status"]))
		if in, _ := tk["inputData"].(map[string]any); tk["referenceTaskName"] == "a" && fmt.Sprint(in) != "map[k:v1]" {
			t.Errorf("a's input after the rerun: %v, want its stored one (k v1)", in)
		}
	}
	wantA := fmt.Sprintf("[%v:COMPLETED]", a["taskId"])
	wantB := fmt.Sprintf("[%v:FAILED %v:COMPLETED]", b0["taskId"], b1["taskId"])
	if len(refs["join"]) != 1 {
		t.Errorf("after the rerun: JOIN records %v, want one", refs["join"])
	}
	if fmt.Sprint(refs["a"]) != wantA || fmt.Sprint(refs["b"]) != wantB {
		t.Errorf("after the rerun: a %v b %v, want a %s b %s", refs["a"], refs["b"], wantA, wantB)
	}
}

// TestRerunResetsEarlierUnsuccessfulTasksInPlace: as Conductor's rerunWF
// and finalizeRerun, a rerun from a task keeps every record before it: the
// earlier failed attempts of the task rerun from stay as they were, and a
// task of another fork branch that ended unsuccessfully (here CANCELED when
// the run failed) is reset in place in the rerun's own write — same task
// id, SCHEDULED, its start time now, no end time, no reason — as is the
// JOIN scheduled before the rerun task (IN_PROGRESS), and the executor
// takes those records over: no second record of them.
func TestRerunResetsEarlierUnsuccessfulTasksInPlace(t *testing.T) {
	var fail atomic.Bool
	var sideRuns atomic.Int32
	gate := newRestoreGate()
	e := siblingEngine(t, gate, &fail, &sideRuns)
	id, a, b0, b1 := failedSiblings(t, e, &fail)
	_, prior := rawTasks(t, e, id)
	sideRuns.Store(0)
	since := time.Now().UnixMilli()
	_, now, wait := rerunAtItsWrite(t, e, gate, id, siblingsRerun(b1))

	byID := map[any]map[string]any{}
	for _, tk := range now {
		byID[tk["taskId"]] = tk
	}
	// The earlier attempt of the task rerun from: kept as it was.
	if k := byID[b0["taskId"]]; k == nil {
		t.Errorf("the rerun's write dropped b's earlier attempt: %v", now)
	} else {
		for _, f := range []string{"status", "seq", "retryCount", "reasonForIncompletion", "startTime", "endTime", "retried"} {
			if fmt.Sprint(k[f]) != fmt.Sprint(b0[f]) {
				t.Errorf("b's earlier attempt's %s after the rerun: %v, want %v as before", f, k[f], b0[f])
			}
		}
	}
	// The other branch's cancelled task: reset in place.
	if k := byID[a["taskId"]]; k == nil {
		t.Errorf("the rerun's write holds no record of a (%v): %v", a["taskId"], now)
	} else {
		if k["status"] != engine.TaskScheduled || k["endTime"] != 0.0 || k["reasonForIncompletion"] != nil {
			t.Errorf("a after the rerun's write: status %v endTime %v reason %v, want SCHEDULED 0 none", k["status"], k["endTime"], k["reasonForIncompletion"])
		}
		if st, _ := k["startTime"].(float64); int64(st) < since {
			t.Errorf("a's startTime %v is before the rerun (%d)", k["startTime"], since)
		}
		for _, f := range []string{"seq", "retryCount", "scheduledTime"} {
			if fmt.Sprint(k[f]) != fmt.Sprint(a[f]) {
				t.Errorf("a's %s after the rerun: %v, want %v as before", f, k[f], a[f])
			}
		}
	}

	// The JOIN, when it was scheduled before b's retry: IN_PROGRESS
	// again, in place.
	var join map[string]any
	for _, tk := range prior {
		if tk["referenceTaskName"] == "join" && tk["seq"].(float64) < b1["seq"].(float64) {
			join = tk
		}
	}
	if join != nil {
		if k := byID[join["taskId"]]; k == nil || k["status"] != engine.TaskInProgress || k["endTime"] != 0.0 {
			t.Errorf("the JOIN after the rerun's write: %v, want its record %v IN_PROGRESS", k, join["taskId"])
		}
	}

	if rr, err := wait(); err != nil || rr.Status != engine.StatusCompleted {
		t.Fatalf("rerun: %v %+v", err, rr)
	}
	checkSiblingsRerun(t, e, id, a, b0, b1)
	if join != nil {
		_, after := rawTasks(t, e, id)
		for _, tk := range after {
			if tk["referenceTaskName"] == "join" && (tk["taskId"] != join["taskId"] || tk["status"] != engine.TaskCompleted) {
				t.Errorf("the JOIN after the rerun: %v, want its record %v COMPLETED", tk, join["taskId"])
			}
		}
	}
	if n := sideRuns.Load(); n != 1 {
		t.Errorf("w_side ran %d times on the rerun, want 1", n)
	}
}

// TestRerunKeepsTheReasonUntilTheTasksUpdate: Conductor's rerunWF keeps
// the rerun task's reasonForIncompletion; nothing clears it while the task
// is scheduled and runs, its worker's update (here its completion) does.
func TestRerunKeepsTheReasonUntilTheTasksUpdate(t *testing.T) {
	var fail atomic.Bool
	started, finish := make(chan struct{}, 1), make(chan struct{})
	zero := 0
	defs := engine.NewTaskDefs()
	if err := defs.Put(&engine.TaskDef{Name: "w_flaky", RetryCount: &zero}); err != nil {
		t.Fatal(err)
	}
	e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
		engine.WithKeyring(keyring(t, 3)),
		engine.WithWorker("w_flaky", func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
			if fail.Load() {
				return nil, errors.New("boom")
			}
			started <- struct{}{}
			select {
			case <-finish:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			return json.RawMessage(`{"r":"done"}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(`{"name":"rerun_reason","version":1,"schemaVersion":2,"tasks":[{"name":"w_flaky","taskReferenceName":"only"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	res := startRun(t, e, d, `{}`)
	_, before := rawTasks(t, e, res.RunID)
	if res.Status != engine.StatusFailed || len(before) != 1 || before[0]["reasonForIncompletion"] != "boom" {
		t.Fatalf("first run: %+v %v", res, before)
	}
	fail.Store(false)
	done := make(chan error, 1)
	go func() {
		r, err := e.RerunWith(context.Background(), res.RunID, engine.RerunOptions{FromTaskID: before[0]["taskId"].(string)})
		if err == nil && r.Status != engine.StatusCompleted {
			err = fmt.Errorf("rerun: %+v", r)
		}
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		t.Fatalf("the rerun ended before its task ran: %v", err)
	}
	_, now := rawTasks(t, e, res.RunID)
	close(finish)
	if len(now) != 1 || now[0]["status"] != engine.TaskInProgress || now[0]["reasonForIncompletion"] != "boom" {
		t.Errorf("while the rerun task runs: %v, want it IN_PROGRESS with its reason kept", now)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	_, after := rawTasks(t, e, res.RunID)
	if len(after) != 1 || after[0]["status"] != engine.TaskCompleted || after[0]["reasonForIncompletion"] != nil {
		t.Errorf("after the rerun: %v, want it COMPLETED without a reason", after)
	}
}
