package engine

import (
	"bytes"
	"slices"

	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/runsecrets"
)

// Masking stored forms again.
//
// A value registered mid-run (a `_secrets` leaf of a task output, an
// UPDATE_SECRET, one per loop iteration) must be masked in everything the
// run stored before. Masking every stored form again after each value
// costs the whole run per value — O(n²) for a loop registering a value per
// iteration (SPEC §8). A run keeps a masking.Index of its stored forms
// instead, built the first time a value is registered after something was
// stored, and kept up to date from the records marked changed
// (touchLocked) and the workflow members' identities: only the forms it
// lists are masked again.

// remaskKey names one stored form: a task record's input, output, reason
// or worker id, or a workflow member or the run's reason (t nil). Reasons
// quote evaluator errors, remote bodies and task outputs, cut to an
// excerpt, and a worker id is the worker's to choose: they are masked
// again like the documents.
type remaskKey struct {
	t     *taskRecord
	field uint8
}

const (
	formTaskIn uint8 = iota
	formTaskOut
	formRunIn
	formRunVars
	formRunOut
	formTaskReason
	formRunReason
	formTaskWorker
)

// ptr is the form's JSON pointer in the run, as it was protected: the
// maskedFields of the workflow input and output are sealed there. A
// record's are built once (its index state keeps them); callers hold the
// run's mu.
func (k remaskKey) ptr() string {
	switch k.field {
	case formRunIn:
		return "/input"
	case formRunVars:
		return "/variables"
	case formRunOut:
		return "/output"
	case formTaskIn:
		if k.t.rx.inPtr == "" {
			k.t.rx.inPtr = "/tasks/" + k.t.TaskID + "/inputData"
		}
		return k.t.rx.inPtr
	case formTaskOut:
		if k.t.rx.outPtr == "" {
			k.t.rx.outPtr = "/tasks/" + k.t.TaskID + "/outputData"
		}
		return k.t.rx.outPtr
	}
	return ""
}

// formID is the identity of a stored form: stored forms are replaced, never
// changed in place.
type formID struct {
	p *byte
	n int
}

func idOf(b []byte) formID {
	if len(b) == 0 {
		return formID{}
	}
	return formID{&b[0], len(b)}
}

// remaskIndex is a run's index of its stored forms. Guarded by the run's mu.
type remaskIndex struct {
	idx            *masking.Index[remaskKey] // nil until first needed
	queue          []*taskRecord             // records touched since the last sync
	in, vars, out  formID                    // the workflow members indexed
	reason         string                    // the run's reason indexed
	keys           []remaskKey               // scratch
	remasked       int                       // forms masked again (tests, SPEC §8)
	remaskedBytes  int                       // their bytes
	indexedForms   int                       // forms indexed, new or again
	indexedBytes   int                       // their bytes
	rebuilds       int                       // full builds of the index
	droppedRecords int                       // records found gone when listed
	// produced is the lowest masker size a form stored since the last
	// remask was masked at (known: hasProduced): a form protected while
	// another goroutine registered a value and wrote the run may miss
	// values older than maskedAt.
	produced    int
	hasProduced bool
}

// producedLocked notes that a form masked with at least gen patterns (the
// masker's size read before it was protected) is about to be stored.
func (x *remaskIndex) producedLocked(gen int) {
	if !x.hasProduced || gen < x.produced {
		x.produced, x.hasProduced = gen, true
	}
}

// taskIndexState is what the index knows of one task record.
type taskIndexState struct {
	in, out       formID
	reason        string
	worker        string
	queued        bool
	inPtr, outPtr string // the forms' pointers (remaskKey.ptr)
}

// queueLocked notes that t changed (touchLocked): the next sync indexes
// its forms again. Before the index exists there is nothing to follow.
func (x *remaskIndex) queueLocked(t *taskRecord) {
	if x.idx == nil || t.rx.queued {
		return
	}
	t.rx.queued = true
	x.queue = append(x.queue, t)
}

// forget drops a record leaving the run (forgetLocked) from the index: a
// loop that keeps its last N iterations keeps an index of that size.
func (x *remaskIndex) forget(t *taskRecord) {
	if x.idx != nil {
		x.deleteTask(t)
	}
}

