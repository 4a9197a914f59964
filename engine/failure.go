package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"

	"github.com/wfrun/wfrun/engine/runstore"
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

// startFailureWorkflow stores the failure workflow's run and returns it
// (nil: none) with the run output holding "conductor.failure_workflow"
// (the failure run's id, or why it did not start). The failure run's input
// is the failed run's input plus workflowId, reason, failureStatus,
// failureTaskId and failedWorkflow (the failed run as a client sees it:
// masked, `_secrets` as "***"); it keeps the failed run's correlationId.
// That is the input the failure run stores and shows; its expressions read
// the failed run's input with the values it held (failureRunInput), kept
// in its sealedInput, as a SUB_WORKFLOW child keeps its parent's values.
//
// The failure run is stored before the failed run's end (Conductor
// records its id in that end), but executes only for an end that was
// stored: its head names the failed run (FailureOf), and its gate
// (failureGate) lets it execute once the failed run is archived with the
// output naming it — else it is dropped. finish starts it once the archive
// was tried; a process that dies before leaves it RUNNING, and Resume
// passes it through the same gate.
func (r *runState) startFailureWorkflow(ctx context.Context, st *stopError, out []byte) ([]byte, *runState) {
	o := map[string]any{}
	_ = json.Unmarshal(orEmpty(out), &o)
	result := func() ([]byte, *runState) {
		b, _ := json.Marshal(o)
		return b, nil
	}
	name := r.failureWorkflowName()
	if name == "" {
		return out, nil
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
	// The failed run's input with the values it holds: its `_secrets`
	// and maskedFields values, a child's values from its parent
	// (exprInputLocked). Its stored form and every view say "***".
	plainIn, plainErr := decodeJSON(orEmpty(r.exprInputLocked()))
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
	stored, err := encodeJSON(in)
	var input []byte
	if err == nil {
		input, err = failureRunInput(in, plainIn, plainErr)
	}
	if err != nil {
		o["conductor.failure_workflow"] = fmt.Sprintf("Error workflow %s failed to start.  reason: %v", name, err)
		return result()
	}
	// The failure run stores the masked form (its references input, as a
	// SUB_WORKFLOW child stores its parent's references) and runs with the
	// values, sealed in its sealedInput bound to its id (keepReferenceInput).
	refs := withInputTemplate(stored, def.InputTemplate)
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
	cfg := &runConfig{principal: r.doc.Principal, project: r.doc.Project, env: r.doc.Environment, correlationID: correlationID, taskToDomain: domains,
		failureOf: r.id, refInput: refs}
	child, err := r.e.newRun(ctx, def, input, cfg, "", "", r.sec)
	if err != nil {
		o["conductor.failure_workflow"] = r.sec.Text(fmt.Sprintf("Error workflow %s failed to start.  reason: %v", name, err))
		return result()
	}
	// As Conductor's terminateWorkflow does, the failure run is started —
	// persisted, with its id in this run's output — and not waited for: it
	// is a run of its own (Engine.WaitStarted, Resume).
	o["conductor.failure_workflow"] = child.id
	b, _ := json.Marshal(o)
	return b, child
}

// failureMember is the output member of a failed run naming its failure
// run, as a gjson path; failureOutMember is that path in the output.
const (
	failureMember    = `output.` + failureOutMember
	failureOutMember = `conductor\.failure_workflow`
)

// setFailureOutput stores out, the failed run's output, naming its
// failure run child (nil: the reason none started). A value the run
// registered can occur inside the failure run's id by chance (a 4-digit
// PIN in about one id in 2,000; the failure run's own secrets are
// registered as it starts, with the masker it shares): masked, the member
// would name no run, and the failure run's gate, which takes the failed
// run's stored end to name it, would drop it; a restart would keep the
// masked text among restartedFailures. An id is not a secret (the failure
// run shows it as its workflowId), so the member keeps the id as the
// engine wrote it, in both forms and when the stored form is masked again
// (remask.go); the rest of the output is masked as before.
func (r *runState) setFailureOutput(out []byte, child *runState) error {
	if err := r.setOutput(out); err != nil || child == nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.failureRun = child.id
	r.doc.Output = namingFailureRun(r.doc.Output, child.id)
	r.outStored = namingFailureRun(r.outStored, child.id)
	r.wfDoc = nil
	return nil
}

// namingFailureRun is out, a form of a failed run's output (stored,
// in-memory or displayed), with its member naming the failure run set back
// to id where masking changed it. A member it does not hold is not added.
func namingFailureRun(out []byte, id string) []byte {
	m := gjson.GetBytes(out, failureOutMember)
	if !m.Exists() || m.Str == id {
		return out
	}
	b, err := sjson.SetBytes(out, failureOutMember, id)
	if err != nil {
		return out
	}
	return b
}

// failureGate lets a failure run (FailureOf set) execute when the run it
// was started for is archived with the end that names it, or names it
// among the failure runs of ends a restart replaced (restartedFailures:
// that end was stored; Conductor's restart leaves a failure workflow it
// started alone): gated is false then, and the run executes (its gate is
// gone with its next write).
// Otherwise that end was not stored (another process ended the run first,
// or the archive failed and the run ends again later with a failure run of
// its own): the failure run is dropped — ended and deleted, never
// executed — and gated is true, as it is when the check fails (err; the run
// stays for Resume to check again).
func (r *runState) failureGate(ctx context.Context) (res *Result, gated bool, err error) {
	r.mu.Lock()
	of := r.doc.FailureOf
	r.mu.Unlock()
	if of == "" {
		return nil, false, nil
	}
	doc, archived, err := r.e.runs.Load(ctx, of)
	if err != nil && !errors.Is(err, runstore.ErrNotFound) {
		if !errors.Is(err, runstore.ErrUnavailable) {
			r.releaseLease(ctx)
		}
		return nil, true, fmt.Errorf("run %s: the end of run %s that started it: %w", r.id, of, err)
	}
	if err == nil {
		// Authenticated, not believed: its head (restartedFailures) and
		// its outcome (the output naming this run), as a parent takes a
		// child's end (checkOutcome). A run that does not verify leaves
		// this one gated, for Resume to check again.
		var d runDoc
		if err = json.Unmarshal(doc, &d); err != nil {
			err = fmt.Errorf("run %s: damaged document: %w", of, err)
		} else {
			err = r.e.checkOutcome(of, &d)
		}
		if err != nil {
			r.releaseLease(ctx)
			return nil, true, fmt.Errorf("run %s: the end of run %s that started it: %w", r.id, of, err)
		}
	}
	if err == nil && (archived && gjson.GetBytes(doc, failureMember).Str == r.id || restartedFailure(doc, r.id)) {
		r.mu.Lock()
		r.doc.FailureOf = ""
		r.mu.Unlock()
		r.emit(Event{Kind: EventWorkflow, Status: StatusRunning})
		return nil, false, nil
	}
	reason := fmt.Sprintf("not started: the end of run %s that started it as its failureWorkflow was not stored", of)
	r.mu.Lock()
	r.doc.Status, r.doc.ReasonForIncompletion, r.doc.EndTime = StatusTerminated, reason, r.nowMillis()
	r.mu.Unlock()
	if err := r.archive(ctx); err != nil {
		r.releaseLease(ctx)
		return nil, true, err
	}
	if err := r.e.runs.Delete(context.WithoutCancel(ctx), r.id); err != nil {
		return nil, true, fmt.Errorf("run %s: %s; delete: %w", r.id, reason, err)
	}
	return &Result{RunID: r.id, Status: StatusTerminated, Reason: reason}, true, nil
}

// maxRestartedFailures bounds runHead.RestartedFailures.
const maxRestartedFailures = 8

// keepFailureRunLocked records, as an ended run is reopened (restart,
// retry, rerun), the failure run its stored end names, if any, in
// RestartedFailures (a text there that is no run id, the reason one
// failed to start, is not). Callers hold r.mu.
func (r *runState) keepFailureRunLocked() {
	id := gjson.GetBytes(r.doc.Output, `conductor\.failure_workflow`).Str
	ids := strings.Fields(r.doc.RestartedFailures)
	if id == "" || strings.ContainsAny(id, " \t") || slices.Contains(ids, id) {
		return
	}
	ids = append(ids, id)
	ids = ids[max(0, len(ids)-maxRestartedFailures):]
	r.doc.RestartedFailures = strings.Join(ids, " ")
}

// restartedFailure reports whether run doc names failure run id among the
// failure runs of ends a restart replaced.
func restartedFailure(doc []byte, id string) bool {
	return slices.Contains(strings.Fields(gjson.GetBytes(doc, "restartedFailures").Str), id)
}

// failedWorkflowView is the failed run's document in its display form: the
// stored form (masked, `_secrets` sealed) through masking.View, so no secret
// and no sealed blob is copied into the failure run.
func (r *runState) failedWorkflowView() (any, error) {
	r.mu.Lock()
	doc, err := r.encodeLocked(0)
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
		// Its sealed members too: no ciphertext is copied into the
		// failure run.
		for _, k := range slices.Concat(HeadBookkeeping(), sealedMembers) {
			delete(m, k)
		}
		list, _ := m["tasks"].([]any)
		for _, it := range list {
			if t, ok := it.(map[string]any); ok {
				delete(t, "recordSeal")
			}
		}
	}
	return v, nil
}

