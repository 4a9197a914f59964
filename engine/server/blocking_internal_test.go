package server

import (
	"context"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// TestBlockingTaskTooDeep: a task held deeper in sub-workflows than
// blockingTask descends does not block (the run is answered as not
// blocked), where it was an error (a 500 to the caller).
func TestBlockingTaskTooDeep(t *testing.T) {
	run := map[string]any{"workflowId": "r", "tasks": []any{map[string]any{"taskType": engine.TypeWait, "status": engine.TaskInProgress}}}
	s := &Server{}
	if holder, task, err := s.blockingTask(context.Background(), run, nil, maxBlockingDepth); err != nil || task == nil || holder == nil {
		t.Fatalf("at the deepest level: %v %v %v", holder, task, err)
	}
	if holder, task, err := s.blockingTask(context.Background(), run, nil, maxBlockingDepth+1); err != nil || task != nil || holder != nil {
		t.Errorf("deeper: %v %v %v, want not blocked", holder, task, err)
	}
}
