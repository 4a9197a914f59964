package engine

import "encoding/json"

// The persisted document and the expression-environment documents are
// spliced together from pre-encoded parts: the JSON sub-documents (inputs,
// outputs, the definition) are already valid compact JSON and re-validating
// them through json.Marshal of json.RawMessage fields dominated the cost of a
// save. Each task record caches its encoded form until it changes.

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
}

// head is the task record's scalar members, as stored and as expressions see
// them (${ref.status}, ${ref.retryCount}, ...).
func (r *runState) head(t *taskRecord) taskHead {
	return taskHead{
		t.TaskID, t.Ref, t.TaskType, t.TaskDefName, t.Status, t.RetryCount, t.Iteration, t.Seq, t.Reason,
		t.Scheduled, t.Start, t.End, r.id, t.WaitUntil, t.Awaiting, t.SubWorkflowID,
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

// encodeLocked renders the persisted document. Callers hold r.mu.
func (r *runState) encodeLocked() ([]byte, error) {
	r.remaskLocked()
	d := &r.doc
	size := 512 + len(r.inStored) + len(r.outStored) + len(r.varStored) + len(r.def.raw)
	for _, t := range r.tasks {
		size += len(t.enc) + 64
	}
	buf, err := openHead(make([]byte, 0, size), d.runHead)
	if err != nil {
		return nil, err
	}
	buf = appendMember(buf, "input", r.inStored)
	buf = appendMember(buf, "output", r.outStored)
	buf = appendMember(buf, "variables", r.varStored)
	buf = append(buf, `,"tasks":[`...)
	for i, t := range r.tasks {
		if t.enc == nil {
			if t.enc, err = r.encodeTask(t); err != nil {
				return nil, err
			}
		}
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, t.enc...)
	}
	buf = append(buf, ']')
	buf = appendMember(buf, "workflowDefinition", r.def.raw)
	return append(buf, '}'), nil
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
