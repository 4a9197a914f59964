package engine

import (
	"encoding/json"

	"github.com/wfrun/wfrun/engine/runstore"
)

// The persisted parts and the expression-environment documents are spliced
// together from pre-encoded parts: the JSON sub-documents (inputs, outputs,
// the definition) are already valid compact JSON and re-validating them
// through json.Marshal of json.RawMessage fields dominated the cost of a
// save. Each task record caches its encoded form until it changes, and a
// write carries only what changed (changeLocked): the run's head, the task
// records touched since the previous write, the workflow members that were
// set, and the definition once.

type runHead struct {
	WorkflowID            string    `json:"workflowId"`
	WorkflowType          string    `json:"workflowType"`
	Version               int       `json:"version"`
	Status                string    `json:"status"`
	CorrelationID         string    `json:"correlationId,omitempty"`
	ReasonForIncompletion string    `json:"reasonForIncompletion,omitempty"`
	FailedTaskID          string    `json:"failedTaskId,omitempty"`
	CreateTime            int64     `json:"createTime"`
	UpdateTime            int64     `json:"updateTime"`
	EndTime               int64     `json:"endTime,omitempty"`
	ParentWorkflowID      string    `json:"parentWorkflowId,omitempty"`
	ParentWorkflowTaskID  string    `json:"parentWorkflowTaskId,omitempty"`
	SchemaVersion         int       `json:"schemaVersion"`
	MaskedFields          []string  `json:"maskedFields,omitempty"`
	DefinitionHash        string    `json:"definitionHash"`
	DefinitionPath        string    `json:"definitionPath,omitempty"`
	Principal             Principal `json:"principal"`
	Project               string    `json:"project,omitempty"`
	Environment           string    `json:"environment,omitempty"`
	NextSeq               int       `json:"nextSeq"`
	// RegisteredValues is the run's sealed journal of masked values
	// (runsecrets.Run.Journal): a resumed run masks what this one did.
	RegisteredValues string `json:"registeredValues,omitempty"`
	// SealedInput is, for a SUB_WORKFLOW child, its in-memory input sealed
	// (runsecrets.Run.Seal): the visible input keeps the parent's secret
	// references, and a resumed child reads its input from here.
	SealedInput string `json:"sealedInput,omitempty"`
}

type taskHead struct {
	TaskID             string `json:"taskId"`
	ReferenceTaskName  string `json:"referenceTaskName"`
	TaskType           string `json:"taskType"`
	TaskDefName        string `json:"taskDefName"`
	Status             string `json:"status"`
	RetryCount         int    `json:"retryCount"`
	Iteration          int    `json:"iteration"`
	Seq                int    `json:"seq"`
	Reason             string `json:"reasonForIncompletion,omitempty"`
	ScheduledTime      int64  `json:"scheduledTime"`
	StartTime          int64  `json:"startTime"`
	EndTime            int64  `json:"endTime"`
	WorkflowInstanceID string `json:"workflowInstanceId"`
	WaitUntil          int64  `json:"waitUntil,omitempty"`
	Awaiting           bool   `json:"awaitingCompletion,omitempty"`
	SubWorkflowID      string `json:"subWorkflowId,omitempty"`
	RetriedTaskID      string `json:"retriedTaskId,omitempty"`
}

// head is the task record's scalar members, as stored and as expressions see
// them (${ref.status}, ${ref.retryCount}, ...).
func (r *runState) head(t *taskRecord) taskHead {
	return taskHead{
		t.TaskID, t.Ref, t.TaskType, t.TaskDefName, t.Status, t.RetryCount, t.Iteration, t.Seq, t.Reason,
		t.Scheduled, t.Start, t.End, r.id, t.WaitUntil, t.Awaiting, t.SubWorkflowID, t.RetriedTaskID,
	}
}

// openHead marshals v (a struct) and drops its closing brace so that more
// members can be appended.
func openHead(dst []byte, v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return append(dst, b[:len(b)-1]...), nil
}

func appendMember(dst []byte, key string, raw []byte) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return append(dst, orEmpty(raw)...)
}

