package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// subGateDef: subUpdatedDef's SUB_WORKFLOW task, then a HUMAN task.
const subGateDef = `{"name":"sub_updated_gate","version":1,"schemaVersion":2,"tasks":[
 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW",
  "subWorkflowParam":{"name":"held_child","workflowDefinition":{"name":"held_child","version":1,"schemaVersion":2,
   "tasks":[{"name":"hold","taskReferenceName":"hold","type":"HUMAN"}]}}},
 {"name":"gate","taskReferenceName":"gate","type":"HUMAN"}]}`

// TestSubWorkflowChildOfUpdatedTaskOutlivesTermination: terminating a run
// whose SUB_WORKFLOW task an update COMPLETED leaves that task's child
// RUNNING: Conductor's termination cancels only the tasks that have not
// ended (cancelNonTerminalTasks), and only a cancelled SUB_WORKFLOW task
// terminates its child.
func TestSubWorkflowChildOfUpdatedTaskOutlivesTermination(t *testing.T) {
	e := harnessEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runID := "5b0d7a4e-0000-4000-8000-000000000206"
	d, err := e.Parse([]byte(subGateDef))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(runID))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	v := awaitRun(t, e, runID, func(v progressView) bool {
		return len(v.Tasks) == 1 && v.Tasks[0].Status == engine.TaskInProgress && v.Tasks[0].SubWorkflowID != ""
	})
	sub, child := v.Tasks[0].TaskID, v.Tasks[0].SubWorkflowID
	awaitRun(t, e, child, func(c progressView) bool { return len(c.Tasks) == 1 && c.Tasks[0].Status == engine.TaskInProgress })
	if _, err := e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: engine.TaskCompleted}); err != nil {
		t.Fatal(err)
	}
	awaitRun(t, e, runID, func(v progressView) bool { return len(v.Tasks) == 2 && v.Tasks[1].Status == engine.TaskInProgress })
	if err := e.Terminate(ctx, runID, "stop it"); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusTerminated {
		t.Fatalf("parent: %+v", res)
	}
	if c := viewRun(t, e, child); c.Status != engine.StatusRunning {
		t.Fatalf("the child of the COMPLETED task is %s, want RUNNING", c.Status)
	}
	if _, err := e.CompleteTask(ctx, child, "hold", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	awaitRun(t, e, child, func(c progressView) bool { return c.Status == engine.StatusCompleted })
	if err := e.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
}
