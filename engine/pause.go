package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
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

// pauseWait bounds Pause and ResumePaused (a server request has no
// deadline of its own): the store's answers, and the process executing the
// run applying the change.
const pauseWait = 30 * time.Second

func (e *Engine) setPause(ctx context.Context, id string, pause bool) error {
	ctx, cancel := context.WithTimeout(ctx, pauseWait)
	defer cancel()
	err := e.setPauseWithin(ctx, id, pause)
	if err != nil && ctx.Err() != nil && errors.Is(err, context.DeadlineExceeded) {
		what := "pause"
		if !pause {
			what = "resume"
		}
		return fmt.Errorf("%s of run %s: not done within %v: %w", what, id, pauseWait, err)
	}
	return err
}

func (e *Engine) setPauseWithin(ctx context.Context, id string, pause bool) error {
	_, d, archived, err := e.loadRunDoc(ctx, id)
	if err != nil {
		return err
	}
	from, to, kind := StatusRunning, StatusPaused, pauseSignal
	if !pause {
		from, to, kind = StatusPaused, StatusRunning, resumeSignal
	}
	// A key of its own: the runner answers each request in its own slot
	// (answerwait.go), so each caller has its answer.
	key := kind + ":" + newID()
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
	signalled := false
	for {
		if handled, err := e.setPauseHere(ctx, id, pause, settled); handled {
			return err
		}
		if !signalled {
			if err := e.runs.PutSignal(ctx, id, key, []byte(`{}`)); err != nil {
				return err
			}
			signalled = true
			e.signalStored(ctx, id)
		}
		// Wait for the executing process to apply it, or to let go of the
		// run without applying it (it died): then change it here. (The
		// signal stays stored: the run's next executor applies it again,
		// which changes nothing.)
		live, err := e.awaitPause(ctx, id, key, to)
		if err != nil || live {
			return err
		}
	}
}

// setPauseHere marks run id PAUSED (pause) or RUNNING here when no process
// executes it; handled is false when one does (ask it through a signal).
func (e *Engine) setPauseHere(ctx context.Context, id string, pause bool, settled func(*runDoc, bool) (bool, error)) (handled bool, err error) {
	taken, done, err := e.leaseOutside(ctx, id) // leasewindow.go
	defer done()
	if !taken {
		return err != nil, err
	}
	defer func() { _ = e.runs.ReleaseLease(context.WithoutCancel(ctx), id, e.owner) }()
	// Read again under the lease: the run may have ended, or been paused
	// or resumed, since.
	doc, d, archived, err := e.loadRunDoc(ctx, id)
	if err != nil {
		return true, err
	}
	if done, err := settled(d, archived); done {
		return true, err
	}
	r, err := e.loadDoc(ctx, id, doc, d, nil)
	if err != nil {
		return true, err
	}
	r.lease.held = true
	return true, r.setPausedStatus(ctx, pause, false)
}

// pauseStored is the answer to a pause or resume the runner stored.
const pauseStored = `"stored"`

// awaitPause waits until run id, executed by another process or goroutine,
// has status to (or ended), or that process answered (it stored the
// change: pauseStored, or could not: why): live is false when the process let go of
// it first. err is what that process reported of a change it could not
// store (its answer, answerwait.go), or the store's error.
func (e *Engine) awaitPause(ctx context.Context, id, key, to string) (live bool, err error) {
	// applied reads the stored run: changed, or ended.
	applied := func() (bool, error) {
		doc, archived, err := e.runs.Load(ctx, id)
		if err != nil {
			return false, err
		}
		status := docStatus(doc)
		return archived || status == to || terminalWorkflow(status), nil
	}
	live = true
	err = e.awaitAnswer(ctx, id, key, func(why []byte, answered bool) (bool, error) {
		if answered && string(why) != pauseStored {
			return true, fmt.Errorf("run %s: the process executing it could not store the change to %s: %s", id, to, why)
		}
		if answered {
			return true, nil
		}
		if ok, err := applied(); ok || err != nil {
			return true, err
		}
		if e.isActive(id) {
			return false, nil
		}
		l, held, err := e.runs.GetLease(ctx, id)
		if err != nil {
			return true, err
		}
		if !held || !l.Live(time.Now()) {
			// Let go: after applying it (and perhaps ending the run)
			// since the look above, or without.
			ok, err := applied()
			live = ok || err != nil
			return true, err
		}
		return false, nil
	})
	return live, err
}

// applyPauseSignals applies pause/resume signals taken from the store (the
// lease keeper calls it with each batch) and answers each caller
// (answerwait.go): pauseStored once the change is stored, else why not —
// a change it cannot store is undone here, and its caller would otherwise
// wait for a status no write brings.
func (r *runState) applyPauseSignals(ctx context.Context) {
	for _, kind := range []string{pauseSignal, resumeSignal} {
		keys := r.takePendingKind(kind)
		if len(keys) == 0 {
			continue
		}
		// Written even when the run already has that status here: the
		// caller waits for the store to show it.
		why := []byte(pauseStored)
		if err := r.setPausedStatus(ctx, kind == pauseSignal, true); err != nil {
			why = []byte(r.sec.Excerpt(err.Error(), maxReasonBytes))
		}
		for _, key := range keys {
			r.answerTo(ctx, key, why)
		}
	}
}

// takePendingKind takes the pending signals of kind (pauseSignal,
// resumeSignal): kind ":" a caller's own id, or kind itself (stored by an
// earlier version, whose caller waits in that slot). It returns their keys.
func (r *runState) takePendingKind(kind string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var keys []string
	for k := range r.pending {
		if k == kind || strings.HasPrefix(k, kind+":") {
			keys = append(keys, k)
		}
	}
	for _, k := range keys {
		r.dropPendingLocked(k)
	}
	return keys
}

// setPausedStatus sets the run PAUSED (pause) or RUNNING and writes it;
// unchanged, it is written only when always.
func (r *runState) setPausedStatus(ctx context.Context, pause, always bool) error {
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
	lastRetried := r.doc.LastRetriedTime
	if pause {
		r.pauseLocked()
	} else {
		if changed {
			// Conductor's resumeWorkflow: the workflow's timeout counts
			// again from the resume (watchWorkflow).
			r.doc.LastRetriedTime = r.nowMillis()
		}
		r.unpauseLocked()
	}
	r.mu.Unlock()
	if !changed && !always {
		return nil
	}
	if changed {
		r.emit(Event{Kind: EventWorkflow, Status: status})
	}
	if err := r.save(withReportedWrite(ctx)); err != nil { // the pause's answer (forkdecision.go)
		// Not stored: the run goes on as the store holds it.
		r.mu.Lock()
		if changed && !terminalWorkflow(r.doc.Status) {
			if pause {
				r.unpauseLocked()
			} else {
				r.doc.LastRetriedTime = lastRetried
				r.pauseLocked()
			}
		}
		r.mu.Unlock()
		what := "resume"
		if pause {
			what = "pause"
		}
		return fmt.Errorf("%s run %s: %w", what, r.id, err)
	}
	return nil
}

// pauseLocked sets the run PAUSED (it is not ended): waitUnpaused holds
// new tasks until unpauseLocked. Callers hold r.mu.
func (r *runState) pauseLocked() {
	r.doc.Status, r.wfDoc = StatusPaused, nil
	if r.unpaused == nil {
		r.unpaused = make(chan struct{})
	}
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
