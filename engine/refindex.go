package engine

import (
	"context"
	"fmt"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine/runstore"
)

// An answer to a task by its reference name — Conductor's update by
// reference (POST /api/tasks/{workflowId}/{ref}/{status}), `wfrun task
// complete RUN REF`, a client completing a WAIT or a HUMAN task — names a
// run and a reference, not a record. Reading the run whole to find the
// latest record of that reference costs what the run holds: a long loop
// whose WAIT is answered by reference each iteration costs O(n²). So the
// run store keeps a reference index (runstore.RefReader): each reference,
// and each loop task's reference without its iteration suffix, names the
// seq of its latest record. The engine writes an entry with the record it
// names (indexLocked), and moves it when that record is forgotten
// (forgetRefLocked); a whole write (a restart, a rerun) writes the index
// whole.
//
// The index is what the store says it is, untrusted as the rest: the
// record it names is believed only when it is authentic (its seal and the
// head's), carries the reference, and still waits. Anything else — no
// entry (a run an earlier wfrun wrote), an entry naming a record that
// ended or is gone, a store without the index — reads the run whole, as
// before.

// taskMatch names the record an update is for: the attempt with id id,
// or else the latest record of reference ref (the DO_WHILE "__N" suffix
// may be omitted).
type taskMatch struct {
	id, ref string
}

func idMatch(id string) taskMatch   { return taskMatch{id: id} }
func refMatch(ref string) taskMatch { return taskMatch{ref: ref} }

func (m taskMatch) match(t *taskDoc) bool {
	if m.id != "" {
		return t.TaskID == m.id
	}
	return t.ReferenceTaskName == m.ref || baseRef(t.ReferenceTaskName) == m.ref
}

// what names the record in an error.
func (m taskMatch) what() string {
	if m.id != "" {
		return "task with id " + m.id
	}
	return fmt.Sprintf("task %q", m.ref)
}

// refKeys are the index entries that may name record t: its reference and,
// for a loop's task, its reference without the iteration suffix.
func refKeys(t *taskRecord) (string, string) {
	if t.BaseRef != "" && t.BaseRef != t.Ref {
		return t.Ref, t.BaseRef
	}
	return t.Ref, ""
}

// indexLocked adds to ch the index entries that name record t, written
// in ch, where t is later than the record they name. Callers hold r.mu.
func (r *runState) indexLocked(ch *runstore.Change, t *taskRecord) {
	t.indexed = true
	exact, base := refKeys(t)
	for _, k := range [2]string{exact, base} {
		if k == "" || t.Seq <= r.refIdx[k] {
			continue
		}
		if r.refIdx == nil {
			r.refIdx = map[string]int{}
		}
		r.refIdx[k] = t.Seq
		ch.Refs = append(ch.Refs, runstore.RefEntry{Ref: k, Seq: t.Seq})
	}
}

// storedRefLocked notes record t, read from the run store, as the index
// entries' (a run an earlier wfrun wrote has none: its answers by
// reference read it whole). Records are read in seq order.
func (r *runState) storedRefLocked(t *taskRecord) {
	t.indexed = true
	if r.refIdx == nil {
		r.refIdx = map[string]int{}
	}
	exact, base := refKeys(t)
	r.refIdx[exact] = t.Seq
	if base != "" {
		r.refIdx[base] = t.Seq
	}
}

// forgetRefLocked marks the entries that name record t, forgotten, for
// the next write to move (staleRefsLocked).
func (r *runState) forgetRefLocked(t *taskRecord) {
	exact, base := refKeys(t)
	for _, k := range [2]string{exact, base} {
		if k != "" && r.refIdx[k] == t.Seq {
			if r.refStale == nil {
				r.refStale = map[string]struct{}{}
			}
			r.refStale[k] = struct{}{}
		}
	}
}

// staleRefsLocked adds to ch the entries that named a forgotten record:
// each now names the latest record left under it, or none. One pass over
// the run's records, however many entries moved.
func (r *runState) staleRefsLocked(ch *runstore.Change) {
	if len(r.refStale) == 0 {
		return
	}
	best := make(map[string]int, len(r.refStale))
	for _, t := range r.tasks {
		if t.forgotten {
			continue
		}
		exact, base := refKeys(t)
		for _, k := range [2]string{exact, base} {
			if _, ok := r.refStale[k]; ok && k != "" && t.Seq > best[k] {
				best[k] = t.Seq
			}
		}
	}
	for k := range r.refStale {
		seq := best[k]
		if seq == r.refIdx[k] {
			continue
		}
		switch {
		case seq == 0:
			delete(r.refIdx, k)
		case r.refIdx == nil:
			r.refIdx = map[string]int{k: seq}
		default:
			r.refIdx[k] = seq
		}
		ch.Refs = append(ch.Refs, runstore.RefEntry{Ref: k, Seq: seq})
	}
	r.refStale = nil
}

