package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
)

// failureStarts: Conductor starts the failureWorkflow when the decider ends a
// run early — a task failure, a timeout, or a TERMINATE task (FAILED or
// TERMINATED) — and not when a client terminates the run. A run its
// decider ends through the terminate path with another status (a workflow
// without tasks, COMPLETED) starts it all the same.
func failureStarts(st *stopError) bool {
	if st.viaTerminate {
		return true
	}
	switch st.status {
	case StatusFailed, StatusTimedOut:
		return true
	case StatusTerminated:
		return st.failedTaskID != ""
	}
	return false
}

// failureWorkflowName resolves the definition's failureWorkflow: a name, or
// (as Conductor reads "$workflow.input.x") the workflow input member naming
// it; "${workflow.input.x}" is read the same way. "" means none.
func (r *runState) failureWorkflowName() string {
	name := strings.TrimSpace(r.def.FailureWorkflow)
	if !strings.HasPrefix(name, "$") {
		return name
	}
	path := strings.TrimPrefix(name, "$")
	if strings.HasPrefix(path, "{") && strings.HasSuffix(path, "}") {
		path = path[1 : len(path)-1]
	}
	parts := strings.Split(path, ".")
	if len(parts) != 3 || parts[0] != "workflow" || parts[1] != "input" {
		return ""
	}
	in := map[string]any{}
	r.mu.Lock()
	_ = json.Unmarshal(orEmpty(r.doc.Input), &in)
	r.mu.Unlock()
	s, _ := in[parts[2]].(string)
	return strings.TrimSpace(s)
}

// startFailureWorkflow starts the failure workflow and returns the run
// output with "conductor.failure_workflow" (the failure run's id, or why it
// did not start). The failure run's input is the failed run's input plus
// workflowId, reason, failureStatus, failureTaskId and failedWorkflow (the
// failed run as a client sees it: masked, `_secrets` as "***"); it keeps the
// failed run's correlationId.
func (r *runState) startFailureWorkflow(ctx context.Context, st *stopError, out []byte) []byte {
	o := map[string]any{}
	_ = json.Unmarshal(orEmpty(out), &o)
	result := func() []byte {
		b, _ := json.Marshal(o)
		return b
	}
	name := r.failureWorkflowName()
	if name == "" {
		return out
	}
	def, err := r.e.findDefinition(name, r.def.FailureWorkflowVersion)
	if err != nil {
		o["conductor.failure_workflow"] = r.sec.Text(fmt.Sprintf("Error workflow %s failed to start.  reason: %v", name, err))
		return result()
	}
	failed, err := r.failedWorkflowView()
	if err != nil {
		o["conductor.failure_workflow"] = r.sec.Text(fmt.Sprintf("Error workflow %s failed to start.  reason: %v", name, err))
		return result()
	}
	in := map[string]any{}
	r.mu.Lock()
	_ = json.Unmarshal(orEmpty(r.doc.Input), &in)
	correlationID := r.doc.CorrelationID
	// The failed run's taskToDomain, as Conductor starts the failure
	// workflow with it (a test run's own domain, too).
	domains := r.doc.TaskToDomain
	r.mu.Unlock()
	in["workflowId"], in["reason"], in["failureStatus"] = r.id, r.sec.Text(st.reason), st.status
	if st.failedTaskID != "" {
		in["failureTaskId"] = st.failedTaskID
	}
	in["failedWorkflow"] = failed
	input, err := encodeJSON(in)
	if err != nil {
		o["conductor.failure_workflow"] = fmt.Sprintf("Error workflow %s failed to start.  reason: %v", name, err)
		return result()
	}
	// The failed run's head is stored as given, but this copy is made now:
	// masked with every value the run registered since it started.
	correlationID = r.sec.Text(correlationID)
	if len(domains) > 0 {
		masked := make(map[string]string, len(domains))
		for k, d := range domains {
			masked[r.sec.Text(k)] = r.sec.Text(d)
		}
		domains = masked
	}
	cfg := &runConfig{principal: r.doc.Principal, project: r.doc.Project, env: r.doc.Environment, correlationID: correlationID, taskToDomain: domains}
	child, err := r.e.newRun(ctx, def, input, cfg, "", "", r.sec)
	if err != nil {
		o["conductor.failure_workflow"] = r.sec.Text(fmt.Sprintf("Error workflow %s failed to start.  reason: %v", name, err))
		return result()
	}
	// As Conductor's terminateWorkflow does, the failure run is started —
	// persisted, with its id in this run's output — and not waited for: it
	// is a run of its own (Engine.WaitStarted, Resume).
	r.e.startBackground(child)
	o["conductor.failure_workflow"] = child.id
	return result()
}

// failedWorkflowView is the failed run's document in its display form: the
// stored form (masked, `_secrets` sealed) through masking.View, so no secret
// and no sealed blob is copied into the failure run.
func (r *runState) failedWorkflowView() (any, error) {
	r.mu.Lock()
	doc, err := r.encodeLocked()
	r.mu.Unlock()
	if err != nil {
		return nil, err
	}
	view, err := r.sec.View(doc)
	if err != nil {
		return nil, err
	}
	v, err := decodeJSON(view)
	if err != nil {
		return nil, err
	}
	if m, ok := v.(map[string]any); ok {
		// Bookkeeping of wfrun's store, not part of Conductor's Workflow.
		for _, k := range []string{"principal", "definitionHash", "definitionPath", "nextSeq", "runLogLength", "runLogSeal", "registeredValues", "sealedInput", "rerunTask"} {
			delete(m, k)
		}
	}
	return v, nil
}
