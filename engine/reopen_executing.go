package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
)

// A child that runs again while a process executes its parent (the usual
// case under `wfrun serve`) re-opens the parent's SUB_WORKFLOW task in that
// process, as Conductor's updateAndPushParents does whatever the parent's
// status: the restart stores the child (and any ended run between it and
// that parent) RUNNING, gives their leases to the parent's executor, and
// hands the re-open to it — directly when it is this engine, as a signal in
// the run store (reopenSignalPrefix, sealed for that run, that record and
// its re-open generation: reopenGens) when
// another process holds the parent's lease (its lease keeper takes signals
// at once when told over Redis, else about once a second). The executor
// puts the record back to IN_PROGRESS (same record, same child), re-opens
// with it the run's other SUB_WORKFLOW records that ended unsuccessfully,
// retrying their children in place (updateAndPushParents' siblings), and
// executes the children beside the run's other tasks, as a resumed run's
// replay would; the run ends only once they have. A signal is stored
// until taken, and an executor about to complete its run looks once at the
// children of its ended SUB_WORKFLOW records (noticeRunningChildren): a
// child left RUNNING by a restart whose process died before it handed the
// re-open over is picked up too.

// reopenSignalPrefix keys the signal that asks the process executing a run
// to re-open its SUB_WORKFLOW task (the task id follows).
const reopenSignalPrefix = "__wfrun_reopen "

// reopenSignalStatus is the status such a signal carries.
const reopenSignalStatus = "REOPEN"

// reopenSide is what a run this process executes keeps of the SUB_WORKFLOW
// records re-opened while it runs (guarded by r.mu).
type reopenSide struct {
	running map[string]chan struct{} // exact ref → closed once its child has ended
	reopens map[string]int           // exact ref → how many times it was re-opened
	gens    map[string]int           // record id → its re-open generation (reopenGens); replaced, never changed in place
	cancel  context.CancelCauseFunc  // ends the run's task list (execute)
	err     error                    // the first failure of a re-opened task
	closed  bool                     // the run is ending: nothing more is re-opened
	// failing: the ended records the run's task list has decided on, by
	// id: it stops on them (afterFailure) or retries them with a new
	// attempt (retryUnlessReopened). Not re-opened here: a child of one
	// that runs again re-opens the run once it has ended, as for an ended
	// parent, or runs alone once the retry is stored (it is no longer its
	// parent's latest attempt).
	failing map[string]bool
}

// reopenTarget is a SUB_WORKFLOW record to re-open in a run this process
// executes, and the child it runs again.
type reopenTarget struct{ taskID, child string }

// reopenExecuting re-opens, in the run this process executes, the
// SUB_WORKFLOW record taskID whose child (child) runs again, as
// updateAndPushParents does: with it, the run's other SUB_WORKFLOW records
// that ended unsuccessfully are re-opened too, each with its child (a
// child that runs, executed by no other live process, or one retried here
// because it ended with an unsuccessful task). The children execute beside
// the run's other tasks. False when the run takes nothing more (it is
// ending) or taskID is not a record to re-open (reopenableLocked); nothing
// is re-opened then.
func (r *runState) reopenExecuting(ctx context.Context, taskID, child, note string) bool {
	r.mu.Lock()
	ok := r.reopenableLocked(taskID, child, false)
	var sibs []subSibling
	if ok {
		for _, s := range r.siblingsLocked(taskID) {
			if rec := r.recordLocked(s.taskID); rec != nil && r.side.running[rec.Ref] == nil {
				sibs = append(sibs, s)
			}
		}
	}
	r.mu.Unlock()
	if !ok {
		return false
	}
	targets := []reopenTarget{{taskID, child}}
	var retried []string
	for _, s := range sibs {
		er, running, err := r.e.siblingChild(ctx, s.child)
		switch {
		case err != nil:
			// Left as it is (a child that cannot run again): the run
			// goes on as it would have without the re-open.
		case running:
			if r.e.childFree(ctx, s.child) {
				targets = append(targets, reopenTarget{s.taskID, s.child})
			}
		case er != nil:
			c, err := r.e.prepareRestart(ctx, er, false, "", nil)
			if err == nil {
				err = c.restoreRestarted(ctx)
			}
			if err == nil {
				targets = append(targets, reopenTarget{s.taskID, s.child})
				retried = append(retried, s.child)
			}
		}
	}
	opened := r.reopenTargets(ctx, targets, note)
	// A child retried for a record the run no longer re-opens (it is
	// ending, or the record moved on) ends, as the children of a run that
	// ends early do.
	for _, id := range retried {
		if !opened[id] {
			_ = r.e.terminate(context.WithoutCancel(ctx), id, "Parent workflow has ended", nil)
		}
	}
	return opened != nil
}

