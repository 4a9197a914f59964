package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// TestRerunInsideALoopStartsAnUnsuccessfulLoopNow: a rerun from a task of a
// DO_WHILE's iteration reopens the loop holding it when it ended
// unsuccessfully (CANCELED as the run failed): Conductor's finalizeRerun
// resets it IN_PROGRESS with its startTime now (the rerun's time) and no
// endTime; a loop that completed (the run failed after it) is a record
// finalizeRerun does not touch: it stays COMPLETED, its startTime too
// (TestRerunInsideACompletedLoopLeavesItCompleted). Either keeps its
// inputData (finalizeRerun does not touch it): the rerun's new workflow
// input does not reach it.
func TestRerunInsideALoopStartsAnUnsuccessfulLoopNow(t *testing.T) {
	for _, tc := range []struct {
		name       string
		failAt     string // the body's input that fails on the first run; "" : the task after the loop fails
		loopStatus string // the loop's status after the first run
		restarted  bool   // the loop's startTime is the rerun's time
	}{
		{"cancelled loop", `{"i":2}`, engine.TaskCanceled, true},
		{"completed loop", "", engine.TaskCompleted, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var fail atomic.Bool
			zero := 0
			defs := engine.NewTaskDefs()
			if err := defs.Put(&engine.TaskDef{Name: "w_body", RetryCount: &zero}, &engine.TaskDef{Name: "w_after", RetryCount: &zero}); err != nil {
				t.Fatal(err)
			}
			t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
			clock := engine.NewManualClock(t0)
			e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
				engine.WithKeyring(keyring(t, 7)), engine.WithClock(clock),
				engine.WithWorker("w_body", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
					if fail.Load() && tc.failAt != "" && string(in) == tc.failAt {
						return nil, errors.New("boom")
					}
					return json.RawMessage(`{}`), nil
				}),
				engine.WithWorker("w_after", func(context.Context, json.RawMessage) (json.RawMessage, error) {
					if fail.Load() && tc.failAt == "" {
						return nil, errors.New("boom")
					}
					return json.RawMessage(`{}`), nil
				}))
			if err != nil {
				t.Fatal(err)
			}
			d, err := e.Parse([]byte(`{"name":"rerun_loop_start","version":1,"schemaVersion":2,"tasks":[
			 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","inputParameters":{"k":"${workflow.input.k}"},"loopCondition":"if ($.loop['iteration'] < 2) { true; } else { false; }",
			  "loopOver":[{"name":"w_body","taskReferenceName":"body","inputParameters":{"i":"${loop.output.iteration}"}}]},
			 {"name":"w_after","taskReferenceName":"after"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			fail.Store(true)
			res := startRun(t, e, d, `{"k":"v1"}`)
			_, before := rawTasks(t, e, res.RunID)
			var loop, from map[string]any
			for _, tk := range before {
				switch tk["referenceTaskName"] {
				case "loop":
					loop = tk
				case "body__2":
					from = tk
				}
			}
			if res.Status != engine.StatusFailed || loop == nil || from == nil || loop["status"] != tc.loopStatus || loop["startTime"] != float64(t0.UnixMilli()) {
				t.Fatalf("first run: %s %v", res.Status, before)
			}
			fail.Store(false)
			t1 := t0.Add(time.Hour)
			clock.Advance(time.Hour)
			r, err := e.RerunWith(context.Background(), res.RunID, engine.RerunOptions{FromTaskID: from["taskId"].(string), WorkflowInput: json.RawMessage(`{"k":"v2"}`)})
			if err != nil || r.Status != engine.StatusCompleted {
				t.Fatalf("rerun: %v %+v", err, r)
			}
			_, after := rawTasks(t, e, res.RunID)
			want := float64(t0.UnixMilli())
			if tc.restarted {
				want = float64(t1.UnixMilli())
			}
			for _, tk := range after {
				if tk["referenceTaskName"] != "loop" {
					continue
				}
				if tk["taskId"] != loop["taskId"] || tk["status"] != engine.TaskCompleted || tk["startTime"] != want {
					t.Errorf("the loop after the rerun: %v %v startTime %v, want its id, COMPLETED, startTime %v", tk["taskId"] == loop["taskId"], tk["status"], tk["startTime"], want)
				}
				if in, _ := tk["inputData"].(map[string]any); in["k"] != "v1" {
					t.Errorf("the loop's input after the rerun: %v, want k v1 as before", in)
				}
			}
		})
	}
}
