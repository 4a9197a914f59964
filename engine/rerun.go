package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/masking"
)

// ErrBadRerun: a rerun request that cannot apply (a replacement input that
// is not a JSON object, a taskInput without the task to rerun from).
var ErrBadRerun = errors.New("invalid rerun request")

// RerunOptions is Conductor's RerunWorkflowRequest.
type RerunOptions struct {
	// FromTaskID is the task to rerun from: the tasks recorded before it
	// are kept. Empty: the whole run again.
	FromTaskID string
	// WorkflowInput, when set, replaces the run's input.
	WorkflowInput json.RawMessage
	// TaskInput, when set, replaces the input of the FromTaskID task
	// (instead of its inputParameters).
	TaskInput json.RawMessage
	// CorrelationID, when set, replaces the run's correlation id.
	CorrelationID string

	// ancestor: the rerun named an ancestor's id and a task of this child
	// run; the replacements are the ancestor's (restart.go).
	ancestor *ancestorEdit
	// latestDefinition: a restart on the latest definition
	// (RestartWith).
	latestDefinition bool
}

// ancestorEdit is the workflowInput and correlationId a rerun gives the run
// it named when the task it reruns from is in one of its children.
type ancestorEdit struct {
	id            string
	input         json.RawMessage
	correlationID string
}

// RerunWith runs an ended run again under the same id, as Conductor's rerun
// does: from o.FromTaskID (or from the start), with the run's input
// replaced by o.WorkflowInput and the rerun task's by o.TaskInput when
// they are given. Replacement input is run input: a
// `${workflow.secrets.x}` in it is text, never resolved (only a
// definition's inputParameters read secrets).
func (e *Engine) RerunWith(ctx context.Context, id string, o RerunOptions) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.FromTaskID == "" {
		return e.restartWith(ctx, id, true, "", &o)
	}
	return e.restartWith(ctx, id, false, o.FromTaskID, &o)
}

// Validate reports a request that cannot apply (ErrBadRerun).
func (o *RerunOptions) Validate() error {
	for name, v := range map[string]json.RawMessage{"workflowInput": o.WorkflowInput, "taskInput": o.TaskInput} {
		if v := bytes.TrimSpace(v); len(v) > 0 && string(v) != "null" && (v[0] != '{' || !json.Valid(v)) {
			return fmt.Errorf("%w: %s must be a JSON object", ErrBadRerun, name)
		}
	}
	if hasJSON(o.TaskInput) && o.FromTaskID == "" {
		return fmt.Errorf("%w: taskInput replaces the input of the task to rerun from: reRunFromTaskId is required with it", ErrBadRerun)
	}
	return nil
}

func hasJSON(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && string(v) != "null"
}

// applyRerun puts a rerun's replacements in place before the run is stored
// again; fromRef is the exact ref of the task rerun from, prevIn its
// previous input (in-memory form).
func (r *runState) applyRerun(o *RerunOptions, fromRef, fromID string, prevIn []byte, child string) error {
	if hasJSON(o.WorkflowInput) {
		// Conductor sets the input as given: no inputTemplate. A child's
		// sealed input (SUB_WORKFLOW) is replaced with it.
		if err := r.setInput(bytes.TrimSpace(o.WorkflowInput)); err != nil {
			return err
		}
		r.mu.Lock()
		r.doc.SealedInput = ""
		r.mu.Unlock()
	}
	r.mu.Lock()
	if o.CorrelationID != "" {
		r.doc.CorrelationID = o.CorrelationID
	}
	r.mu.Unlock()
	if fromRef == "" || fromID == "" {
		return nil
	}
	// Conductor reschedules the rerun task itself: same task id.
	kept := rerunTask{Ref: fromRef, TaskID: fromID, Child: child}
	switch {
	case hasJSON(o.TaskInput):
		kept.Input, kept.Override = append([]byte(nil), bytes.TrimSpace(o.TaskInput)...), true
	case hasJSON(prevIn):
		// Conductor keeps the rerun task's inputData (the later tasks are
		// scheduled anew, from their templates): even with a replaced
		// workflow input, the task runs again with what it had.
		kept.Input = append([]byte(nil), prevIn...)
	}
	// Kept with the rerun's commit, sealed (the input's `_secrets` leaves
	// are in clear in memory): a process that resumes the run after a
	// crash reschedules the task with the same id and input.
	plain, err := json.Marshal(kept)
	if err != nil {
		return err
	}
	sealed, err := r.sec.Seal(plain, rerunTaskPointer)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.doc.RerunTask = sealed
	r.keepRerunTaskLocked(&kept)
	r.mu.Unlock()
	return nil
}

