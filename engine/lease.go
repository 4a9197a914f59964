package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
)

// ErrLeaseLost: another process took the run over while this one executed
// it (this process stalled longer than the lease TTL). The run is left to
// the new holder.
var ErrLeaseLost = errors.New("run lease lost to another process")

// terminateSignal is the signal key Terminate uses to ask the process that
// holds a run to end it.
const terminateSignal = "__wfrun_terminate"

// leaseState is a run's lease as this process holds it (guarded by r.mu).
type leaseState struct {
	held bool
	poke chan struct{} // wakes the lease keeper (signalnudge.go)
}

// terminated is the cause of a run context cancelled by Terminate.
type terminated struct{ reason string }

func (t *terminated) Error() string { return "terminated: " + t.reason }

func (e *Engine) newLease() runstore.Lease { return runstore.NewLease(e.owner) }

func (e *Engine) isActive(id string) bool { return e.activeRun(id) != nil }

// activeRun is run id's state when this engine executes it, else nil.
func (e *Engine) activeRun(id string) *runState {
	e.activeMu.Lock()
	defer e.activeMu.Unlock()
	return e.active[id]
}

// setActive marks run r executing in this engine; false when it already is.
func (e *Engine) setActive(r *runState, on bool) bool {
	e.activeMu.Lock()
	defer e.activeMu.Unlock()
	if on && e.active[r.id] != nil {
		return false
	}
	if on {
		e.active[r.id] = r
	} else if e.active[r.id] == r {
		delete(e.active, r.id)
	}
	return true
}

// acquireLease takes the lease of a run this process is about to execute;
// a run that another live process executes is refused (runstore.ErrLeased,
// naming the holder).
func (r *runState) acquireLease(ctx context.Context) error {
	r.mu.Lock()
	held := r.lease.held
	r.mu.Unlock()
	if held {
		return nil
	}
	if err := r.e.runs.AcquireLease(ctx, r.id, r.e.newLease(), r.e.leaseTTL); err != nil {
		return err
	}
	r.mu.Lock()
	r.lease.held = true
	r.mu.Unlock()
	return nil
}

// releaseLease drops the lease of a run this process stops executing
// without ending it (interrupted): another process may resume it at once.
func (r *runState) releaseLease(ctx context.Context) {
	r.mu.Lock()
	held := r.lease.held
	r.lease.held = false
	r.mu.Unlock()
	if held {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = r.e.runs.ReleaseLease(sctx, r.id, r.e.owner)
	}
}

// keepLease renews the lease (the heartbeat) every third of its TTL and
// watches the run's signals for a termination, until the returned stop is
// called. A lost lease or a termination cancels the run with that cause.
func (r *runState) keepLease(ctx context.Context, cancel context.CancelCauseFunc) (stop func()) {
	ttl := r.e.leaseTTL
	renewEvery := ttl / 3
	poll := min(renewEvery, time.Second)
	done := make(chan struct{})
	exited := make(chan struct{})
	poke := r.pokeChan()
	go func() {
		defer close(exited)
		t := time.NewTicker(poll)
		defer t.Stop()
		last := time.Now()
		var quietUntil time.Time
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			case <-poke: // a signal was just stored (SignalStored)
			}
			if time.Now().After(quietUntil) {
				if err := r.takeSignals(ctx); err != nil {
					// The store is failing: do not add to its load.
					quietUntil = time.Now().Add(renewEvery)
				}
			}
			if sig, ok := r.takePending(terminateSignal); ok {
				cancel(&terminated{reason: sig.Reason})
				return
			}
			r.applyPauseSignals(ctx)
			r.applyVariableSignals(ctx) // eventhandler_variables.go
			r.applySkips(ctx)
			r.applyReopenSignals(ctx) // reopen_executing.go
			if time.Since(last) < renewEvery || time.Now().Before(quietUntil) {
				continue
			}
			last = time.Now()
			// Renewed, never taken anew for a run another process
			// ended and archived (its archive removed the lease).
			err := r.e.runs.RenewLease(ctx, r.id, r.e.newLease(), ttl)
			if errors.Is(err, runstore.ErrArchived) {
				r.endedElsewhere()
				return
			}
			if errors.Is(err, runstore.ErrLeased) {
				cancel(fmt.Errorf("%w: %v", ErrLeaseLost, err))
				return
			}
			if err != nil {
				quietUntil = time.Now().Add(renewEvery)
			}
		}
	}()
	return func() {
		close(done)
		<-exited
	}
}

