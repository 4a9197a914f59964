package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
)

// Signal keys Pause and ResumePaused use to reach the process executing a run.
const (
	pauseSignal  = "__wfrun_pause"
	resumeSignal = "__wfrun_resume"
)

// ErrNotPaused: ResumePaused of a run that is not PAUSED.
var ErrNotPaused = errors.New("run is not paused")

// ErrTaskNotFound: Rerun from a task id the run does not have.
var ErrTaskNotFound = errors.New("task not found")

// Pause pauses a RUNNING run, as Conductor's pauseWorkflow does: tasks
// already scheduled or running go on to their end (a worker may still
// complete its task), but no new task is scheduled until ResumePaused. The
// run's status is PAUSED once Pause returns. A run executed by a live
// process is paused by that process (asked through a signal); a run nobody
// executes is marked here.
func (e *Engine) Pause(ctx context.Context, id string) error {
	return e.setPause(ctx, id, true)
}

// ResumePaused resumes a PAUSED run (Conductor's resumeWorkflow): its next
// tasks are scheduled. A paused run that no process executes is marked
// RUNNING here; continue it with Resume.
func (e *Engine) ResumePaused(ctx context.Context, id string) error {
	return e.setPause(ctx, id, false)
}

func (e *Engine) setPause(ctx context.Context, id string, pause bool) error {
	_, d, archived, err := e.loadRunDoc(ctx, id)
	if err != nil {
		return err
	}
	from, to, key := StatusRunning, StatusPaused, pauseSignal
	if !pause {
		from, to, key = StatusPaused, StatusRunning, resumeSignal
	}
	// settled reports whether the run, as stored, needs no change (done)
	// or cannot take it (err).
	settled := func(d *runDoc, archived bool) (done bool, err error) {
		switch {
		case archived || terminalWorkflow(d.Status):
			return true, fmt.Errorf("%w: run %s ended with status %s", ErrNotRunning, id, d.Status)
		case d.Status == to:
			return true, nil
		case d.Status != from && !pause:
			return true, fmt.Errorf("%w: run %s is %s", ErrNotPaused, id, d.Status)
		}
		return false, nil
	}
	if done, err := settled(d, archived); done {
		return err
	}
	if !e.isActive(id) {
		if err := e.runs.AcquireLease(ctx, id, e.newLease(), e.leaseTTL); err == nil {
			// Nobody executes the run: mark it here.
			defer func() { _ = e.runs.ReleaseLease(context.WithoutCancel(ctx), id, e.owner) }()
			// Read again under the lease: the run may have ended, or been
			// paused or resumed, since.
			doc, d, archived, err := e.loadRunDoc(ctx, id)
			if err != nil {
				return err
			}
			if done, err := settled(d, archived); done {
				return err
			}
			r, err := e.loadDoc(ctx, id, doc, d, nil)
			if err != nil {
				return err
			}
			r.lease.held = true
			return r.setPausedStatus(ctx, pause)
		} else if !errors.Is(err, runstore.ErrLeased) {
			return err
		}
	}
	if err := e.runs.PutSignal(ctx, id, key, []byte(`{}`)); err != nil {
		return err
	}
	e.signalStored(ctx, id)
	// Wait for the executing process to apply it.
	for {
		doc, archived, err := e.runs.Load(ctx, id)
		if err != nil {
			return err
		}
		var s struct {
			Status string `json:"status"`
		}
		_ = json.Unmarshal(doc, &s)
		if archived || s.Status == to || terminalWorkflow(s.Status) {
			return nil
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
}

// takeStoredPause pauses the run here when the store has it PAUSED: Pause,
// finding no process executing it, marks the run in the store, and a run
// this process is about to execute (a new run between its first write and
// its lease, a stored run between its load and its lease) does not see
// that. Left RUNNING in memory, it would schedule its next task while
// PAUSED, its next write would undo the pause, and a ResumePaused meanwhile
// would wait for a RUNNING status no write brings (a resume signal finds
// the run already RUNNING here). A store that cannot be read leaves the run
// as it is: its next write fails the same way.
func (r *runState) takeStoredPause(ctx context.Context) {
	doc, archived, err := r.e.runs.Load(ctx, r.id)
	if err != nil || archived {
		return
	}
	var s struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(doc, &s) != nil || s.Status != StatusPaused {
		return
	}
	r.mu.Lock()
	if r.doc.Status == StatusRunning {
		r.doc.Status, r.wfDoc = StatusPaused, nil
		if r.unpaused == nil {
			r.unpaused = make(chan struct{})
		}
	}
	r.mu.Unlock()
}

// applyPauseSignals applies pause/resume signals taken from the store (the
// lease keeper calls it with each batch).
func (r *runState) applyPauseSignals(ctx context.Context) {
	if _, ok := r.takePending(pauseSignal); ok {
		_ = r.setPausedStatus(ctx, true)
	}
	if _, ok := r.takePending(resumeSignal); ok {
		_ = r.setPausedStatus(ctx, false)
	}
}

func (r *runState) setPausedStatus(ctx context.Context, pause bool) error {
	r.mu.Lock()
	if terminalWorkflow(r.doc.Status) {
		r.mu.Unlock()
		return nil
	}
	status := StatusRunning
	if pause {
		status = StatusPaused
	}
	changed := r.doc.Status != status
	if pause {
		r.doc.Status, r.wfDoc = status, nil
		if r.unpaused == nil {
			r.unpaused = make(chan struct{})
		}
	} else {
		r.unpauseLocked()
	}
	r.mu.Unlock()
	if !changed {
		return nil
	}
	r.emit(Event{Kind: EventWorkflow, Status: status})
	return r.save(withReportedWrite(ctx)) // the pause's answer (forkdecision.go)
}

// unpauseLocked sets the run RUNNING (it is not ended) and wakes what
// waitUnpaused holds. Callers hold r.mu.
func (r *runState) unpauseLocked() {
	r.doc.Status, r.wfDoc = StatusRunning, nil
	if r.unpaused != nil {
		close(r.unpaused)
	}
	r.unpaused = make(chan struct{})
}

// waitUnpaused blocks, while the run is PAUSED, before a new task is
// scheduled.
func (r *runState) waitUnpaused(ctx context.Context) error {
	for {
		r.mu.Lock()
		if r.doc.Status != StatusPaused {
			r.mu.Unlock()
			return nil
		}
		if r.unpaused == nil {
			r.unpaused = make(chan struct{})
		}
		ch := r.unpaused
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
		}
	}
}

// failWhilePaused holds the failure of rec while the run is PAUSED:
// Conductor's decider does nothing for a paused run, so the task stays
// FAILED (or CANCELED: a sub-workflow terminated) and the run PAUSED
// until it is resumed (then the failure ends it) or the task is re-opened meanwhile, as a retry of its sub-workflow
// does (reopenExecuting): done is then true, the re-opened task's outcome
// replaces the failure (a failure of the re-opened task has ended the
// run's task list by then, as reopenExecuting does).
func (r *runState) failWhilePaused(ctx context.Context, rec *taskRecord) (done bool, err error) {
	r.mu.Lock()
	paused := r.doc.Status == StatusPaused
	// A re-open under way already (this may be it) is not one to wait for.
	before := r.side.reopens[rec.Ref]
	r.mu.Unlock()
	if !paused {
		return false, nil
	}
	if err := r.waitUnpaused(ctx); err != nil {
		return false, err
	}
	// Re-opened meanwhile: its child may even have ended already.
	r.mu.Lock()
	reopened, wait := r.side.reopens[rec.Ref] != before, r.side.running[rec.Ref]
	r.mu.Unlock()
	if !reopened {
		return false, nil
	}
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done():
			return false, ctx.Err()
		}
	}
	return true, nil
}
