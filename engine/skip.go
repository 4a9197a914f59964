package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tidwall/gjson"
	"github.com/tidwall/sjson"
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
// and applied by the runner (or by the next Resume). While a process
// executes the run, SkipTask returns once that process has recorded the
// skip, or fails with ErrNotSkippable when the run reached the task first
// (awaitSkip). The views list SKIPPED records first (skippedFirst). The
// request is external input: a `_secrets` leaf in it is protected as in a
// task output.
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
		// ref is the caller's text, not yet known to be one of the
		// definition's: not quoted (it may hold a value; see below).
		return fmt.Errorf("%w: run %s is %s, its tasks cannot be skipped", ErrNotRunning, runID, d.Status)
	}
	def, err := e.Parse(d.WorkflowDefinition)
	if err != nil {
		return fmt.Errorf("run %s: definition: %w", runID, err)
	}
	if _, ok := def.Task(ref); !ok {
		// A reference name the definition has is configuration, no
		// secret; one it does not have is the caller's text, which may
		// hold a value the run registered: it is not quoted (masked with
		// the masker of some run instead, the answer would tell the
		// caller which text is a value).
		return fmt.Errorf("%w: run %s: the definition %s has no task of that reference name", ErrNotSkippable, runID, d.WorkflowType)
	}
	for i := range d.Tasks {
		if d.Tasks[i].ReferenceTaskName == ref {
			return fmt.Errorf("%w: task %q of run %s has already been processed (%s)", ErrNotSkippable, ref, runID, d.Tasks[i].Status)
		}
	}
	sec, err := e.newRunSecrets(runID, nil)
	if err != nil {
		return err
	}
	sealed, err := sec.SealCompletion(ref, data)
	if err != nil {
		return err
	}
	payload, _ := json.Marshal(signal{Status: TaskSkipped, SealedOutput: sealed})
	if err := e.runs.PutSignal(ctx, runID, ref, payload); err != nil {
		return err
	}
	if r := e.executing(runID); r != nil {
		// Executed here: taken now rather than at the runner's next
		// signal tick.
		if err := r.takeSignals(ctx); err == nil {
			r.applyPendingSkips(ctx, true)
		}
	} else {
		e.signalStored(ctx, runID)
	}
	return e.awaitSkip(ctx, runID, ref)
}

// executing is the run id this engine executes now (visible.go's list),
// or nil.
func (e *Engine) executing(id string) *runState {
	v := &e.vis
	v.mu.Lock()
	defer v.mu.Unlock()
	for _, r := range v.runs {
		if r.id == id {
			return r
		}
	}
	return nil
}

// skipAckTimeout bounds how long SkipTask waits for the process executing
// the run to record the skip.
const skipAckTimeout = 15 * time.Second

