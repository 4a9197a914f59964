package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// Conductor's updateAndPushParents also retries, in place, the parent's
// other SUB_WORKFLOW tasks that ended unsuccessfully: here a FORK branch
// whose child was terminated when the other branch's child failed. Retrying
// the failed child re-opens the parent; the cancelled branch's record goes
// back to IN_PROGRESS with the same child, which is retried (its cancelled
// task scheduled again); the JOIN and the parent complete.
func TestReopenRetriesCancelledSiblingSubWorkflow(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	slowEntered := make(chan struct{}, 1)
	call := func(name string) int {
		mu.Lock()
		defer mu.Unlock()
		calls[name]++
		return calls[name]
	}
	e := harnessEngine(t, nil,
		engine.WithWorker("fails_once", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if call("fails_once") == 1 {
				select { // fail once the other branch's task runs
				case <-slowEntered:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				return nil, errors.New("failed")
			}
			return json.RawMessage(`{"a":1}`), nil
		}),
		engine.WithWorker("slow", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if call("slow") == 1 {
				slowEntered <- struct{}{}
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return json.RawMessage(`{"b":2}`), nil
		}))
	child := func(name, task string) string {
		return `{"name":"` + name + `","version":1,"schemaVersion":2,"tasks":[{"name":"` + task + `","taskReferenceName":"w","retryCount":0}]}`
	}
	d, err := e.Parse([]byte(`{"name":"siblings","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	  [{"name":"a","taskReferenceName":"a","type":"SUB_WORKFLOW","retryCount":0,"subWorkflowParam":{"name":"ca","workflowDefinition":` + child("ca", "fails_once") + `}}],
	  [{"name":"b","taskReferenceName":"b","type":"SUB_WORKFLOW","retryCount":0,"subWorkflowParam":{"name":"cb","workflowDefinition":` + child("cb", "slow") + `}}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","b"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res := startRun(t, e, d, `{}`)
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusFailed {
		t.Fatalf("%s", wf.Status)
	}
	recs := byRef(wf.Tasks)
	a, b := recs["a"], recs["b"]
	if a.Status != engine.TaskFailed || b.Status != engine.TaskCanceled || recs["join"].Status != engine.TaskCanceled {
		t.Fatalf("tasks %+v", wf.Tasks)
	}
	if cb := viewRun(t, e, b.SubWorkflowID); cb.Status != engine.StatusTerminated {
		t.Fatalf("child b %s", cb.Status)
	}
	after, err := e.Retry(context.Background(), a.SubWorkflowID, false)
	if err != nil || after.Status != engine.StatusCompleted {
		t.Fatalf("retry: %v %+v", err, after)
	}
	wf = viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted || len(wf.Tasks) != len(recs) {
		t.Fatalf("parent after the retry: %s %+v", wf.Status, wf.Tasks)
	}
	for _, tk := range wf.Tasks {
		if was := recs[tk.Ref]; tk.TaskID != was.TaskID || tk.SubWorkflowID != was.SubWorkflowID || tk.Status != engine.TaskCompleted {
			t.Fatalf("record %s after the retry: %+v (was %+v)", tk.Ref, tk, was)
		}
	}
	cb := viewRun(t, e, b.SubWorkflowID)
	checkTasks(t, cb.Tasks, "slow:CANCELED", "slow:COMPLETED")
	if cb.Status != engine.StatusCompleted || cb.Tasks[1].RetriedTaskID != cb.Tasks[0].TaskID {
		t.Fatalf("child b after the retry: %s %+v", cb.Status, cb.Tasks)
	}
}