// recordLocked is the record taskID. Callers hold r.mu.
func (r *runState) recordLocked(taskID string) *taskRecord {
	for _, t := range r.tasks {
		if t.TaskID == taskID {
			return t
		}
	}
	return nil
}

// reopenableLocked: the run takes re-opens (it is not ending) and taskID,
// not a record its task list stops on (reopenSide.failing),
// is an ended latest attempt of a SUB_WORKFLOW task that started child and
// is not re-opened already, and that is not optional unless it is a
// sibling: updateAndPushParents stops at an optional task whose child runs
// again, but retries the parent's other unsuccessful SUB_WORKFLOW tasks
// whether they are optional or not (as reopenParents does for a parent
// that ended). Callers hold r.mu.
func (r *runState) reopenableLocked(taskID, child string, sibling bool) bool {
	if r.side.closed || r.side.failing[taskID] || r.side.cancel == nil || r.runCtx == nil || r.runCtx.Err() != nil {
		return false
	}
	rec := r.recordLocked(taskID)
	return rec != nil && r.byRef[rec.Ref] == rec && rec.TaskType == TypeSubWorkflow && rec.SubWorkflowID != "" && rec.SubWorkflowID == child &&
		terminalTask(rec.Status) && rec.wt != nil && (sibling || !rec.wt.Optional) && r.side.running[rec.Ref] == nil
}

// reopenTargets re-opens the targets at once, under one lock (a PAUSED run
// set RUNNING finds them all re-opened: none of its held failures fails
// it, failWhilePaused), and executes their children. False, and nothing
// re-opened, when the first target cannot be (reopenableLocked); a later
// one that cannot is left out. It returns the children of the records
// re-opened, nil when none is. The first target's execution log takes
// note (reopenNotes), when there is one, before any child runs: the run
// cannot have ended by then (an ended run's log takes no line).
func (r *runState) reopenTargets(ctx context.Context, targets []reopenTarget, note string) map[string]bool {
	type reopened struct {
		taskID, ref string
		wt          *WorkflowTask
		iter        int
		done        chan struct{}
	}
	r.mu.Lock()
	var recs []reopened
	opened := map[string]bool{}
	for i, t := range targets {
		if !r.reopenableLocked(t.taskID, t.child, i > 0) {
			if i == 0 {
				r.mu.Unlock()
				return nil
			}
			continue
		}
		opened[t.child] = true
		rec := r.recordLocked(t.taskID)
		rec.Status, rec.Reason, rec.End = TaskInProgress, "", 0
		r.touchLocked(rec)
		if r.side.running == nil {
			r.side.running = map[string]chan struct{}{}
		}
		done := make(chan struct{})
		r.side.running[rec.Ref] = done
		if r.side.reopens == nil {
			r.side.reopens = map[string]int{}
		}
		r.side.reopens[rec.Ref]++
		recs = append(recs, reopened{t.taskID, rec.Ref, rec.wt, rec.Iteration, done})
	}
	ids := make(map[string]bool, len(recs))
	for _, o := range recs {
		ids[o.taskID] = true
	}
	// A signal sealed before this re-open is stale from here on; the
	// counts are written with the records (a failure to seal them leaves
	// the stored ones, which this process does not read back).
	_ = r.bumpReopenGensLocked(ids)
	// Its workflow timeout counts from here (Conductor sets the parent's
	// lastRetriedTime).
	r.doc.LastRetriedTime = r.nowMillis()
	// A PAUSED run runs again too: updateAndPushParents sets the parent
	// RUNNING whatever its status.
	unpaused := r.doc.Status == StatusPaused
	if unpaused {
		r.unpauseLocked()
	}
	runCtx := r.runCtx
	r.mu.Unlock()
	if note != "" {
		// Its execution log says why (reopenNotes); the run waits for the
		// re-opened records (endSide), so it runs still.
		_ = r.e.AppendTaskLog(ctx, r.id, targets[0].taskID, note)
	}
	ctx = runCtx
	// A test run's children go on with their test as stored (mockstore.go).
	testDone := make([]func(), len(recs))
	for i, o := range recs {
		testDone[i] = r.test.reopenBeside(o.ref)
	}
	go func() {
		err := r.save(ctx)
		if err == nil && unpaused {
			r.emit(Event{Kind: EventWorkflow, Status: StatusRunning, Reason: "sub-workflow runs again"})
		}
		for i, o := range recs {
			go func() {
				defer testDone[i]()
				defer close(o.done)
				err := err
				if err == nil {
					r.emit(Event{Kind: EventTask, TaskRef: o.ref, TaskType: TypeSubWorkflow, TaskID: o.taskID, Status: TaskInProgress})
					err = r.execSubWorkflow(ctx, o.wt, strings.TrimPrefix(o.ref, o.wt.TaskReferenceName), o.iter)
				}
				r.reopenedEnded(o.ref, err)
			}()
		}
	}()
	return opened
}