// remaskLocked masks again, with the values registered since they were
// produced, the stored forms that may hold one of them. Callers hold r.mu.
func (r *runState) remaskLocked() {
	x := &r.rx
	n := r.sec.Generation()
	since := r.maskedAt
	if x.hasProduced {
		since = min(since, x.produced)
		x.hasProduced = false
	}
	if n == since {
		return
	}
	r.maskedAt = n
	if x.idx == nil {
		r.buildRemaskIndexLocked()
	} else {
		r.syncRemaskIndexLocked()
	}
	x.keys = x.idx.Candidates(since, x.keys[:0])
	// Only what the new values change is written again: a run that
	// registers a value per iteration must not rewrite every record it
	// holds with each write (SPEC §8).
	for _, k := range x.keys {
		switch k.field {
		case formRunIn:
			r.inStored = r.remaskForm(k, since, r.inStored, &x.in, &r.changedIn)
		case formRunVars:
			r.varStored = r.remaskForm(k, since, r.varStored, &x.vars, &r.changedVars)
		case formRunOut:
			r.outStored = r.remaskForm(k, since, r.outStored, &x.out, &r.changedOut)
			if r.failureRun != "" {
				r.outStored = namingFailureRun(r.outStored, r.failureRun) // failure.go
			}
		case formRunReason:
			if m := r.remaskText(k, since, r.doc.ReasonForIncompletion, &x.reason); m != r.doc.ReasonForIncompletion {
				r.doc.ReasonForIncompletion, r.wfDoc = m, nil
			}
		default:
			t := k.t
			if !r.holdsLocked(t) {
				// Dropped from the run (keepLastN, a restart): never
				// touched again, or it would be written back.
				x.deleteTask(t)
				x.droppedRecords++
				continue
			}
			changed := false
			switch k.field {
			case formTaskIn:
				t.inStored = r.remaskForm(k, since, t.inStored, &t.rx.in, &changed)
			case formTaskOut:
				t.outStored = r.remaskForm(k, since, t.outStored, &t.rx.out, &changed)
			case formTaskReason:
				if m := r.remaskText(k, since, t.Reason, &t.rx.reason); m != t.Reason {
					t.Reason, changed = m, true
				}
			case formTaskWorker:
				if m := r.remaskText(k, since, t.WorkerID, &t.rx.worker); m != t.WorkerID {
					t.WorkerID, changed = m, true
				}
			}
			if changed {
				// Masked again, not changed by its task: its
				// updateTime stays.
				r.reencodeLocked(t)
			}
		}
	}
	clear(x.keys) // hold no record past its life
}

// remaskForm masks one listed form again and indexes what changed.
func (r *runState) remaskForm(k remaskKey, since int, stored []byte, id *formID, changed *bool) []byte {
	x := &r.rx
	x.remasked++
	x.remaskedBytes += len(stored)
	m := r.sec.RemaskSince(stored, k.ptr(), since)
	if bytes.Equal(m, stored) {
		return stored
	}
	*changed = true
	x.setForm(k, m, id)
	return m
}

// remaskText masks one listed text (a reason) again and indexes it when
// it changed.
func (r *runState) remaskText(k remaskKey, since int, text string, indexed *string) string {
	x := &r.rx
	x.remasked++
	x.remaskedBytes += len(text)
	m := r.sec.RemaskText(text, since)
	if m != text {
		x.setText(k, m, indexed)
	}
	return m
}

// setText indexes text s under k (forgets k when s is empty).
func (x *remaskIndex) setText(k remaskKey, s string, indexed *string) {
	*indexed = s
	if s == "" {
		x.idx.Delete(k)
		return
	}
	x.indexedForms++
	x.indexedBytes += len(s)
	x.idx.SetText(k, []byte(s))
}

// syncText indexes s under k when it is not what was indexed.
func (x *remaskIndex) syncText(k remaskKey, s string, indexed *string) {
	if s != *indexed {
		x.setText(k, s, indexed)
	}
}

// deleteTask forgets t's forms.
func (x *remaskIndex) deleteTask(t *taskRecord) {
	x.idx.Delete(remaskKey{t, formTaskIn})
	x.idx.Delete(remaskKey{t, formTaskOut})
	x.idx.Delete(remaskKey{t, formTaskReason})
	x.idx.Delete(remaskKey{t, formTaskWorker})
}

// setForm indexes form b under k (forgets k when b is empty).
func (x *remaskIndex) setForm(k remaskKey, b []byte, id *formID) {
	*id = idOf(b)
	if len(b) == 0 {
		x.idx.Delete(k)
		return
	}
	x.indexedForms++
	x.indexedBytes += len(b)
	x.idx.SetJSON(k, b)
}

