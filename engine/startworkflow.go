package engine

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wfrun/wfrun/tasks"
)

// startWorkflowTask starts the workflow its input's startWorkflow (a
// Conductor StartWorkflowRequest: name, version, input, correlationId, or an
// inline workflowDef) describes, and completes with its workflowId without
// waiting for it: the started run is independent (no parent) and runs in
// the background; if this process ends first it stays RUNNING and resumable.
// The request is read from the task's stored input, so a secret reference in
// it reaches the started run as text, never as a value. Without a
// correlationId the started run takes this run's.
func (r *runState) startWorkflowTask(ctx context.Context, rec *taskRecord) tasks.Result {
	r.mu.Lock()
	stored := append([]byte(nil), rec.inMem...)
	corr := r.doc.CorrelationID
	cfg := &runConfig{principal: r.doc.Principal, project: r.doc.Project, env: r.doc.Environment}
	r.mu.Unlock()
	var in struct {
		StartWorkflow *struct {
			Name          string          `json:"name"`
			Version       int             `json:"version"`
			Input         json.RawMessage `json:"input"`
			CorrelationID string          `json:"correlationId"`
			WorkflowDef   json.RawMessage `json:"workflowDef"`
		} `json:"startWorkflow"`
	}
	if err := json.Unmarshal(orEmpty(stored), &in); err != nil || in.StartWorkflow == nil {
		reason := "START_WORKFLOW needs inputParameters.startWorkflow (a StartWorkflowRequest: name, version, input, correlationId)"
		if err != nil {
			reason += ": " + err.Error()
		}
		return tasks.Result{Status: tasks.Failed, Reason: reason}
	}
	req := in.StartWorkflow
	var def *Definition
	var err error
	switch {
	case len(req.WorkflowDef) > 0 && req.WorkflowDef[0] == '{':
		def, err = r.e.Parse(req.WorkflowDef)
	case req.Name != "":
		def, err = r.e.findDefinition(req.Name, req.Version)
	default:
		err = fmt.Errorf("startWorkflow has no name and no workflowDef")
	}
	if err != nil {
		return tasks.Result{Status: tasks.Failed, Reason: "START_WORKFLOW: " + err.Error()}
	}
	cfg.correlationID = req.CorrelationID
	if cfg.correlationID == "" {
		cfg.correlationID = corr
	}
	// A new run of its own: not a child of this one (its secrets, masker
	// and lifetime are its own).
	bg := context.WithoutCancel(ctx)
	child, err := r.e.newRun(bg, def, req.Input, cfg, "", "", nil)
	if err != nil {
		return tasks.Result{Status: tasks.Failed, Reason: "START_WORKFLOW: " + err.Error()}
	}
	go func() { _, _ = child.execute(bg) }()
	out, _ := json.Marshal(map[string]string{"workflowId": child.id})
	return tasks.Result{Status: tasks.Completed, Output: out}
}
