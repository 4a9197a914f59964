package engine

import (
	"encoding/json"

	"github.com/wfrun/wfrun/interpolate"
)

// runEnv is the interpolate.Env of one template execution: the run state
// seen as Conductor's expression document (reference/conductor.md §1.2),
// plus the id of the task being resolved (CPEWF_TASK_ID).
type runEnv struct {
	r      *runState
	taskID string
	values interpolate.ValueSource
}

var _ interpolate.Env = (*runEnv)(nil)

func (e *runEnv) Workflow() []byte {
	r := e.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.wfDoc == nil {
		r.wfDoc = r.workflowDocLocked()
	}
	return r.wfDoc
}

func (r *runState) workflowDocLocked() []byte {
	var out json.RawMessage
	if terminalWorkflow(r.doc.Status) {
		out = orNull(r.doc.Output)
	} else {
		// Conductor sets the workflow output only when the run ends.
		out = json.RawMessage("null")
	}
	doc := struct {
		WorkflowID            string          `json:"workflowId"`
		WorkflowType          string          `json:"workflowType"`
		Version               int             `json:"version"`
		Status                string          `json:"status"`
		Input                 json.RawMessage `json:"input"`
		Output                json.RawMessage `json:"output"`
		Variables             json.RawMessage `json:"variables"`
		CorrelationID         string          `json:"correlationId"`
		ParentWorkflowID      string          `json:"parentWorkflowId,omitempty"`
		ParentWorkflowTaskID  string          `json:"parentWorkflowTaskId,omitempty"`
		SchemaVersion         int             `json:"schemaVersion"`
		ReasonForIncompletion string          `json:"reasonForIncompletion,omitempty"`
		CreateTime            int64           `json:"createTime"`
	}{
		r.doc.WorkflowID, r.doc.WorkflowType, r.doc.Version, r.doc.Status,
		orEmpty(r.doc.Input), out, orEmpty(r.doc.Variables), r.doc.CorrelationID,
		r.doc.ParentWorkflowID, r.doc.ParentWorkflowTaskID, 2, r.doc.ReasonForIncompletion, r.doc.CreateTime,
	}
	b, _ := json.Marshal(doc)
	return b
}

func orNull(b []byte) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

func (e *runEnv) Task(ref string) ([]byte, bool) {
	r := e.r
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.byRef[ref]
	if t == nil {
		t = r.latest[ref]
	}
	if t == nil {
		return nil, false
	}
	if t.envDoc == nil {
		t.envDoc = taskEnvDoc(r, t)
	}
	return t.envDoc, true
}

func taskEnvDoc(r *runState, t *taskRecord) []byte {
	b, err := openHead(make([]byte, 0, 256+len(t.inMem)+len(t.outMem)), struct {
		taskHead
		CorrelationID string `json:"correlationId,omitempty"`
	}{r.head(t), r.doc.CorrelationID})
	if err != nil {
		return []byte("{}")
	}
	b = appendMember(b, "input", t.inMem)
	b = appendMember(b, "output", t.outMem)
	return append(b, '}')
}

func (e *runEnv) TaskID() string                     { return e.taskID }
func (e *runEnv) Secrets() interpolate.SecretSource  { return nil } // secrets resolve through runsecrets only
func (e *runEnv) EnvValues() interpolate.ValueSource { return e.values }