// awaitSkip waits until the process executing the run has decided the
// skip: Conductor's skipTaskFromWorkflow records the SKIPPED task at once,
// so a skip that returned nil must never lose to the run reaching the
// task (the runner takes signals about once a second). The runner records
// either the SKIPPED record or, when it scheduled the task first, the
// task's own record, which refuses the skip (ErrNotSkippable). A run that
// no live process executes takes the skip when it is resumed, before it
// reaches the task: nothing to wait for.
func (e *Engine) awaitSkip(ctx context.Context, runID, ref string) error {
	deadline := time.Now().Add(skipAckTimeout)
	for {
		// Whether anyone executes the run is read before the run: a runner
		// that lets go after this read has written what it decided.
		executed := e.isActive(runID)
		if !executed {
			l, held, err := e.runs.GetLease(ctx, runID)
			if err != nil {
				return err
			}
			executed = held && l.Live(time.Now())
		}
		doc, archived, err := e.runs.Load(ctx, runID)
		if err != nil {
			return err
		}
		var d struct {
			Status string `json:"status"`
			Tasks  []struct {
				Ref    string `json:"referenceTaskName"`
				Status string `json:"status"`
			} `json:"tasks"`
		}
		if err := json.Unmarshal(doc, &d); err != nil {
			return fmt.Errorf("run %s: damaged document: %w", runID, err)
		}
		for _, t := range d.Tasks {
			if t.Ref != ref {
				continue
			}
			if t.Status == TaskSkipped {
				return nil
			}
			return fmt.Errorf("%w: task %q of run %s was reached before the skip (%s)", ErrNotSkippable, ref, runID, t.Status)
		}
		if archived || d.Status != StatusRunning {
			// ref is the caller's text, not yet known to be one of the
			// definition's: not quoted (it may hold a value; see below).
			return fmt.Errorf("%w: run %s is %s, its tasks cannot be skipped", ErrNotRunning, runID, d.Status)
		}
		if !executed || time.Now().After(deadline) {
			// The skip stays stored: the runner, or a process resuming
			// the run, takes it before the task.
			return nil
		}
		// This process takes the skip at once; another one at its next
		// signal look (about a second): no need to reload the run 100
		// times a second for it.
		step := 100 * time.Millisecond
		if e.isActive(runID) {
			step = 10 * time.Millisecond
		}
		if err := sleepCtx(ctx, step); err != nil {
			return err
		}
	}
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
func (r *runState) applySkips(ctx context.Context) { r.applyPendingSkips(ctx, false) }

// applyPendingSkips is applySkips; bySkipTask says SkipTask calls it for
// the skip it stored.
func (r *runState) applyPendingSkips(ctx context.Context, bySkipTask bool) {
	r.mu.Lock()
	var refs []string
	for ref, s := range r.pending {
		if s.Status == TaskSkipped {
			refs = append(refs, ref)
		}
	}
	r.mu.Unlock()
	for _, ref := range refs {
		_, _ = r.applySkip(ctx, ref, bySkipTask)
	}
}

// applySkip records the pending skip of ref, if there is one and the task
// has no record yet; it returns the SKIPPED record. The record is added
// to the run complete, with the request's input and output: a write or
// the run's archive made meanwhile holds all of it or nothing of it.
// Their forms are made (sealed under the record's task id) without the
// run's lock, so the skip is decided again when they are ready: a record
// the run added for ref meanwhile, its end, a newer skip of ref, are seen.
func (r *runState) applySkip(ctx context.Context, ref string, bySkipTask bool) (*taskRecord, error) {
	for {
		r.mu.Lock()
		s, ok := r.pending[ref]
		if !ok || s.Status != TaskSkipped {
			r.mu.Unlock()
			return nil, nil
		}
		wt, known := r.def.Task(ref)
		if !known || r.byRef[ref] != nil || terminalWorkflow(r.doc.Status) {
			r.dropPendingLocked(ref)
			r.mu.Unlock()
			return nil, nil
		}
		// The id addTaskLocked would give: the one a rerun keeps for
		// ref (it has no record), else a new one.
		kid, kept := r.keptID[ref]
		id := kid
		if !kept {
			id = newID()
		}
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
		forms, err := r.protectTaskData(id, in, out)
		if err != nil {
			forms, _ = r.protectTaskData(id, []byte("{}"), []byte("{}"))
		}
		r.mu.Lock()
		cur, ok := r.pending[ref]
		if !ok || !sameSignal(cur, s) || r.byRef[ref] != nil || terminalWorkflow(r.doc.Status) {
			r.mu.Unlock()
			continue // decided again from what the run holds now
		}
		if kid2, kept2 := r.keptID[ref]; kept2 != kept || kid2 != kid {
			r.mu.Unlock()
			continue // a rerun's id for ref changed meanwhile: sealed again under it
		}
		r.dropPendingLocked(ref)
		if kept {
			r.takeKeptIDLocked(ref) // the rerun's id is served (rerun.go)
		}
		now := r.nowMillis()
		rec := &taskRecord{Ref: ref, TaskID: id, TaskType: recordType(wt), TaskDefName: recordDefName(wt), Status: TaskSkipped,
			Scheduled: now, End: now, wt: wt}
		r.setFormsLocked(rec, forms)
		r.addTaskLocked(rec)
		r.mu.Unlock()
		r.emit(Event{Kind: EventTask, TaskRef: rec.Ref, TaskType: rec.TaskType, TaskID: rec.TaskID, Status: TaskSkipped})
		if f := r.e.skipRecorded; f != nil && bySkipTask {
			f(r.id, ref)
		}
		// Written unless the run has ended meanwhile (the runner went
		// past the skipped task to the end): its last writes carry the
		// record, and a write after the run's archive would store a new
		// run of its head alone.
		return rec, r.write(ctx, persistDeadline, func() bool { return !terminalWorkflow(r.doc.Status) })
	}
}

// sameSignal reports whether a and b are the same skip (a newer one of
// the ref replaces the pending one).
func sameSignal(a, b signal) bool {
	return a.Status == b.Status && bytes.Equal(a.Output, b.Output) && a.SealedOutput == b.SealedOutput && a.Reason == b.Reason
}

// skippedFirst lists a run view's SKIPPED records first, with seq 0, as
// Conductor shows them: skipTaskFromWorkflow creates the SKIPPED task with
// no sequence number, and the store lists a run's tasks by seq. The run's
// own records keep their order and numbers (storage is keyed by them);
// only the view moves them.
func skippedFirst(view []byte) ([]byte, error) {
	tasks := gjson.GetBytes(view, "tasks")
	if !tasks.IsArray() {
		return view, nil
	}
	var skipped, rest []string
	for _, t := range tasks.Array() {
		if t.Get("status").String() != TaskSkipped {
			rest = append(rest, t.Raw)
			continue
		}
		raw, err := sjson.SetRaw(t.Raw, "seq", "0")
		if err != nil {
			return nil, err
		}
		skipped = append(skipped, raw)
	}
	if len(skipped) == 0 {
		return view, nil
	}
	list := "[" + strings.Join(append(skipped, rest...), ",") + "]"
	return sjson.SetRawBytes(view, "tasks", []byte(list))
}
