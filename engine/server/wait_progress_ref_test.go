package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// TestWaitUpdatedInProgressByRef: Conductor's updateTask by reference
// (TaskServiceImpl.updateTask(workflowId, taskRefName, status, …)) builds
// its TaskResult from the pending task (TaskResult(pending): its
// reasonForIncompletion, callbackAfterSeconds and outputData, the body's
// members put over that output) and WorkflowExecutor.updateTask stores a
// system task so updated IN_PROGRESS as it is. A WAIT or HUMAN updated
// IN_PROGRESS by reference through the Go client is stored so before the
// answer (a read right after it shows it), keeping what an update by id
// gave it, and still waits: a COMPLETED update by reference ends it,
// keeping its reason.
func TestWaitUpdatedInProgressByRef(t *testing.T) {
	for _, typ := range []string{"WAIT", "HUMAN"} {
		t.Run(typ, func(t *testing.T) {
			c := newE2EClient(t, nil)
			if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", `{"name":"wipr_flow","version":1,"schemaVersion":2,"tasks":[
			  {"name":"wipr","taskReferenceName":"wipr","type":"`+typ+`"}]}`); st != 200 {
				t.Fatalf("register: %d %s", st, body)
			}
			id := c.start("wipr_flow")
			task := c.awaitActive(id, "wipr").TaskId
			body, _ := json.Marshal(map[string]any{"taskId": task, "workflowInstanceId": id, "status": "IN_PROGRESS",
				"outputData": map[string]any{"p": "half", "q": "first"}, "reasonForIncompletion": "halfway", "callbackAfterSeconds": 30})
			if st, _, out := c.ts.do(t, "POST", "/api/tasks", string(body)); st != 200 {
				t.Fatalf("IN_PROGRESS update by id: %d %s", st, out)
			}
			got, _, err := c.tc.UpdateTaskByRefName(c.ctx, map[string]any{"q": "second", "r": 3}, id, "wipr", "IN_PROGRESS")
			if err != nil || got != task {
				t.Fatalf("IN_PROGRESS update by reference: %q %v, want %s", got, err, task)
			}
			// Read at once: stored before the answer.
			tk := c.mustOnlyTaskByRef(id, "wipr")
			if tk.Status != "IN_PROGRESS" || tk.OutputData["p"] != "half" || tk.OutputData["q"] != "second" || tk.OutputData["r"] != float64(3) ||
				tk.ReasonForIncompletion != "halfway" || tk.CallbackAfterSeconds != 30 {
				t.Fatalf("after an IN_PROGRESS update by reference: %s output %v reason %q callbackAfterSeconds %d; want IN_PROGRESS, p half, q second, r 3, halfway, 30",
					tk.Status, tk.OutputData, tk.ReasonForIncompletion, tk.CallbackAfterSeconds)
			}
			if _, _, err := c.tc.UpdateTaskByRefName(c.ctx, map[string]any{"done": true}, id, "wipr", "COMPLETED"); err != nil {
				t.Fatalf("COMPLETED update by reference: %v", err)
			}
			// The pending task's reason stays (TaskResult(pending)).
			wf := c.awaitStatus(id, "COMPLETED")
			if got := wf.Tasks[0]; got.Status != "COMPLETED" || got.OutputData["done"] != true || got.ReasonForIncompletion != "halfway" {
				t.Fatalf("after a COMPLETED update by reference: %s output %v reason %q; want COMPLETED with done, halfway", got.Status, got.OutputData, got.ReasonForIncompletion)
			}
		})
	}
}

// TestWaitUpdatedInProgressByRefThroughAnotherProcess: the same update by
// reference through a serve process that does not execute the run is
// stored in the run store, taken by the executing process and answered
// once that process stored it, as it is there; so is an update
// IN_PROGRESS by id of a SUB_WORKFLOW task of a run the other process
// executes.
func TestWaitUpdatedInProgressByRefThroughAnotherProcess(t *testing.T) {
	ss := newSharedServers(t)
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	for path, body := range map[string]string{
		"/api/metadata/workflow": `[{"name":"wipx_child","version":1,"schemaVersion":2,"tasks":[{"name":"hold","taskReferenceName":"hold","type":"WAIT"}]},
		  {"name":"wipx_flow","version":1,"schemaVersion":2,"tasks":[{"name":"wipx","taskReferenceName":"wipx","type":"WAIT"},
		  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"wipx_child","version":1}}]}]`,
	} {
		if st, _, out := a.do(t, "PUT", path, body); st != 200 && st != 204 {
			t.Fatalf("%s: %d %s", path, st, out)
		}
	}
	_, _, id := a.do(t, "POST", "/api/workflow/wipx_flow", `{}`)
	task := func(ref string) map[string]any {
		t.Helper()
		_, _, body := b.do(t, "GET", "/api/workflow/"+id, "")
		var wf struct {
			Tasks []map[string]any `json:"tasks"`
		}
		_ = json.Unmarshal([]byte(body), &wf)
		for _, tk := range wf.Tasks {
			if tk["referenceTaskName"] == ref {
				return tk
			}
		}
		return nil
	}
	await := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not so after 10 s", what)
			}
		}
	}
	await("the WAIT waits", func() bool { tk := task("wipx"); return tk != nil && tk["status"] == "IN_PROGRESS" })

	st, _, got := b.do(t, "POST", "/api/tasks/"+id+"/wipx/IN_PROGRESS", `{"p":"half"}`)
	if st != 200 || got != task("wipx")["taskId"] {
		t.Fatalf("IN_PROGRESS update by reference through B: %d %s", st, got)
	}
	// Read at once: stored by A before B's answer.
	if tk := task("wipx"); tk["status"] != "IN_PROGRESS" || fmt.Sprint(tk["outputData"]) != "map[p:half]" {
		t.Fatalf("after an IN_PROGRESS update by reference through B: %v %v; want IN_PROGRESS with p half", tk["status"], tk["outputData"])
	}
	if st, _, out := b.do(t, "POST", "/api/tasks/"+id+"/wipx/COMPLETED", `{"done":true}`); st != 200 {
		t.Fatalf("COMPLETED update by reference through B: %d %s", st, out)
	}
	await("the SUB_WORKFLOW task names its child", func() bool {
		tk := task("sub")
		return tk != nil && tk["status"] == "IN_PROGRESS" && tk["subWorkflowId"] != nil
	})
	sub := task("sub")
	body, _ := json.Marshal(map[string]any{"taskId": sub["taskId"], "workflowInstanceId": id, "status": "IN_PROGRESS",
		"subWorkflowId": sub["subWorkflowId"], "outputData": map[string]any{"s": "on"}, "callbackAfterSeconds": 7})
	if st, _, out := b.do(t, "POST", "/api/tasks", string(body)); st != 200 {
		t.Fatalf("IN_PROGRESS update of the SUB_WORKFLOW task through B: %d %s", st, out)
	}
	// Read at once: stored by A before B's answer.
	if tk := task("sub"); tk["status"] != "IN_PROGRESS" || tk["callbackAfterSeconds"] != float64(7) || tk["outputData"].(map[string]any)["s"] != "on" {
		t.Fatalf("after an IN_PROGRESS update of the SUB_WORKFLOW task through B: %v callbackAfterSeconds %v output %v; want IN_PROGRESS, 7, s on",
			tk["status"], tk["callbackAfterSeconds"], tk["outputData"])
	}
}

// TestTimedWaitUpdatedInProgressWaitsForTheCallback: Conductor's
// updateTask puts a system task updated IN_PROGRESS back in its queue
// for the update's callbackAfterSeconds (queueDAO.postpone), and a WAIT
// is looked at again only when it comes out (Wait.execute completes it
// once its waitTimeout has passed). So a WAIT of 10 s updated IN_PROGRESS
// by id at 4 s with callbackAfterSeconds 20 ends at 24 s, not at 10 s;
// one updated by reference at 4 s keeps its callbackAfterSeconds (10, the
// mapper's) and ends at 14 s. The look that ends it counts a poll
// (AsyncSystemTaskExecutor). On the engine's clock, moved by the test.
func TestTimedWaitUpdatedInProgressWaitsForTheCallback(t *testing.T) {
	for _, tc := range []struct {
		name  string
		byRef bool
		ends  time.Duration
	}{{"by id", false, 24 * time.Second}, {"by reference", true, 14 * time.Second}} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Unix(1_700_000_000, 0)
			clock := engine.NewManualClock(start)
			c := newE2EClient(t, newConductorServerWith(t, nil, []engine.Option{engine.WithClock(clock)}))
			if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", `{"name":"twip_flow","version":1,"schemaVersion":2,"tasks":[
			  {"name":"twip","taskReferenceName":"twip","type":"WAIT","inputParameters":{"duration":"10s"}}]}`); st != 200 {
				t.Fatalf("register: %d %s", st, body)
			}
			id := c.start("twip_flow")
			task := c.awaitActive(id, "twip").TaskId
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			awaitTimer := func(at time.Time) {
				t.Helper()
				for !clock.Pending(at) {
					if ctx.Err() != nil {
						t.Fatalf("no timer of the WAIT at %s (+%s)", at, at.Sub(start))
					}
					_ = clock.WaitForWaiters(ctx, clock.Waiters()+1)
				}
			}
			awaitTimer(start.Add(10 * time.Second))
			clock.Advance(4 * time.Second)
			if tc.byRef {
				if _, _, err := c.tc.UpdateTaskByRefName(c.ctx, map[string]any{"p": "half"}, id, "twip", "IN_PROGRESS"); err != nil {
					t.Fatalf("IN_PROGRESS update by reference: %v", err)
				}
			} else {
				body, _ := json.Marshal(map[string]any{"taskId": task, "workflowInstanceId": id, "status": "IN_PROGRESS",
					"outputData": map[string]any{"p": "half"}, "callbackAfterSeconds": 20})
				if st, _, out := c.ts.do(t, "POST", "/api/tasks", string(body)); st != 200 {
					t.Fatalf("IN_PROGRESS update by id: %d %s", st, out)
				}
			}
			awaitTimer(start.Add(tc.ends))
			clock.Advance(tc.ends - 4*time.Second - time.Second)
			if tk := c.mustOnlyTaskByRef(id, "twip"); tk.Status != "IN_PROGRESS" {
				t.Fatalf("a second before %s: the WAIT is %s, want IN_PROGRESS", tc.ends, tk.Status)
			}
			clock.Advance(time.Second)
			wf := c.awaitStatus(id, "COMPLETED")
			if end := wf.Tasks[0].EndTime; end != start.Add(tc.ends).UnixMilli() {
				t.Fatalf("the WAIT ended at +%s, want +%s", time.UnixMilli(end).Sub(start), tc.ends)
			}
			// One look, the one that ended it: the update is no poll.
			if n := wf.Tasks[0].PollCount; n != 1 {
				t.Fatalf("the WAIT's pollCount is %d, want 1", n)
			}
		})
	}
}