// unindexLocked is for a change that was not written: the entries it
// carried are written again by the next write, as they are then.
func (r *runState) unindexLocked(refs []runstore.RefEntry) {
	for _, e := range refs {
		delete(r.refIdx, e.Ref)
		if r.refStale == nil {
			r.refStale = map[string]struct{}{}
		}
		r.refStale[e.Ref] = struct{}{}
	}
}

// unindexAllLocked is for a write of the whole record (which may drop the
// stored index: runstore.Store.Restore): every record's entries are
// written with it.
func (r *runState) unindexAllLocked() {
	r.refIdx, r.refStale = nil, nil
	for _, t := range r.tasks {
		t.indexed = false
	}
}

// lookRef reads run runID's head and the record its reference index names
// for ref. ok false: the index cannot say (no entry, a record that does
// not carry ref or no longer waits, a store without the index): the
// caller reads the run whole. archived: the run is archived (head and
// task nil). A run the store does not hold is runstore.ErrNotFound.
func (e *Engine) lookRef(ctx context.Context, runID, ref string) (head, task []byte, archived, ok bool, err error) {
	rr, isReader := e.runs.(runstore.RefReader)
	if !isReader || ref == "" {
		return nil, nil, false, false, nil
	}
	head, task, archived, err = rr.LoadTaskRef(ctx, runID, ref)
	if err != nil || archived {
		return nil, nil, archived, err == nil, err
	}
	if task == nil {
		return nil, nil, false, false, nil
	}
	got := gjson.GetBytes(task, "referenceTaskName")
	if got.Type != gjson.String || (got.Str != ref && baseRef(got.Str) != ref) {
		return nil, nil, false, false, nil
	}
	// Only a record that waits: an ended one may have a later record
	// the index does not name (a run an earlier wfrun went on writing).
	if st := gjson.GetBytes(task, "status").Str; st != TaskScheduled && st != TaskInProgress {
		return nil, nil, false, false, nil
	}
	// Authenticated, not believed (recordseal.go).
	if err := e.checkStoredTask(runID, head, task); err != nil {
		return nil, nil, false, false, err
	}
	return head, task, false, true, nil
}

// StoredPending is run runID's AttemptState for the latest record of
// reference ref (its DO_WHILE "__N" suffix may be omitted) that waits,
// as the run store holds it, read through the run's reference index
// (lookRef): a look that costs the same in a run of ten tasks or of
// thousands. Found false: the index names no such record; the caller
// looks at the run whole (StoredState) when it must know.
func (e *Engine) StoredPending(ctx context.Context, runID, ref string) (AttemptState, error) {
	e.visibleNow(runID)
	head, task, archived, ok, err := e.lookRef(ctx, runID, ref)
	if err != nil || !ok || archived {
		return AttemptState{}, err
	}
	st := AttemptState{RunStatus: docStatus(head), Task: taskStateOf(gjson.ParseBytes(task)), Found: true}
	st.ParentID, st.ParentTaskID = gjson.GetBytes(head, "parentWorkflowId").Str, gjson.GetBytes(head, "parentWorkflowTaskId").Str
	return st, nil
}

// TaskRuns are the runs task id taskID may be a task of: those the run
// store keeps with the run tag the id carries (tasklook.go,
// runstore.TaskRunReader), and whether every run of the store has its tag.
// A store that keeps no tags answers none and not complete. What it names
// is untrusted: the caller reads those runs and finds the task, or not.
func (e *Engine) TaskRuns(ctx context.Context, taskID string) (runs []string, complete bool, err error) {
	tr, ok := e.runs.(runstore.TaskRunReader)
	if !ok {
		return nil, false, nil
	}
	tag, ok := taskIDTag(taskID)
	if !ok {
		// Not an id this engine makes: no run of a store whose every
		// run has its tag holds it.
		_, complete, err := tr.RunsTagged(ctx, "")
		return nil, complete, err
	}
	return tr.RunsTagged(ctx, tag)
}
