package engine

import (
	"context"
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
// unwritten in-flight record).
func (e *Engine) StoredState(ctx context.Context, id string) (RunState, error) {
	e.visibleNow(id)
	var st RunState
	err := e.readStored(ctx, id, func(k, v gjson.Result) {
		switch k.Str {
		case "status":
			st.Status = v.Str
		case "tasks":
			v.ForEach(func(_, tv gjson.Result) bool {
				st.Tasks = append(st.Tasks, taskStateOf(tv))
				return true
			})
		}
	})
	if err != nil {
		return RunState{}, err
	}
	return st, nil
}

// readStored reads run id whole and calls member with each of its
// members.
func (e *Engine) readStored(ctx context.Context, id string, member func(k, v gjson.Result)) error {
	doc, _, err := e.runs.Load(ctx, id)
	if err != nil {
		return err
	}
	if !gjson.ValidBytes(doc) {
		return fmt.Errorf("run %s: damaged document", id)
	}
	gjson.ParseBytes(doc).ForEach(func(k, v gjson.Result) bool {
		member(k, v)
		return true
	})
	return nil
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