// failureRunInput is the input the failure run's expressions read: the
// failed run's input members and failedWorkflow.input with the values the
// failed run holds (plain: its `_secrets` and maskedFields values, a
// child's values from its parent), where masked (the stored form: the
// failed run's in-memory input and its view) says "***". Conductor's
// failure workflow gets the failed run as stored, values in clear. The
// values were registered by the failed run, whose masker the failure run
// shares (and journals), so whatever the failure run stores from them is
// masked.
func failureRunInput(masked map[string]any, plain any, plainErr error) ([]byte, error) {
	if plainErr != nil {
		return nil, plainErr
	}
	pm, ok := plain.(map[string]any)
	if !ok {
		return encodeJSON(masked)
	}
	in := make(map[string]any, len(masked)+len(pm))
	for k, v := range masked {
		in[k] = v
	}
	for k, v := range pm {
		if _, ours := failureMembers[k]; !ours {
			in[k] = v
		}
	}
	if f, ok := masked["failedWorkflow"].(map[string]any); ok {
		g := make(map[string]any, len(f))
		for k, v := range f {
			g[k] = v
		}
		if _, has := g["input"]; has {
			g["input"] = pm
		}
		in["failedWorkflow"] = g
	}
	return encodeJSON(in)
}

// failureMembers are the members startFailureWorkflow sets over the failed
// run's input.
var failureMembers = map[string]struct{}{"workflowId": {}, "reason": {}, "failureStatus": {}, "failureTaskId": {}, "failedWorkflow": {}}
