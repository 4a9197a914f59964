package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

const rerunDynForkDef = `{"name":"rerun_dynfork","version":1,"schemaVersion":2,"tasks":[
 {"name":"w_ok","taskReferenceName":"first"},
 {"name":"dyn","taskReferenceName":"dyn","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"ts","dynamicForkTasksInputParamName":"in",
  "inputParameters":{"ts":[{"name":"w_ok","taskReferenceName":"x","type":"SIMPLE"},{"name":"w_flaky","taskReferenceName":"y","type":"SIMPLE"}],
   "in":{"x":{},"y":{}}}},
 {"name":"join","taskReferenceName":"dyn_join","type":"JOIN"},
 {"name":"w_ok","taskReferenceName":"after"}]}`

// TestRerunWritesADynamicForkScheduled: a rerun from a dynamic fork's FORK
// task maps the fork again, as Conductor's finalizeRerun removes the FORK
// record and maps it anew: the write that stores the run RUNNING holds the
// new FORK record (a new task id, the old one's seq, SCHEDULED, scheduled
// now, no start nor end time), the branches and JOIN after it removed. The
// executor takes that record over: one FORK record after the run, the new
// one, COMPLETED, and the branches run again.
func TestRerunWritesADynamicForkScheduled(t *testing.T) {
	var fail atomic.Bool
	var yRuns atomic.Int32
	zero := 0
	defs := engine.NewTaskDefs()
	if err := defs.Put(&engine.TaskDef{Name: "w_flaky", RetryCount: &zero}, &engine.TaskDef{Name: "w_ok", RetryCount: &zero}); err != nil {
		t.Fatal(err)
	}
	gate := newRestoreGate()
	e, err := engine.New(engine.WithRunStore(gate), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
		engine.WithKeyring(keyring(t, 6)),
		engine.WithWorker("w_ok", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{}`), nil
		}),
		engine.WithWorker("w_flaky", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			yRuns.Add(1)
			if fail.Load() {
				return nil, errors.New("boom")
			}
			return json.RawMessage(`{}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(rerunDynForkDef))
	if err != nil {
		t.Fatal(err)
	}
	id, before := failedRun(t, e, d, `{}`, &fail)
	fork := lastRecord(before, "dyn")
	if fork == nil || fork["status"] != engine.TaskCompleted {
		t.Fatalf("first run: no completed FORK: %v", before)
	}
	fail.Store(false)
	yRuns.Store(0)
	status, now, wait := rerunAtItsWrite(t, e, gate, id, engine.RerunOptions{FromTaskID: fork["taskId"].(string)})
	var seen []string
	var rec map[string]any
	for _, tk := range now {
		seen = append(seen, fmt.Sprintf("%s:%s", tk["referenceTaskName"], tk["status"]))
		if tk["referenceTaskName"] == "dyn" {
			rec = tk
		}
	}
	if want := "[first:COMPLETED dyn:SCHEDULED]"; status != engine.StatusRunning || fmt.Sprint(seen) != want {
		t.Errorf("right after the rerun's write: %s %v, want RUNNING %s", status, seen, want)
	}
	if rec == nil {
		t.Fatalf("the rerun's write holds no FORK record: %v", now)
	}
	if rec["taskId"] == fork["taskId"] || rec["seq"] != fork["seq"] || rec["taskType"] != fork["taskType"] {
		t.Errorf("the FORK record in the rerun's write: id %v seq %v type %v, want a new id, seq %v, type %v",
			rec["taskId"], rec["seq"], rec["taskType"], fork["seq"], fork["taskType"])
	}
	if st, _ := rec["scheduledTime"].(float64); st < fork["endTime"].(float64) || rec["startTime"] != 0.0 || rec["endTime"] != 0.0 {
		t.Errorf("the FORK record's times in the rerun's write: scheduled %v start %v end %v", rec["scheduledTime"], rec["startTime"], rec["endTime"])
	}
	if rr, err := wait(); err != nil || rr.Status != engine.StatusCompleted {
		t.Fatalf("rerun: %v %+v", err, rr)
	}
	_, after := rawTasks(t, e, id)
	forks := recordsOf(after, "dyn", func(tk map[string]any) string { return fmt.Sprintf("%v:%v", tk["taskId"], tk["status"]) })
	if want := fmt.Sprintf("[%v:COMPLETED]", rec["taskId"]); fmt.Sprint(forks) != want {
		t.Errorf("FORK records after the rerun: %v, want %s", forks, want)
	}
	if n := yRuns.Load(); n != 1 {
		t.Errorf("the failed branch ran %d times on the rerun, want 1", n)
	}
}