// encodeLocked renders the whole persisted document (archive, restart).
// Callers hold r.mu.
func (r *runState) encodeLocked() ([]byte, error) {
	r.remaskLocked()
	head, err := json.Marshal(r.doc.runHead)
	if err != nil {
		return nil, err
	}
	encs := make([][]byte, len(r.tasks))
	for i, t := range r.tasks {
		if t.enc == nil {
			if t.enc, err = r.encodeTask(t); err != nil {
				return nil, err
			}
		}
		encs[i] = t.enc
	}
	return runstore.Assemble(head, r.inStored, r.outStored, r.varStored, encs, r.def.raw)
}

// changeLocked is what the next write carries: the head, the workflow
// members and task records that changed since the last write (all of them
// when full), and the definition on the run's first write. It clears the
// dirty marks; a failed write puts them back (markChanged). Callers hold
// r.mu.
func (r *runState) changeLocked(full bool) (*runstore.Change, error) {
	r.remaskLocked()
	head, err := json.Marshal(r.doc.runHead)
	if err != nil {
		return nil, err
	}
	ch := &runstore.Change{Summary: r.summaryLocked(), Head: head}
	if full || !r.stored {
		r.changedIn, r.changedVars, r.changedOut = true, true, true
		for _, t := range r.tasks {
			r.touchLocked(t)
		}
		ch.DefinitionHash, ch.Definition = r.doc.DefinitionHash, r.def.raw
	}
	if r.changedIn {
		ch.Input = orEmpty(r.inStored)
	}
	if r.changedVars {
		ch.Variables = orEmpty(r.varStored)
	}
	if r.changedOut {
		ch.Output = orEmpty(r.outStored)
	}
	r.changedIn, r.changedVars, r.changedOut = false, false, false
	ch.Tasks = make([]runstore.Task, 0, len(r.dirty))
	ch.DeleteTasks, r.deleted = r.deleted, nil
	for _, t := range r.dirty {
		if t.forgotten {
			t.dirty = false
			continue
		}
		if t.enc == nil {
			if t.enc, err = r.encodeTask(t); err != nil {
				return nil, err
			}
		}
		t.dirty = false
		ch.Tasks = append(ch.Tasks, runstore.Task{Seq: t.Seq, Doc: t.enc})
	}
	r.dirty = r.dirty[:0]
	return ch, nil
}

// markChanged puts back the dirty marks of a change that was not written.
func (r *runState) markChangedLocked(ch *runstore.Change) {
	r.changedIn = r.changedIn || ch.Input != nil
	r.changedVars = r.changedVars || ch.Variables != nil
	r.changedOut = r.changedOut || ch.Output != nil
	bySeq := make(map[int]*taskRecord, len(ch.Tasks))
	for _, t := range ch.Tasks {
		bySeq[t.Seq] = nil
	}
	for _, t := range r.tasks {
		if _, ok := bySeq[t.Seq]; ok && !t.dirty {
			t.dirty = true
			r.dirty = append(r.dirty, t)
		}
	}
	if ch.DefinitionHash != "" {
		r.stored = false
	}
	r.deleted = append(r.deleted, ch.DeleteTasks...)
}

// forgetLocked drops a task record from the run: expressions no longer see
// it and the next write deletes it. Callers hold r.mu and remove it from
// r.tasks.
func (r *runState) forgetLocked(t *taskRecord) {
	t.forgotten = true
	if r.byRef[t.Ref] == t {
		delete(r.byRef, t.Ref)
	}
	if r.latest[t.BaseRef] == t {
		delete(r.latest, t.BaseRef)
	}
	r.deleted = append(r.deleted, t.Seq)
}

// touchLocked marks a task record changed: its cached encodings are dropped
// and the next write carries it. Callers hold r.mu.
func (r *runState) touchLocked(t *taskRecord) {
	t.envDoc, t.enc, t.outIdx = nil, nil, nil
	if !t.dirty {
		t.dirty = true
		r.dirty = append(r.dirty, t)
	}
}

func (r *runState) encodeTask(t *taskRecord) ([]byte, error) {
	b, err := openHead(make([]byte, 0, 256+len(t.inStored)+len(t.outStored)), r.head(t))
	if err != nil {
		return nil, err
	}
	b = appendMember(b, "inputData", t.inStored)
	b = appendMember(b, "outputData", t.outStored)
	return append(b, '}'), nil
}
