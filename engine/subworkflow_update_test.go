package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// subUpdatedDef: a SUB_WORKFLOW task (retried once) whose child waits for
// a HUMAN task, then a SET_VARIABLE task.
const subUpdatedDef = `{"name":"sub_updated","version":1,"schemaVersion":2,"tasks":[
 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","taskDefinition":{"name":"sub","retryCount":1,"retryDelaySeconds":0},
  "subWorkflowParam":{"name":"held_child","workflowDefinition":{"name":"held_child","version":1,"schemaVersion":2,
   "tasks":[{"name":"hold","taskReferenceName":"hold","type":"HUMAN"}]}}},
 {"name":"after","taskReferenceName":"after","type":"SET_VARIABLE","inputParameters":{"x":1}}],
 "outputParameters":{"got":"${sub.output.got}"}}`

// TestSubWorkflowTaskUpdated: a SUB_WORKFLOW task completed from outside
// (CompleteTaskWith, by its task id), as Conductor's updateTask takes it:
// the task ends as the update says and the run moves on (COMPLETED: the
// output is the update's; FAILED: retried with a new child;
// FAILED_WITH_TERMINAL_ERROR: the run fails), while each child it started
// stays RUNNING, executed on in the background: completed later, it ends
// COMPLETED and its parent does not change. The record names the
// subWorkflowId the update gives (TaskModel.setSubWorkflowId): none here,
// in the field and in an outputData member subWorkflowId (null).
func TestSubWorkflowTaskUpdated(t *testing.T) {
	for _, tc := range []struct {
		name, status, reason string
		run                  string // the parent's status
		children             int    // SUB_WORKFLOW attempts
	}{
		{"COMPLETED", engine.TaskCompleted, "", engine.StatusCompleted, 1},
		{"FAILED is retried", engine.TaskFailed, "try again", engine.StatusCompleted, 2},
		{"FAILED_WITH_TERMINAL_ERROR", engine.TaskFailedTerminal, "stop here", engine.StatusFailed, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := harnessEngine(t, nil)
			d, err := e.Parse([]byte(subUpdatedDef))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			done := make(chan *engine.Result, 1)
			runID := fmt.Sprintf("5b0d7a4e-0000-4000-8000-%012d", len(tc.name))
			go func() {
				res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(runID))
				if err != nil {
					t.Error(err)
				}
				done <- res
			}()
			// awaitSub waits for the n-th SUB_WORKFLOW attempt IN_PROGRESS
			// with its child, whose HUMAN task waits.
			awaitSub := func(n int) (taskID, child string) {
				t.Helper()
				for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
					b, err := e.Show(ctx, runID)
					if err != nil {
						continue // not stored yet
					}
					var v runView
					_ = json.Unmarshal(b, &v)
					if len(v.Tasks) != n || v.Tasks[n-1].Status != engine.TaskInProgress || v.Tasks[n-1].SubWorkflowID == "" {
						continue
					}
					child = v.Tasks[n-1].SubWorkflowID
					var c runView
					if b, err := e.Show(ctx, child); err != nil || json.Unmarshal(b, &c) != nil || len(c.Tasks) != 1 || c.Tasks[0].Status != engine.TaskInProgress {
						continue
					}
					return v.Tasks[n-1].TaskID, child
				}
				t.Fatalf("no SUB_WORKFLOW attempt %d IN_PROGRESS with its child: %+v", n, viewRun(t, e, runID))
				return "", ""
			}
			sub, child := awaitSub(1)
			children := []string{child}
			if _, err := e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: tc.status,
				Output: json.RawMessage(`{"got":"from the update","subWorkflowId":"` + child + `"}`), Reason: tc.reason}); err != nil {
				t.Fatal(err)
			}
			if tc.children == 2 {
				_, child := awaitSub(2)
				children = append(children, child)
				if _, err := e.CompleteTask(ctx, child, "hold", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
					t.Fatal(err)
				}
			}
			res := <-done
			if res == nil || res.Status != tc.run {
				t.Fatalf("parent: %+v, want %s", res, tc.run)
			}
			v := viewRun(t, e, runID)
			first := v.Tasks[0]
			if first.Status != tc.status || first.SubWorkflowID != "" {
				t.Errorf("the updated task: %s with child %q, want %s with none", first.Status, first.SubWorkflowID, tc.status)
			}
			if id, ok := first.Output["subWorkflowId"]; !ok || id != nil || first.Output["got"] != "from the update" {
				t.Errorf("the updated task's output %v, want the update's with subWorkflowId null", first.Output)
			}
			if tc.status == engine.TaskCompleted && (v.Output["got"] != "from the update" || len(v.Tasks) != 2) {
				t.Errorf("parent output %v with %d tasks, want the update's output and 2 tasks", v.Output, len(v.Tasks))
			}
			if tc.reason != "" && first.Reason != tc.reason {
				t.Errorf("the updated task's reason %q, want %q", first.Reason, tc.reason)
			}
			// The detached child runs on; completed, it ends, and its parent
			// stays as it was.
			before := fmt.Sprintf("%+v", viewRun(t, e, runID))
			if c := viewRun(t, e, children[0]); c.Status != engine.StatusRunning || c.Tasks[0].Status != engine.TaskInProgress {
				t.Fatalf("the updated task's child: %s, its task %s; want RUNNING, waiting", c.Status, c.Tasks[0].Status)
			}
			if _, err := e.CompleteTask(ctx, children[0], "hold", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
				t.Fatal(err)
			}
			if err := e.WaitStarted(ctx); err != nil {
				t.Fatal(err)
			}
			if c := viewRun(t, e, children[0]); c.Status != engine.StatusCompleted {
				t.Errorf("the detached child ended %s, want COMPLETED", c.Status)
			}
			if after := fmt.Sprintf("%+v", viewRun(t, e, runID)); after != before {
				t.Errorf("the parent changed when its detached child ended:\n%s\nwas\n%s", after, before)
			}
		})
	}
}
