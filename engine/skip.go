package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wfrun/wfrun/runsecrets"
)

// ErrNotSkippable: a skip of a task the run's definition does not have, or
// of one the run has already reached.
var ErrNotSkippable = errors.New("task cannot be skipped")

// SkipRequest is the optional data of a skip (Conductor's SkipTaskRequest):
// the skipped record's input and output, JSON objects.
type SkipRequest struct {
	TaskInput  json.RawMessage `json:"taskInput,omitempty"`
	TaskOutput json.RawMessage `json:"taskOutput,omitempty"`
}

// SkipTask marks the task ref of a RUNNING run as SKIPPED before the run
// reaches it, as Conductor's skipTaskFromWorkflow does: ref must be a task
// reference of the run's definition that has no record yet. The record is
// added with the request's input and output, and when the run gets to the
// task it goes on as if the task had completed. Like CompleteTask it may be
// called from another process: the skip is stored, sealed, as a signal
// and applied by the runner (or by the next Resume). The request is
// external input: a `_secrets` leaf in it is protected as in a task output.
func (e *Engine) SkipTask(ctx context.Context, runID, ref string, req SkipRequest) error {
	data, err := skipData(req)
	if err != nil {
		return err
	}
	doc, archived, err := e.runs.Load(ctx, runID)
	if err != nil {
		return err
	}
	var d runDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return fmt.Errorf("run %s: damaged document: %w", runID, err)
	}
	if archived || d.Status != StatusRunning {
		return fmt.Errorf("%w: run %s is %s, task %q cannot be skipped", ErrNotRunning, runID, d.Status, ref)
	}
	def, err := e.Parse(d.WorkflowDefinition)
	if err != nil {
		return fmt.Errorf("run %s: definition: %w", runID, err)
	}
	if _, ok := def.Task(ref); !ok {
		return fmt.Errorf("%w: run %s: the definition %s has no task %q", ErrNotSkippable, runID, d.WorkflowType, ref)
	}
	for i := range d.Tasks {
		if d.Tasks[i].ReferenceTaskName == ref {
			return fmt.Errorf("%w: task %q of run %s has already been processed (%s)", ErrNotSkippable, ref, runID, d.Tasks[i].Status)
		}
	}
	sec, err := runsecrets.New(runID, nil, e.keyring)
	if err != nil {
		return err
	}
	sealed, err := sec.SealCompletion(ref, data)
	if err != nil {
		return err
	}
	payload, _ := json.Marshal(signal{Status: TaskSkipped, SealedOutput: sealed})
	return e.runs.PutSignal(ctx, runID, ref, payload)
}

// skipData checks a request's members (JSON objects or absent) and returns
// it as one object.
func skipData(req SkipRequest) ([]byte, error) {
	for _, m := range []struct {
		name string
		v    *json.RawMessage
	}{{"taskInput", &req.TaskInput}, {"taskOutput", &req.TaskOutput}} {
		b := bytes.TrimSpace(*m.v)
		if len(b) == 0 || string(b) == "null" {
			*m.v = nil
			continue
		}
		if !json.Valid(b) || b[0] != '{' {
			return nil, fmt.Errorf("%w: skip: %s must be a JSON object", ErrBadCompletion, m.name)
		}
		*m.v = b
	}
	return json.Marshal(req)
}

// applySkips records the pending skips (signals with status SKIPPED) as
// SKIPPED records: the lease keeper calls it with each batch of signals,
// and begin before it schedules a task.
func (r *runState) applySkips(ctx context.Context) {
	r.mu.Lock()
	var refs []string
	for ref, s := range r.pending {
		if s.Status == TaskSkipped {
			refs = append(refs, ref)
		}
	}
	r.mu.Unlock()
	for _, ref := range refs {
		_, _ = r.applySkip(ctx, ref)
	}
}

// applySkip records the pending skip of ref, if there is one and the task
// has no record yet; it returns the SKIPPED record.
func (r *runState) applySkip(ctx context.Context, ref string) (*taskRecord, error) {
	r.mu.Lock()
	s, ok := r.pending[ref]
	if !ok || s.Status != TaskSkipped {
		r.mu.Unlock()
		return nil, nil
	}
	delete(r.pending, ref)
	wt, known := r.def.Task(ref)
	if !known || r.byRef[ref] != nil || terminalWorkflow(r.doc.Status) {
		r.mu.Unlock()
		return nil, nil
	}
	now := r.nowMillis()
	rec := &taskRecord{Ref: ref, TaskType: recordType(wt), TaskDefName: recordDefName(wt), Status: TaskSkipped,
		Scheduled: now, End: now, wt: wt}
	r.addTaskLocked(rec)
	r.mu.Unlock()
	var req SkipRequest
	if s.Output != nil {
		// Opened by takeSignals; a damaged one arrives as a failure
		// signal without output and records an empty skip.
		_ = json.Unmarshal(s.Output, &req)
	}
	in, out := []byte(req.TaskInput), []byte(req.TaskOutput)
	if len(in) == 0 {
		in = []byte("{}")
	}
	if len(out) == 0 {
		out = []byte("{}")
	}
	if err := r.setTaskData(rec, in, out); err != nil {
		_ = r.setTaskData(rec, []byte("{}"), []byte("{}"))
	}
	r.emit(Event{Kind: EventTask, TaskRef: rec.Ref, TaskType: rec.TaskType, TaskID: rec.TaskID, Status: TaskSkipped})
	return rec, r.save(ctx)
}