// endedElsewhere records that the store holds the run archived while
// this process executes it (the lease keeper found it: lease.go): as for
// a write that found it so (write), nothing more of it is stored here and
// its execution stops; execute answers with the stored end.
func (r *runState) endedElsewhere() {
	r.mu.Lock()
	r.archived, r.archivedOutside = true, true
	stop := r.stopExec
	r.mu.Unlock()
	if stop != nil {
		stop(errArchivedOutside)
	}
}

// Terminate ends a RUNNING run with status TERMINATED, whichever process
// executes it: a run leased by a live process is ended by that process
// (asked through a signal, and waited for); an orphaned run (its process
// died) is ended here. Tasks still scheduled or running are cancelled, the
// run is archived, and its RUNNING sub-workflow runs are terminated too.
func (e *Engine) Terminate(ctx context.Context, id, reason string) error {
	return e.terminate(ctx, id, reason, nil)
}

// terminate is Terminate; prep, when set, changes the run loaded here
// (not one another runner holds) before it ends, under its lock.
func (e *Engine) terminate(ctx context.Context, id, reason string, prep func(*runState)) error {
	if reason == "" {
		reason = "terminated"
	}
	for {
		_, d, archived, err := e.loadRunDoc(ctx, id)
		if err != nil {
			return err
		}
		if archived || terminalWorkflow(d.Status) {
			return fmt.Errorf("%w: run %s ended with status %s", ErrNotRunning, id, d.Status)
		}
		if handled, err := e.terminateHere(ctx, id, reason, prep); handled {
			if err != nil {
				return err
			}
			return e.terminateChildren(ctx, id, reason)
		}
		sig := signal{Status: StatusTerminated, Reason: reason}
		sec, err := e.newRunSecrets(id, nil)
		if err != nil {
			return err
		}
		if err := sealSignalReason(sec, terminateSignal, &sig); err != nil {
			return err
		}
		payload, _ := json.Marshal(sig)
		if err := e.runs.PutSignal(ctx, id, terminateSignal, payload); err != nil {
			return err
		}
		e.signalStored(ctx, id)
		if err := e.waitEnded(ctx, id); err != nil {
			return err
		}
		if _, archived, err := e.runs.Load(ctx, id); err == nil && archived {
			return e.terminateChildren(ctx, id, reason)
		}
		// The holder let go without ending the run (it died or was
		// interrupted): end it here.
	}
}

// terminateHere ends run id here when no process executes it; handled is
// false when one does (ask it through a signal).
func (e *Engine) terminateHere(ctx context.Context, id, reason string, prep func(*runState)) (handled bool, err error) {
	taken, done, err := e.leaseOutside(ctx, id) // leasewindow.go
	defer done()
	if !taken {
		return err != nil, err
	}
	// Read again under the lease: the run may have ended since.
	doc, d, archived, err := e.loadRunDoc(ctx, id)
	if err == nil && (archived || terminalWorkflow(d.Status)) {
		err = fmt.Errorf("%w: run %s ended with status %s", ErrNotRunning, id, d.Status)
	}
	var r *runState
	if err == nil {
		r, err = e.loadDoc(ctx, id, doc, d, nil)
	}
	if err != nil {
		_ = e.runs.ReleaseLease(context.WithoutCancel(ctx), id, e.owner)
		return true, err
	}
	r.lease.held = true
	if prep != nil {
		r.mu.Lock()
		prep(r)
		r.mu.Unlock()
	}
	_, err = r.finish(ctx, &stopError{status: StatusTerminated, reason: reason})
	return true, err
}

