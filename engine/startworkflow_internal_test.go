package engine

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// A START_WORKFLOW attempt that runs again after a crash (same task id)
// finds the run the first attempt started — persisted, RUNNING, executed by
// nobody — and executes it instead of starting another.
func TestStartWorkflowAgainContinuesTheStartedRun(t *testing.T) {
	ctx := context.Background()
	ran := make(chan struct{}, 2)
	e, err := New(WithRunStore(runstore.NewMemory()), WithPollInterval(5*time.Millisecond),
		WithWorker("w", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			ran <- struct{}{}
			return json.RawMessage(`{}`), nil
		}))
	if err != nil {
		t.Fatal(err)
	}
	started, err := e.Parse([]byte(`{"name":"started","tasks":[{"name":"w","taskReferenceName":"w"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	starter, err := e.Parse([]byte(`{"name":"starter","tasks":[{"name":"s","taskReferenceName":"s","type":"START_WORKFLOW",
	  "inputParameters":{"startWorkflow":{"name":"started","workflowDef":` + string(started.Raw()) + `}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	const taskID = "4a7c1f0e-5b6d-4e8f-9a0b-1c2d3e4f5a6b"
	// What the first attempt left behind: the started run, persisted and
	// RUNNING, its process gone.
	first, err := e.newRun(ctx, started, nil, &runConfig{principal: localPrincipal, id: startedRunID(taskID)}, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.newRun(ctx, starter, nil, &runConfig{principal: localPrincipal}, "", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &taskRecord{TaskID: taskID, Ref: "s", TaskType: TypeStartWorkflow, Status: TaskInProgress}
	r.mu.Lock()
	r.addTaskLocked(rec)
	r.mu.Unlock()
	if err := r.setTaskData(rec, []byte(`{"startWorkflow":{"name":"started","workflowDef":`+string(started.Raw())+`}}`), nil); err != nil {
		t.Fatal(err)
	}
	res := r.startWorkflowTask(ctx, rec)
	var out struct {
		WorkflowID string `json:"workflowId"`
	}
	_ = json.Unmarshal(res.Output, &out)
	if res.Status != tasks.Completed || out.WorkflowID != first.id {
		t.Fatalf("%s %s, want workflowId %s", res.Status, res.Output, first.id)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := e.WaitStarted(wctx); err != nil {
		t.Fatal(err)
	}
	doc, _, err := e.runs.Load(ctx, first.id)
	if err != nil {
		t.Fatal(err)
	}
	var d runDoc
	_ = json.Unmarshal(doc, &d)
	if d.Status != StatusCompleted || len(ran) != 1 {
		t.Fatalf("started run %s, worker ran %d times", d.Status, len(ran))
	}
	runs, _ := e.List(ctx, runstore.ListOptions{})
	if len(runs) != 2 {
		t.Fatalf("%d runs, want the starter and one started run", len(runs))
	}
}