// reopenedEnded records the end of the re-opened record ref's execution:
// its failure ends the run's task list, as a failed branch ends it.
func (r *runState) reopenedEnded(ref string, err error) {
	r.mu.Lock()
	delete(r.side.running, ref)
	var st *stopError
	if err != nil && (r.side.err == nil || (!errors.As(r.side.err, &st) && errors.As(err, &st))) {
		r.side.err = err
	}
	cancel := r.side.cancel
	r.mu.Unlock()
	if err != nil {
		cancel(err)
	}
}

// awaitReopened waits until no task the JOIN rec waits on is re-opened
// here: like Conductor's JOIN, it sees the re-opened task's new outcome.
func (r *runState) awaitReopened(ctx context.Context, wt *WorkflowTask, rec *taskRecord) {
	suffix := strings.TrimPrefix(rec.Ref, wt.TaskReferenceName)
	joinOn := r.joinList(wt, rec.Ref)
	for {
		r.mu.Lock()
		var wait chan struct{}
		var waitRef string
		for _, ref := range joinOn {
			if ch := r.side.running[ref+suffix]; ch != nil {
				wait, waitRef = ch, ref+suffix
				break
			}
		}
		r.mu.Unlock()
		if wait == nil {
			return
		}
		goOn := r.test.awaitBeside(waitRef) // a test's passes (mockstore.go)
		select {
		case <-wait:
			goOn()
		case <-ctx.Done():
			goOn()
			return
		}
	}
}

// reopenOrder is what a re-open signal asks: re-open record TaskID, whose
// child Child runs again. It travels sealed (reopenSignal).
type reopenOrder struct {
	TaskID string `json:"taskId"`
	Child  string `json:"child"`
	Gen    int    `json:"gen"`            // the record's re-open generation it is for (reopenGens)
	Note   string `json:"note,omitempty"` // for the task's execution log (reopenNotes)
}

// reopenSignal is the stored form of a re-open of run runID's record
// taskID for child: the order sealed for that run and that signal key (as
// an external completion is), with the record's re-open generation as
// stored now, so the executor takes only an order a process holding the
// run store's keyring wrote for this run and this record since its last
// re-open, never one edited, moved or put back in the store.
func (e *Engine) reopenSignal(ctx context.Context, runID, taskID, child, note string) ([]byte, error) {
	gen, err := e.reopenGen(ctx, runID, taskID)
	if err != nil {
		return nil, err
	}
	sec, err := e.newRunSecrets(runID, nil)
	if err != nil {
		return nil, err
	}
	plain, err := json.Marshal(reopenOrder{TaskID: taskID, Child: child, Gen: gen, Note: note})
	if err != nil {
		return nil, err
	}
	sealed, err := sec.SealCompletion(reopenSignalPrefix+taskID, plain)
	if err != nil {
		return nil, err
	}
	return json.Marshal(signal{Status: reopenSignalStatus, SealedOutput: sealed})
}

// applyReopenSignals re-opens the records the pending reopen signals name
// (the lease keeper calls it with each batch of signals). A signal counts
// only when its sealed order opens (takeSignals), names the record its key
// does and carries that record's current re-open generation; it is taken only while the child it names is stored RUNNING
// and executed by no other live process (a signal left over from a
// re-open that fell back, or one naming another child, would re-open an
// ended record). A signal the run cannot take is dropped: the process that
// sent it sees the record stay ended and re-opens the run once it has
// ended (handOff).
func (r *runState) applyReopenSignals(ctx context.Context) {
	r.mu.Lock()
	var orders []reopenOrder
	for k, s := range r.pending {
		if !strings.HasPrefix(k, reopenSignalPrefix) {
			continue
		}
		delete(r.pending, k)
		var o reopenOrder
		if s.Status != reopenSignalStatus || !s.opened || json.Unmarshal(s.Output, &o) != nil {
			continue
		}
		if o.TaskID == strings.TrimPrefix(k, reopenSignalPrefix) && o.Child != "" && o.Gen == r.side.gens[o.TaskID] {
			orders = append(orders, o)
		}
	}
	r.mu.Unlock()
	for _, o := range orders {
		r.reopenIfChildRuns(ctx, o.TaskID, o.Child, o.Note)
	}
}

