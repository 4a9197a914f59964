package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wfrun/wfrun/engine/runstore"
)

// ErrNoBlockedTask: Signal found no WAIT task waiting in the run or in any
// of its running sub-workflows.
var ErrNoBlockedTask = errors.New("no blocked task to signal")

// maxSignalDepth bounds the descent into sub-workflows (a damaged store
// could link runs in a cycle).
const maxSignalDepth = 32

// Signalled names the task a Signal completed: it may belong to a
// sub-workflow of the run that was signalled.
type Signalled struct {
	RunID  string // the run holding the task (the signalled run or a descendant)
	TaskID string
	Ref    string
}

// Signal completes the task a run is blocked on, as Conductor's
// POST /api/tasks/{workflowId}/{status}/signal does: the first WAIT task
// of the run that has not ended, or — when the run has none — the first
// such task found in its running sub-workflows, in task order, depth first.
// status and output are those of CompleteTask. ErrNoBlockedTask means there
// is nothing to signal; a run that does not exist is runstore.ErrNotFound.
func (e *Engine) Signal(ctx context.Context, runID, status string, output json.RawMessage) (Signalled, error) {
	// Bad input is told as such, whether or not something is blocked.
	if _, _, err := checkCompletion(status, output); err != nil {
		return Signalled{}, err
	}
	found, err := e.findBlocked(ctx, runID, 0, true)
	if err != nil {
		return Signalled{}, err
	}
	if found.TaskID == "" {
		return Signalled{}, fmt.Errorf("%w: run %s", ErrNoBlockedTask, runID)
	}
	// Conductor's signalTask builds its update from the pending task
	// (TaskResult(pending)): the task's reasonForIncompletion stays.
	ref, err := e.completeTaskReason(ctx, found.RunID, status, output, idMatch(found.TaskID), givenReason{pending: true}, nil)
	if err != nil {
		return Signalled{}, err
	}
	found.Ref = ref
	return found, nil
}

// BlockedTask returns the task Signal would complete, without completing
// it; its TaskID is empty when the run (and its sub-workflows) wait on no
// WAIT task. A WAIT task with a duration or an until time counts only when
// timed is true (Conductor's signal completes it; its sync response does
// not wait for it).
func (e *Engine) BlockedTask(ctx context.Context, runID string, timed bool) (Signalled, error) {
	return e.findBlocked(ctx, runID, 0, timed)
}

func (e *Engine) findBlocked(ctx context.Context, runID string, depth int, timed bool) (Signalled, error) {
	if depth > maxSignalDepth {
		return Signalled{}, fmt.Errorf("run %s: sub-workflows nested deeper than %d", runID, maxSignalDepth)
	}
	doc, archived, err := e.runs.Load(ctx, runID)
	if err != nil {
		return Signalled{}, err
	}
	if archived {
		return Signalled{}, nil
	}
	var d struct {
		Status string     `json:"status"`
		Tasks  []taskHead `json:"tasks"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return Signalled{}, fmt.Errorf("run %s: damaged document: %w", runID, err)
	}
	if d.Status != StatusRunning && d.Status != StatusPaused {
		return Signalled{}, nil
	}
	for _, t := range d.Tasks {
		if t.TaskType == TypeWait && !terminalTask(t.Status) && (timed || t.WaitUntil == 0) {
			return Signalled{RunID: runID, TaskID: t.TaskID, Ref: t.ReferenceTaskName}, nil
		}
	}
	for _, t := range d.Tasks {
		if t.TaskType == TypeSubWorkflow && !terminalTask(t.Status) && t.SubWorkflowID != "" {
			found, err := e.findBlocked(ctx, t.SubWorkflowID, depth+1, timed)
			if errors.Is(err, runstore.ErrNotFound) {
				continue // a child removed with `wfrun runs rm`
			}
			if err != nil || found.TaskID != "" {
				return found, err
			}
		}
	}
	return Signalled{}, nil
}