// waitEnded waits until run id is archived or nobody holds its lease.
func (e *Engine) waitEnded(ctx context.Context, id string) error {
	for {
		if _, archived, err := e.runs.Load(ctx, id); err != nil || archived {
			return err
		}
		l, ok, err := e.runs.GetLease(ctx, id)
		if err != nil {
			return err
		}
		if !ok || !l.Live(time.Now()) {
			return nil
		}
		if err := sleepCtx(ctx, 50*time.Millisecond); err != nil {
			return err
		}
	}
}

func (e *Engine) terminateChildren(ctx context.Context, id, reason string) error {
	kids, err := e.runs.List(ctx, runstore.ListOptions{ParentID: id, Status: StatusRunning})
	if err != nil || len(kids) == 0 {
		return err
	}
	tasks := e.parentTasks(ctx, id)
	var errs []error
	for _, k := range kids {
		if e.childLeftRunning(ctx, id, tasks, k.ID) {
			continue
		}
		if err := e.Terminate(ctx, k.ID, "parent "+id+" terminated: "+reason); err != nil && !errors.Is(err, ErrNotRunning) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// parentTasks is the stored tasks of run id by task id, loaded once for
// all its children (none when it cannot be read: each child is then
// terminated).
func (e *Engine) parentTasks(ctx context.Context, id string) map[string]*taskDoc {
	doc, _, err := e.runs.Load(ctx, id)
	if err != nil {
		return nil
	}
	var p runDoc
	if json.Unmarshal(doc, &p) != nil {
		return nil
	}
	tasks := make(map[string]*taskDoc, len(p.Tasks))
	for i := range p.Tasks {
		tasks[p.Tasks[i].TaskID] = &p.Tasks[i] // the last of an id, as stored
	}
	return tasks
}

// childLeftRunning reports whether RUNNING child run kid of the
// terminated run parent, whose stored tasks by id are tasks
// (parentTasks), is left as it is: Conductor's termination cancels the
// SUB_WORKFLOW tasks that had not ended (cancelNonTerminalTasks), each
// terminating the child it names, or the one its id derives when it names
// none (SubWorkflow.cancel). So a child whose task had ended before (an
// update ended it, COMPLETED or FAILED, and the child ran on) is left
// running, and so is a child its task no longer names (an update named
// another of its children). A child whose task is not found is
// terminated.
func (e *Engine) childLeftRunning(ctx context.Context, parent string, tasks map[string]*taskDoc, kid string) bool {
	kdoc, _, err := e.runs.Load(ctx, kid)
	if err != nil {
		return false
	}
	var k runDoc
	if json.Unmarshal(kdoc, &k) != nil || k.ParentWorkflowID != parent {
		return false
	}
	task := tasks[k.ParentWorkflowTaskID]
	switch {
	case task == nil || task.TaskType != TypeSubWorkflow:
		return false
	case task.Status != TaskCanceled && terminalTask(task.Status):
		return true // it ended before the termination
	}
	return task.SubWorkflowID != "" && task.SubWorkflowID != kid
}

// OrphanedRuns lists the RUNNING runs that no live process executes (their
// lease expired, or their process died): Resume takes one over, and of
// several processes trying, one wins the lease and the others get
// runstore.ErrLeased.
func (e *Engine) OrphanedRuns(ctx context.Context) ([]runstore.Summary, error) {
	list, err := e.runs.List(ctx, runstore.ListOptions{Status: StatusRunning})
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := list[:0]
	for _, s := range list {
		if !s.Archived && (s.Lease == nil || !s.Lease.Live(now)) && !e.isActive(s.ID) {
			out = append(out, s)
		}
	}
	return out, nil
}

// DeleteRun removes an ended run from the store (wfrun runs rm). A run that
// has not ended is refused with runstore.ErrNotEnded. The idempotency key
// it held is free again (idempotency.go).
func (e *Engine) DeleteRun(ctx context.Context, id string) error {
	head, _, err := e.runs.Load(ctx, id)
	if err != nil {
		return err
	}
	if err := e.runs.Delete(ctx, id); err != nil {
		return err
	}
	return e.releaseDeletedKey(ctx, id, head)
}