// reopenIfChildRuns re-opens record taskID when its child is stored
// RUNNING and executed by no other live process.
func (r *runState) reopenIfChildRuns(ctx context.Context, taskID, child, note string) {
	status, archived, err := r.e.storedStatus(ctx, child)
	if err != nil || archived || status != StatusRunning || !r.e.childFree(ctx, child) {
		return
	}
	r.reopenExecuting(ctx, taskID, child, note)
}

// childFree: run child is executed neither here nor by another live
// process. A lease of this engine's that nothing here executes was given
// to it by a restart (handOff). A child this engine executes in the
// background (an update ended its SUB_WORKFLOW task while it ran: runChild
// adopts it before the task ends) is not free even before its execution
// marked it active: its parent's record, ended by that update, is not
// re-opened for it.
func (e *Engine) childFree(ctx context.Context, child string) bool {
	if e.isActive(child) || e.bg.has(child) {
		return false
	}
	l, held, err := e.runs.GetLease(ctx, child)
	return err == nil && !(held && l.Live(time.Now()) && l.Owner != e.owner)
}

// endSide waits, once the run's task list has returned with err, for the
// children of its re-opened records (cancelled first when the list
// failed), and returns the run's outcome: a re-opened task's failure is
// preferred over the cancellation it caused in the list. A list that
// completed looks first for children left RUNNING under its ended records
// (noticeRunningChildren). Nothing is re-opened afterwards.
func (r *runState) endSide(ctx context.Context, err error) error {
	noticed := false
	for {
		r.mu.Lock()
		cancel := r.side.cancel
		var wait chan struct{}
		var waitRef string
		for ref, ch := range r.side.running {
			wait, waitRef = ch, ref
			break
		}
		sideErr := r.side.err
		if wait == nil && (noticed || err != nil || sideErr != nil) {
			r.side.closed = true
			r.mu.Unlock()
			var st *stopError
			if sideErr != nil && (err == nil || (!errors.As(err, &st) && errors.As(sideErr, &st))) {
				return sideErr
			}
			return err
		}
		r.mu.Unlock()
		if wait == nil {
			noticed = true
			r.noticeRunningChildren(ctx)
			continue
		}
		if err != nil && cancel != nil {
			cancel(err)
		}
		goOn := r.test.awaitBeside(waitRef) // a test's passes (mockstore.go)
		<-wait
		goOn()
	}
}

// noticeRunningChildren re-opens the ended SUB_WORKFLOW records whose child
// is stored RUNNING and executed by no other live process: a child a
// restart stored RUNNING before the process that restarted it could hand
// the re-open over.
func (r *runState) noticeRunningChildren(ctx context.Context) {
	r.mu.Lock()
	type cand struct{ taskID, child string }
	var cands []cand
	for _, t := range r.tasks {
		if r.byRef[t.Ref] == t && t.TaskType == TypeSubWorkflow && t.SubWorkflowID != "" && terminalTask(t.Status) &&
			t.wt != nil && !t.wt.Optional {
			cands = append(cands, cand{t.TaskID, t.SubWorkflowID})
		}
	}
	r.mu.Unlock()
	for _, c := range cands {
		// A restart that did not get to deliver left it RUNNING.
		r.reopenIfChildRuns(ctx, c.taskID, c.child, "")
	}
}

// executedParentStep is the step for child's parent when a process
// executes that parent (this one or another) and the parent's stored
// record that started child is one to re-open (reopenableIn).
func (e *Engine) executedParentStep(ctx context.Context, child *runDoc, leased bool) (reopenStep, bool, error) {
	id := child.ParentWorkflowID
	if !leased && !e.isActive(id) {
		l, held, err := e.runs.GetLease(ctx, id)
		if err != nil {
			return reopenStep{}, false, err
		}
		if !held || !l.Live(time.Now()) {
			return reopenStep{}, false, nil
		}
	}
	ok, err := e.reopenableIn(ctx, id, child.ParentWorkflowTaskID, child.WorkflowID)
	if err != nil || !ok {
		return reopenStep{}, false, err
	}
	return reopenStep{executed: true, parentID: id, taskID: child.ParentWorkflowTaskID}, true, nil
}

