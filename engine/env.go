package engine

import (
	"encoding/json"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

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
		orEmpty(r.exprInputLocked()), out, orEmpty(r.doc.Variables), r.doc.CorrelationID,
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
	t := r.exprTaskLocked(ref)
	if t == nil {
		return nil, false
	}
	if t.envDoc == nil {
		t.envDoc = taskEnvDoc(r, t)
	}
	return t.envDoc, true
}

// exprTaskLocked is the record an expression naming ref reads: the task's
// own, else the latest iteration of a loop task of that ref. A SWITCH or
// DECISION whose case's first task is being mapped is not in the run yet
// (caseMapping, switch.go): in its place stands what the run held before,
// a previous iteration of it (Conductor keys a loop task by its ref
// without the iteration, the latest one winning), or nothing. Callers
// hold r.mu.
func (r *runState) exprTaskLocked(ref string) *taskRecord {
	if t := r.byRef[ref]; t != nil {
		if t.unmapped {
			return nil
		}
		return t
	}
	t := r.latest[ref]
	if t == nil || !t.unmapped {
		return t
	}
	for i := len(r.tasks) - 1; i >= 0; i-- {
		if p := r.tasks[i]; p != t && p.BaseRef == ref && !p.unmapped && !p.forgotten {
			return p
		}
	}
	return nil
}

// taskEnvDoc is the record as expressions see it. Callers hold r.mu.
func taskEnvDoc(r *runState, t *taskRecord) []byte {
	out := t.outMem
	if t.loop != nil {
		out = t.loop.output()
	}
	return taskEnvDocWith(r, t, out)
}

func taskEnvDocWith(r *runState, t *taskRecord, out []byte) []byte {
	var at int64
	r.stampLocked(t, &at)
	b := appendTaskHead(make([]byte, 0, taskHeadSize(t, r.id)+len(r.doc.CorrelationID)+len(t.inMem)+len(out)+32), t, r.id)
	b = appendOptStr(b, "correlationId", r.doc.CorrelationID)
	b = appendMember(b, "input", t.inMem)
	b = appendMember(b, "output", out)
	return append(b, '}')
}

// selectLoop answers a path into a running DO_WHILE's record from the
// loop's state: a member of its output (the iteration scalars, or one
// iteration's entry) or of the rest of the record, without rendering the
// output, which grows with every iteration. A path to the whole output is
// left to the document. Callers hold r.mu.
func (r *runState) selectLoop(t *taskRecord, gpath string) (string, bool, bool) {
	rest, ok := strings.CutPrefix(gpath, "output.")
	if !ok {
		if gpath == "output" || strings.HasPrefix(gpath, "output|") || strings.HasPrefix(gpath, "output@") {
			return "", false, false
		}
		if t.headDoc == nil {
			t.headDoc = taskEnvDocWith(r, t, []byte("{}"))
		}
		v := gjson.GetBytes(t.headDoc, gpath)
		return v.Raw, v.Exists(), true
	}
	key, sub, more := strings.Cut(rest, ".")
	if key == "" || strings.ContainsAny(key, `\*?|@#`) {
		return "", false, false
	}
	ls := t.loop
	var member []byte
	if n, err := strconv.Atoi(key); err == nil && strconv.Itoa(n) == key {
		if member, ok = ls.entry(n); !ok {
			return "", false, true
		}
	} else {
		v := gjson.GetBytes(ls.scalarsObj, key)
		if !v.Exists() {
			return "", false, true
		}
		member = []byte(v.Raw)
	}
	if !more {
		return string(member), true, true
	}
	v := gjson.GetBytes(member, sub)
	return v.Raw, v.Exists(), true
}

// indexFrom is the output size from which references into a task's output
// are served from an index of its members (SelectTask) rather than by
// scanning the output per reference.
const indexFrom = 4 << 10

var _ interpolate.TaskSelector = (*runEnv)(nil)

// SelectTask implements interpolate.TaskSelector for paths into a large
// output: the members of a large object are indexed once (per version of
// the output, level by level as references reach them), and a reference
// scans only the small member it ends in.
func (e *runEnv) SelectTask(ref, gpath string) (string, bool, bool) {
	r := e.r
	r.mu.Lock()
	defer r.mu.Unlock()
	t := r.exprTaskLocked(ref)
	if t == nil && (r.byRef[ref] != nil || r.latest[ref] != nil) {
		return "", false, true // not in the run as the mapping sees it
	}
	if t != nil && t.loop != nil {
		return r.selectLoop(t, gpath)
	}
	rest, ok := strings.CutPrefix(gpath, "output.")
	if !ok {
		return "", false, false
	}
	// Only the output of an ended attempt: a running DO_WHILE's output
	// changes every iteration, and indexing it each time would cost more
	// than the scan.
	if t == nil || len(t.outMem) < indexFrom || t.Status == TaskInProgress || t.Status == TaskScheduled {
		return "", false, false
	}
	if t.outIdx == nil {
		t.outIdx = newObjIndex(string(t.outMem))
		if t.outIdx == nil {
			return "", false, false
		}
	}
	return t.outIdx.selectPath(rest)
}

// objIndex is the members of one JSON object, and the indexes of its large
// object members once a reference went into them.
type objIndex struct {
	members map[string]string
	sub     map[string]*objIndex
}

func newObjIndex(doc string) *objIndex {
	res := gjson.Parse(doc)
	if !res.IsObject() {
		return nil
	}
	x := &objIndex{members: map[string]string{}}
	res.ForEach(func(k, v gjson.Result) bool {
		if _, dup := x.members[k.String()]; !dup { // the first wins, as with gjson.Get
			x.members[k.String()] = v.Raw
		}
		return true
	})
	return x
}

func (x *objIndex) selectPath(gpath string) (string, bool, bool) {
	key, rest, more := strings.Cut(gpath, ".")
	if key == "" || strings.ContainsRune(key, '\\') {
		return "", false, false
	}
	member, found := x.members[key]
	if !found {
		return "", false, true
	}
	if !more {
		return member, true, true
	}
	if len(member) >= indexFrom && member[0] == '{' {
		sub := x.sub[key]
		if sub == nil {
			if sub = newObjIndex(member); sub != nil {
				if x.sub == nil {
					x.sub = map[string]*objIndex{}
				}
				x.sub[key] = sub
			}
		}
		if sub != nil {
			if raw, found, handled := sub.selectPath(rest); handled {
				return raw, found, true
			}
		}
	}
	v := gjson.Get(member, rest)
	return v.Raw, v.Exists(), true
}

func (e *runEnv) TaskID() string                     { return e.taskID }
func (e *runEnv) Secrets() interpolate.SecretSource  { return nil } // secrets resolve through runsecrets only
func (e *runEnv) EnvValues() interpolate.ValueSource { return e.values }