// syncForm indexes b under k when it is not what was indexed.
func (x *remaskIndex) syncForm(k remaskKey, b []byte, id *formID) {
	if idOf(b) != *id {
		x.setForm(k, b, id)
	}
}

// buildRemaskIndexLocked indexes every stored form of the run: once per
// run in this process (a resumed run builds it from what it loaded).
func (r *runState) buildRemaskIndexLocked() {
	x := &r.rx
	x.idx = runsecrets.NewRemaskIndex[remaskKey](r.sec)
	x.rebuilds++
	for _, t := range x.queue {
		t.rx.queued = false
	}
	x.queue = x.queue[:0]
	x.in, x.vars, x.out, x.reason = formID{}, formID{}, formID{}, ""
	r.syncMembersLocked()
	for _, t := range r.tasks {
		t.rx = taskIndexState{inPtr: t.rx.inPtr, outPtr: t.rx.outPtr}
		x.setForm(remaskKey{t, formTaskIn}, t.inStored, &t.rx.in)
		x.setForm(remaskKey{t, formTaskOut}, t.outStored, &t.rx.out)
		x.syncText(remaskKey{t, formTaskReason}, t.Reason, &t.rx.reason)
		x.syncText(remaskKey{t, formTaskWorker}, t.WorkerID, &t.rx.worker)
	}
}

// compactRemaskQueueLocked drops from the remask queue, and from the
// index, the records the run no longer holds (keepLastN, a restart) once
// the queue names more records than twice what the run holds, and some.
// A run that registers no value for a long time (a keepLastN loop after
// its secrets were read) syncs its index at no write, and would otherwise
// hold every record it touched and dropped since, its memory growing with
// the loop. The records it holds stay queued: indexing them is left to the
// next remask, which may never come.
func (r *runState) compactRemaskQueueLocked() {
	x := &r.rx
	if x.idx == nil || len(x.queue) <= 2*len(r.tasks)+64 {
		return
	}
	keep := x.queue[:0]
	for _, t := range x.queue {
		if r.holdsLocked(t) {
			keep = append(keep, t)
			continue
		}
		t.rx.queued = false
		x.deleteTask(t)
	}
	clear(x.queue[len(keep):])
	x.queue = keep
}

// syncRemaskIndexLocked indexes the forms that changed since the last sync:
// the records touched and the workflow members replaced.
func (r *runState) syncRemaskIndexLocked() {
	x := &r.rx
	r.syncMembersLocked()
	for i, t := range x.queue {
		x.queue[i] = nil
		t.rx.queued = false
		if t.forgotten {
			x.deleteTask(t)
			continue
		}
		x.syncForm(remaskKey{t, formTaskIn}, t.inStored, &t.rx.in)
		x.syncForm(remaskKey{t, formTaskOut}, t.outStored, &t.rx.out)
		x.syncText(remaskKey{t, formTaskReason}, t.Reason, &t.rx.reason)
		x.syncText(remaskKey{t, formTaskWorker}, t.WorkerID, &t.rx.worker)
	}
	x.queue = x.queue[:0]
	if cap(x.queue) > 1024 && cap(x.queue) > 4*len(r.tasks) {
		x.queue = nil
	}
}

func (r *runState) syncMembersLocked() {
	x := &r.rx
	x.syncForm(remaskKey{nil, formRunIn}, r.inStored, &x.in)
	x.syncForm(remaskKey{nil, formRunVars}, r.varStored, &x.vars)
	x.syncForm(remaskKey{nil, formRunOut}, r.outStored, &x.out)
	x.syncText(remaskKey{nil, formRunReason}, r.doc.ReasonForIncompletion, &x.reason)
}

// holdsLocked reports whether t is one of the run's records. Records are
// kept in the order of their seq, so a search finds it; a linear scan
// backs the search up should that order ever not hold.
func (r *runState) holdsLocked(t *taskRecord) bool {
	if t.forgotten {
		return false
	}
	i, _ := slices.BinarySearchFunc(r.tasks, t.Seq, func(c *taskRecord, seq int) int { return c.Seq - seq })
	if i < len(r.tasks) && r.tasks[i] == t {
		return true
	}
	return slices.Contains(r.tasks, t)
}