// reopenableIn reports whether run id, as stored, is RUNNING or PAUSED with the
// record taskID an ended latest attempt of a SUB_WORKFLOW task that is not
// optional and that started child. A run that has ended (archived, or its
// status terminal) is errParentEnded: the walk that found it running reads
// it again, as an ended parent to re-open (its execution here may not have
// let go yet, which loadEnded waits for).
func (e *Engine) reopenableIn(ctx context.Context, id, taskID, child string) (bool, error) {
	doc, archived, err := e.runs.Load(ctx, id)
	if errors.Is(err, runstore.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if archived {
		return false, errParentEnded
	}
	var d runDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return false, fmt.Errorf("run %s: damaged document: %w", id, err)
	}
	if terminalWorkflow(d.Status) {
		return false, errParentEnded
	}
	return e.reopenableDoc(&d, taskID, child)
}

// loadLive loads run id's document; nil when it is gone or archived.
func (e *Engine) loadLive(ctx context.Context, id string) (*runDoc, error) {
	doc, archived, err := e.runs.Load(ctx, id)
	if errors.Is(err, runstore.ErrNotFound) {
		return nil, nil
	}
	if err != nil || archived {
		return nil, err
	}
	var d runDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("run %s: damaged document: %w", id, err)
	}
	return &d, nil
}

// reopenableDoc is reopenableIn for a loaded document.
func (e *Engine) reopenableDoc(d *runDoc, taskID, child string) (bool, error) {
	if d.Status != StatusRunning && d.Status != StatusPaused {
		return false, nil
	}
	sub := latestRecord(d, taskID)
	if sub == nil || sub.TaskType != TypeSubWorkflow || sub.SubWorkflowID != child || !terminalTask(sub.Status) {
		return false, nil
	}
	def, err := e.Parse(d.WorkflowDefinition)
	if err != nil {
		return false, fmt.Errorf("run %s: stored definition: %w", d.WorkflowID, err)
	}
	wt, ok := def.Task(baseRef(sub.ReferenceTaskName))
	return ok && !wt.Optional, nil
}

// latestRecord is the record taskID of d when it is its reference's latest
// attempt (no later record has its reference), else nil.
func latestRecord(d *runDoc, taskID string) *taskDoc {
	var sub *taskDoc
	for i := range d.Tasks {
		t := &d.Tasks[i]
		if sub != nil && t.ReferenceTaskName == sub.ReferenceTaskName {
			return nil
		}
		if t.TaskID == taskID {
			sub = t
		}
	}
	return sub
}

// handOff hands the re-open of h's record to the process executing its
// parent, once top (the topmost run stored RUNNING under it: the child, or
// the highest ended parent re-opened) and the runs below it are stored. Their
// leases go to that process (so no process takes them over as orphans
// meanwhile), the re-open is delivered, and handOff waits until it is taken
// (top executes or has ended, or the record is IN_PROGRESS again). When the
// parent ends or no process executes it any more before that, the re-open
// falls back to what parentsToReopen decides from top now (taken is false;
// top's lease is held here again).
func (e *Engine) handOff(ctx context.Context, h reopenStep, top *runState, stored []*runState, note string) (next []reopenStep, taken bool, err error) {
	owner := e.owner
	if !e.isActive(h.parentID) {
		l, held, err := e.runs.GetLease(ctx, h.parentID)
		if err != nil {
			return nil, false, err
		}
		if held && l.Live(time.Now()) {
			owner = l.Owner
		}
	}
	if owner != e.owner {
		for _, s := range stored {
			s.transferLease(ctx, owner)
		}
	}
	sent := false
	for {
		if e.isActive(top.id) {
			return nil, true, nil
		}
		if d, err := e.loadLive(ctx, top.id); err != nil {
			return nil, false, err
		} else if d == nil || d.Status != StatusRunning {
			return nil, true, nil // it ran and ended, or was ended
		}
		step := 100 * time.Millisecond
		executed := false
		if p := e.executing(h.parentID); p != nil {
			if p.reopenExecuting(ctx, h.taskID, top.id, note) {
				return nil, true, nil
			}
			executed, step = true, 10*time.Millisecond
		} else if e.isActive(h.parentID) {
			executed, step = true, 10*time.Millisecond // starting or ending here
		} else {
			l, held, err := e.runs.GetLease(ctx, h.parentID)
			if err != nil {
				return nil, false, err
			}
			executed = held && l.Live(time.Now())
			if executed && !sent {
				payload, err := e.reopenSignal(ctx, h.parentID, h.taskID, top.id, note)
				if err != nil {
					return nil, false, err
				}
				if err := e.runs.PutSignal(ctx, h.parentID, reopenSignalPrefix+h.taskID, payload); err != nil {
					return nil, false, err
				}
				e.signalStored(ctx, h.parentID)
				sent = true
			}
		}
		reopened, reopenable, err := e.recordState(ctx, h.parentID, h.taskID, top.id)
		if err != nil {
			return nil, false, err
		}
		if reopened {
			return nil, true, nil
		}
		if !executed || !reopenable {
			// Its parent ended, or stopped being executed, or moved on:
			// what to re-open is decided again from top, once its lease is
			// here again (a lease given to a process that died expires).
			err := top.acquireLease(ctx)
			var le *runstore.LeasedError
			switch {
			case errors.As(err, &le) && le.Holder.Owner != owner:
				return nil, true, nil // another process executes it
			case err == nil:
				// top may have run and ended since it was looked at (its
				// lease is free again then): the re-open was taken, and
				// its parents, ended with it, are not re-opened again.
				if d, err := e.loadLive(ctx, top.id); err != nil || d == nil || d.Status != StatusRunning {
					top.releaseLease(ctx)
					return nil, err == nil, err
				}
				next, err := e.parentsToReopen(ctx, &top.doc)
				return next, false, err
			case !errors.Is(err, runstore.ErrLeased):
				return nil, false, err
			}
		}
		if err := sleepCtx(ctx, step); err != nil {
			return nil, false, err
		}
	}
}