// rerunTaskPointer binds a run's sealed rerunTask.
const rerunTaskPointer = "/rerunTask"

// rerunTask is what a rerun keeps of the task it starts from until that
// task is scheduled again: its id, and the input it runs with (the
// rerun's taskInput when Override, else its previous input). A
// SUB_WORKFLOW task rerun in place keeps its record (and id) and gets the
// id of its new child, Child, chosen by the rerun: its previous child
// holds the id derived from the record (subworkflowchild.go).
type rerunTask struct {
	Ref      string          `json:"ref"`
	TaskID   string          `json:"taskId"`
	Input    json.RawMessage `json:"input,omitempty"`
	Override bool            `json:"override,omitempty"`
	Child    string          `json:"child,omitempty"`
}

func (r *runState) keepRerunTaskLocked(k *rerunTask) {
	r.keptID, r.keptChild = map[string]string{k.Ref: k.TaskID}, nil
	if k.Child != "" {
		// Its record stays: no new record takes the id.
		r.keptID, r.keptChild = nil, map[string]string{k.TaskID: k.Child}
	}
	r.inputOverride, r.keptInput = nil, nil
	switch {
	case k.Override:
		r.inputOverride = map[string][]byte{k.Ref: k.Input}
	case hasJSON(k.Input):
		r.keptInput = map[string][]byte{k.Ref: k.Input}
	}
}

// openRerunTask restores, on resume, what a rerun kept of its task (its
// sealed rerunTask): authenticated, bound to this run.
func (r *runState) openRerunTask(sealed string) error {
	plain, err := r.sec.Open(sealed, rerunTaskPointer)
	if err != nil {
		return fmt.Errorf("rerunTask: %w", err)
	}
	var k rerunTask
	if err := json.Unmarshal(plain, &k); err != nil || k.Ref == "" || k.TaskID == "" {
		return fmt.Errorf("rerunTask: damaged")
	}
	r.mu.Lock()
	r.keepRerunTaskLocked(&k)
	r.mu.Unlock()
	return nil
}

// takeKeptIDLocked returns (once) the id a rerun keeps for the task ref.
func (r *runState) takeKeptIDLocked(ref string) string {
	id, ok := r.keptID[ref]
	if ok {
		delete(r.keptID, ref)
		// The task is scheduled again: its record now carries the id
		// and the input (the next write stores both).
		r.doc.RerunTask = ""
	}
	return id
}

// replacementInput is the rerun's taskInput for ref, if any, else the
// previous input a rerun keeps for its task, when that can be given again
// as it was: the template reads no secret (the kept form holds references,
// never values, and a reference in data must stay text) and nothing in it
// was masked. Otherwise the input is built from the template again.
func (r *runState) replacementInput(ref string, tmpl *interpolate.Template) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ov := r.inputOverride[ref]; ov != nil {
		return ov
	}
	prev := r.keptInput[ref]
	if prev == nil {
		return nil
	}
	if tmpl != nil && (tmpl.HasSecrets() || bytes.Contains(tmpl.Source(), []byte("_secrets"))) {
		return nil
	}
	if bytes.Contains(prev, []byte(masking.Redacted)) {
		return nil
	}
	return prev
}
