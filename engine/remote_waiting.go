package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wfrun/wfrun/engine/runstore"
)

// TaskAttemptWaiting reports whether the attempt with task id taskID of
// run runID still waits for a worker, as the run store holds it: the run
// is RUNNING or PAUSED and the attempt SCHEDULED or IN_PROGRESS. A run
// that is not stored (or no longer holds the attempt) is not waiting. A
// server sharing its task queue with other processes asks before handing
// out a task of a run another process executes: a run terminated, timed
// out or failed elsewhere leaves no task for a worker.
func (e *Engine) TaskAttemptWaiting(ctx context.Context, runID, taskID string) (bool, error) {
	doc, _, err := e.runs.Load(ctx, runID)
	if errors.Is(err, runstore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var d struct {
		Status string `json:"status"`
		Tasks  []struct {
			TaskID string `json:"taskId"`
			Status string `json:"status"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return false, fmt.Errorf("run %s: damaged document: %w", runID, err)
	}
	if d.Status != StatusRunning && d.Status != StatusPaused {
		return false, nil
	}
	for _, t := range d.Tasks {
		if t.TaskID == taskID {
			return t.Status == TaskScheduled || t.Status == TaskInProgress, nil
		}
	}
	return false, nil
}
