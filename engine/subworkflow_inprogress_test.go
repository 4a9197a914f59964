package engine_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// Conductor's SubWorkflow.start sets the task's subWorkflowId and IN_PROGRESS
// in one update: a client never sees a SUB_WORKFLOW task IN_PROGRESS without
// its child (HierarchicalForkJoinSubworkflowRerunSpec reads the child of the
// first IN_PROGRESS view). The run is read the moment the record goes
// IN_PROGRESS.
func TestSubWorkflowTaskInProgressNamesItsChild(t *testing.T) {
	var e *engine.Engine
	var mu sync.Mutex
	var seen []string
	e = harnessEngine(t, nil, engine.WithWorker("gated", func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return json.RawMessage(`{}`), nil
	}), engine.WithEvents(func(ev engine.Event) {
		if ev.Kind != engine.EventTask || ev.TaskType != "SUB_WORKFLOW" || ev.Status != engine.TaskInProgress {
			return
		}
		b, err := e.Show(context.Background(), ev.RunID)
		if err != nil {
			t.Errorf("show: %v", err)
			return
		}
		var v runView
		_ = json.Unmarshal(b, &v)
		mu.Lock()
		defer mu.Unlock()
		for _, tk := range v.Tasks {
			if tk.TaskID == ev.TaskID {
				seen = append(seen, tk.Status+" "+tk.SubWorkflowID)
			}
		}
	}))
	d, err := e.Parse([]byte(`{"name":"sub_in_progress","version":1,"schemaVersion":2,"tasks":[
	 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"gated_child","workflowDefinition":` + childWithGate + `}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, json.RawMessage(`{}`))
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%+v %v", res, err)
	}
	child := viewRun(t, e, res.RunID).Tasks[0].SubWorkflowID
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 1 || seen[0] != engine.TaskInProgress+" "+child {
		t.Fatalf("the SUB_WORKFLOW record when it went IN_PROGRESS: %q, want IN_PROGRESS with child %s", seen, child)
	}
}