// transferLease gives the lease of stored run r, held here, to the
// process owner: that process executes it next.
func (r *runState) transferLease(ctx context.Context, owner string) {
	r.releaseLease(ctx)
	_ = r.e.runs.AcquireLease(ctx, r.id, runstore.NewLease(owner), r.e.leaseTTL)
}

// recordState reads run id's record taskID as stored: reopened when it is
// unfinished with child, reopenable as reopenableIn says.
func (e *Engine) recordState(ctx context.Context, id, taskID, child string) (reopened, reopenable bool, err error) {
	d, err := e.loadLive(ctx, id)
	if d == nil || err != nil {
		return false, false, err
	}
	if sub := latestRecord(d, taskID); sub != nil && d.Status == StatusRunning && sub.SubWorkflowID == child && !terminalTask(sub.Status) {
		return true, false, nil
	}
	ok, err := e.reopenableDoc(d, taskID, child)
	return false, ok, err
}

// awaitEnd waits for run id, executed by another run's executor, to end,
// and returns its Result.
func (e *Engine) awaitEnd(ctx context.Context, id string) (*Result, error) {
	for {
		status, _, err := e.storedStatus(ctx, id)
		if err != nil {
			return nil, err
		}
		if terminalWorkflow(status) {
			return e.resultOf(ctx, id)
		}
		step := 100 * time.Millisecond
		if e.isActive(id) {
			step = 10 * time.Millisecond
		}
		if err := sleepCtx(ctx, step); err != nil {
			return &Result{RunID: id, Status: StatusRunning}, fmt.Errorf("%w: run %s runs on in the process that executes its parent", ErrInterrupted, id)
		}
	}
}

// Executes reports whether this engine executes run id now. A serve process
// waiting for another process to take a run it restarted (handOff) does
// not: answers for that run's tasks go to the process that executes it.
func (e *Engine) Executes(id string) bool { return e.isActive(id) }

// storedStatus is run id's status as stored, read from its summary when the
// store answers one (runstore.SummaryReader), else from its document. It
// decides only when to look again: what a run holds is read from its
// document.
func (e *Engine) storedStatus(ctx context.Context, id string) (status string, archived bool, err error) {
	if sr, ok := e.runs.(runstore.SummaryReader); ok {
		sum, err := sr.Summary(ctx, id)
		if err == nil {
			return sum.Status, sum.Archived, nil
		}
		if !errors.Is(err, runstore.ErrNotFound) {
			return "", false, err
		}
	}
	doc, archived, err := e.runs.Load(ctx, id)
	if err != nil {
		return "", false, err
	}
	var head struct {
		Status string `json:"status"`
	}
	if err := json.Unmarshal(doc, &head); err != nil {
		return "", false, fmt.Errorf("run %s: damaged document: %w", id, err)
	}
	return head.Status, archived, nil
}
