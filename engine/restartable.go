package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
)

// ErrNotRestartable: a COMPLETED run whose definition says
// "restartable": false was asked to restart from the start.
var ErrNotRestartable = errors.New("workflow is non-restartable")

// checkRestartable refuses to restart from the start a COMPLETED run of a
// non-restartable definition (Conductor's restart refuses it; a FAILED or
// TERMINATED one may run again).
func (e *Engine) checkRestartable(ctx context.Context, id string) error {
	doc, _, err := e.runs.Load(ctx, id)
	if err != nil {
		return err
	}
	var d struct {
		Status             string `json:"status"`
		WorkflowDefinition struct {
			Restartable *bool `json:"restartable"`
		} `json:"workflowDefinition"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return fmt.Errorf("run %s: damaged document: %w", id, err)
	}
	if d.Status == StatusCompleted && d.WorkflowDefinition.Restartable != nil && !*d.WorkflowDefinition.Restartable {
		return fmt.Errorf("%w: run %s completed and its definition says \"restartable\": false", ErrNotRestartable, id)
	}
	return nil
}
