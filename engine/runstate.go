package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/tidwall/gjson"
)

// RunState is a run's status and where each of its tasks is, without any
// input, output or variable: what a caller needs to know whether the run
// waits, and for what. Reading it builds no view (Show masks and shapes
// the whole run).
type RunState struct {
	Status string
	Tasks  []TaskState
	// Here: this engine executes the run; the state is its executor's.
	Here bool
}

// TaskState is one task record of a run, without its data.
type TaskState struct {
	TaskID, Ref, Type, DefName, Status, Domain string
	// Awaiting: the task waits for an external completion (a WAIT, a
	// HUMAN, an asyncComplete HTTP or EVENT).
	Awaiting bool
}

// Open reports whether the task is SCHEDULED or IN_PROGRESS.
func (t TaskState) Open() bool { return t.Status == TaskScheduled || t.Status == TaskInProgress }

// State is run id's RunState as the process that executes it sees it:
// from memory when this engine executes the run — every change its
// executor made, written or not, each one announced by an Event after it
// is made — else as the run store holds it (StoredState).
func (e *Engine) State(ctx context.Context, id string) (RunState, error) {
	r := e.activeRun(id)
	if r == nil {
		return e.StoredState(ctx, id)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := RunState{Status: r.doc.Status, Tasks: make([]TaskState, 0, len(r.tasks)), Here: true}
	for _, t := range r.tasks {
		if t.forgotten {
			continue
		}
		st.Tasks = append(st.Tasks, TaskState{TaskID: t.TaskID, Ref: t.Ref, Type: t.TaskType, DefName: t.TaskDefName,
			Status: t.Status, Domain: t.Domain, Awaiting: t.Awaiting})
	}
	return st, nil
}

// StoredState is run id's RunState as the run store holds it, as Show
// reads it (a run this engine executes is written first when it has an
// unwritten in-flight record). What it reads is authenticated, as a
// resume authenticates it (checkStoredDoc): a head or record edited in
// the store is an error naming the run, not a state a client is shown.
func (e *Engine) StoredState(ctx context.Context, id string) (RunState, error) {
	e.visibleNow(id)
	return e.WrittenState(ctx, id)
}

// WrittenState is StoredState as the run's writes left it, without first
// writing an in-flight record this engine holds unwritten (visibleNow),
// so it never waits behind a write of the run under way: for a caller
// that waits for the executor's own writes and is woken by each of them
// (serve's answers that wait for a decision to be stored).
func (e *Engine) WrittenState(ctx context.Context, id string) (RunState, error) {
	doc, archived, err := e.runs.Load(ctx, id)
	if err != nil {
		return RunState{}, err
	}
	var d runDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return RunState{}, fmt.Errorf("run %s: damaged document: %w", id, err)
	}
	if err := e.checkStoredDoc(id, doc, &d, archived); err != nil { // recordseal.go
		return RunState{}, err
	}
	st := RunState{Status: d.Status, Tasks: make([]TaskState, 0, len(d.Tasks))}
	for i := range d.Tasks {
		t := &d.Tasks[i]
		st.Tasks = append(st.Tasks, TaskState{TaskID: t.TaskID, Ref: t.ReferenceTaskName, Type: t.TaskType, DefName: t.TaskDefName,
			Status: t.Status, Domain: t.Domain, Awaiting: t.Awaiting})
	}
	return st, nil
}

// ExecutedElsewhere reports whether another live process executes run id:
// this engine does not, and another engine holds the run's live lease.
func (e *Engine) ExecutedElsewhere(ctx context.Context, id string) bool {
	if e.isActive(id) {
		return false
	}
	l, held, err := e.runs.GetLease(ctx, id)
	return err == nil && held && l.Owner != e.owner && l.Live(time.Now())
}

// taskStateOf reads a stored task record's members, in one pass over it.
func taskStateOf(v gjson.Result) TaskState {
	var t TaskState
	v.ForEach(func(k, m gjson.Result) bool {
		switch k.Str {
		case "taskId":
			t.TaskID = m.Str
		case "referenceTaskName":
			t.Ref = m.Str
		case "taskType":
			t.Type = m.Str
		case "taskDefName":
			t.DefName = m.Str
		case "status":
			t.Status = m.Str
		case "domain":
			t.Domain = m.Str
		case "awaitingCompletion":
			t.Awaiting = m.Bool()
		}
		return true
	})
	return t
}
