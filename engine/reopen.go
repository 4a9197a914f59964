package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"

	"github.com/wfrun/wfrun/engine/runstore"
)

// A child run that runs again (retry, restart, rerun) re-opens its parent,
// ended (FAILED by the child, or COMPLETED) or still running or PAUSED
// (runningParentToReopen), as
// Conductor's updateAndPushParents does: the parent's SUB_WORKFLOW task goes back to
// IN_PROGRESS (same record, same child), the parent to RUNNING (a PAUSED
// parent too: it is no longer paused), its other SUB_WORKFLOW tasks that
// ended unsuccessfully are re-opened with it, their children retried in
// place (siblingsToRetry, whatever the parent's status), and so on up the
// chain; when the child ends, the parent goes on from there. The
// topmost re-opened run executes: its replay reaches the SUB_WORKFLOW task,
// loads the child and runs it, exactly as a resume after a crash does, so
// each run's masker is rebuilt as on resume.

// maxSubWorkflowDepth bounds the walks up and down a run's sub-workflows
// (a stored parent link is data: a cycle must not loop for ever).
const maxSubWorkflowDepth = 64

// reopenStep is a parent to re-open and its SUB_WORKFLOW task.
type reopenStep struct {
	run    *endedRun
	taskID string
	// running is set instead of run for a parent that still runs and that
	// no process executes: loaded, its lease held by this engine from
	// parentsToReopen on (runningParentToReopen).
	running *runState
	// executed is set instead for a parent that a process executes (this
	// one or another): the re-open is handed to it (reopen_executing.go).
	executed bool
	parentID string
}

// parentsToReopen walks up from an ended run: each parent that ended, whose
// SUB_WORKFLOW record that started this child is its latest attempt and is
// not optional, is re-opened, whatever the parent's status and the
// record's: Conductor's updateAndPushParents stops only at an optional
// task and at a task a retry has superseded, so a COMPLETED parent of a
// restarted or rerun child runs again too. Nearest first.
func (e *Engine) parentsToReopen(ctx context.Context, d *runDoc) ([]reopenStep, error) {
	var steps []reopenStep
	cur := d
	ended := 0
	for depth := 0; cur.ParentWorkflowID != "" && depth < maxSubWorkflowDepth; depth++ {
		pr, err := e.loadEnded(ctx, cur.ParentWorkflowID)
		if errors.Is(err, ErrStillRunning) {
			// A parent that runs still re-opens its task too; the walk
			// stops there (its own parent waits on it).
			s, err := e.runningParentToReopen(ctx, cur)
			if errors.Is(err, errParentEnded) && ended < 3 {
				// It ended since it was read: looked at again, ended.
				ended++
				depth--
				continue
			}
			if err != nil {
				return nil, err
			}
			if s.running != nil || s.executed {
				steps = append(steps, s)
			}
			break
		}
		if errors.Is(err, runstore.ErrNotFound) {
			break
		}
		if err != nil {
			return nil, err
		}
		// The latest attempt only: a retry superseded an earlier one. A
		// task that names no child (an update IN_PROGRESS detached it) is
		// re-opened too: updateAndPushParents finds the task by the
		// child's parentWorkflowTaskId, whatever child it names.
		sub := latestRecord(&pr.d, cur.ParentWorkflowTaskID)
		if sub == nil || sub.TaskType != TypeSubWorkflow || (sub.SubWorkflowID != cur.WorkflowID && sub.SubWorkflowID != "") {
			break
		}
		def, err := e.Parse(pr.d.WorkflowDefinition)
		if err != nil {
			return nil, fmt.Errorf("run %s: stored definition: %w", pr.id, err)
		}
		if wt, ok := def.Task(baseRef(sub.ReferenceTaskName)); ok && wt.Optional {
			break
		}
		if err := e.checkArchived(pr, false, false, false); err != nil {
			return nil, err
		}
		steps = append(steps, reopenStep{run: pr, taskID: sub.TaskID})
		cur = &pr.d
	}
	return steps, nil
}

// errParentEnded: the parent that runningParentToReopen looked at ended
// meanwhile (parentsToReopen reads it again).
var errParentEnded = errors.New("the parent ended meanwhile")

// runningParentToReopen is the step for child's parent when that parent
// still runs or is PAUSED (Conductor's updateAndPushParents re-opens the task whatever
// the parent's status): when no process executes it, this engine takes
// its lease and loads it, and the step re-opens its SUB_WORKFLOW task that
// started child, an ended latest attempt of a task that is not optional.
// A parent that a process executes (this one or another) gets an executed
// step: the re-open is handed to that process (handOff).
func (e *Engine) runningParentToReopen(ctx context.Context, child *runDoc) (reopenStep, error) {
	id := child.ParentWorkflowID
	if s, ok, err := e.executedParentStep(ctx, child, false); err != nil || ok {
		return s, err
	}
	if e.isActive(id) {
		return reopenStep{}, nil
	}
	if err := e.runs.AcquireLease(ctx, id, e.newLease(), e.leaseTTL); err != nil {
		if errors.Is(err, runstore.ErrLeased) {
			s, _, err := e.executedParentStep(ctx, child, true)
			return s, err
		}
		return reopenStep{}, err
	}
	r, err := e.load(ctx, id, false, nil)
	if err != nil {
		_ = e.runs.ReleaseLease(context.WithoutCancel(ctx), id, e.owner)
		if errors.Is(err, ErrNotRunning) {
			// Its executor ended it and let go since it was read.
			err = fmt.Errorf("%w: %w", errParentEnded, err)
		}
		return reopenStep{}, err
	}
	r.lease.held = true
	r.mu.Lock()
	var sub *taskRecord
	for _, t := range r.tasks {
		if t.TaskID == child.ParentWorkflowTaskID {
			sub = t
		}
	}
	ok := (r.doc.Status == StatusRunning || r.doc.Status == StatusPaused) && sub != nil && r.byRef[sub.Ref] == sub && sub.TaskType == TypeSubWorkflow &&
		sub.SubWorkflowID == child.WorkflowID && terminalTask(sub.Status)
	if ok {
		if wt, found := r.def.Task(baseRef(sub.Ref)); found && wt.Optional {
			ok = false
		}
	}
	r.mu.Unlock()
	if !ok {
		_ = e.runs.ReleaseLease(context.WithoutCancel(ctx), id, e.owner)
		return reopenStep{}, nil
	}
	return reopenStep{running: r, taskID: sub.TaskID}, nil
}

// releaseReopened lets go of the running parents parentsToReopen took when
// they are not executed after all (an error on the way).
func (e *Engine) releaseReopened(ctx context.Context, steps []reopenStep) {
	for _, s := range steps {
		if s.running != nil {
			_ = e.runs.ReleaseLease(context.WithoutCancel(ctx), s.running.id, e.owner)
		}
	}
}

// reopenRunning re-opens a running parent's SUB_WORKFLOW tasks in place
// (reopen: the one whose child runs again and the siblings retried with
// it): the same records IN_PROGRESS with the same children, stored; the
// parent then executes as on resume and its replay runs the children.
func (r *runState) reopenRunning(ctx context.Context, reopen map[string]bool) error {
	r.mu.Lock()
	for _, t := range r.tasks {
		if reopen[t.TaskID] {
			t.Status, t.Reason, t.End = TaskInProgress, "", 0
			r.touchLocked(t)
		}
	}
	r.reopenTasksLocked(reopen) // a test run's children (mockstore.go)
	r.doc.LastRetriedTime = r.nowMillis()
	if err := r.bumpReopenGensLocked(reopen); err != nil {
		r.mu.Unlock()
		return err
	}
	// One inside a DO_WHILE that completed: the replay goes through its
	// iteration again to reach it (rerun.go).
	if err := r.reopenedInCompletedLoopsLocked(reopen); err != nil {
		r.mu.Unlock()
		return err
	}
	// A PAUSED parent runs again too, as updateAndPushParents sets it.
	unpaused := r.doc.Status == StatusPaused
	if unpaused {
		r.unpauseLocked()
	}
	r.mu.Unlock()
	if unpaused {
		r.emit(Event{Kind: EventWorkflow, Status: StatusRunning, Reason: "sub-workflow runs again"})
	}
	if err := r.save(ctx); err != nil {
		return err
	}
	// What was delivered while no process ran it, as Resume takes it.
	return r.takeSignals(ctx)
}

// reopenParents stores each parent RUNNING again, its SUB_WORKFLOW task
// IN_PROGRESS and its other records as a retry leaves them, nearest
// first, and returns the topmost one, ready to execute, and every run it
// stored (the parents, and the siblings it retries).
func (e *Engine) reopenParents(ctx context.Context, steps []reopenStep, o *RerunOptions) (top *runState, stored []*runState, err error) {
	for _, s := range steps {
		if s.running != nil {
			// Its other unsuccessful SUB_WORKFLOW tasks are retried too,
			// whatever its status (updateAndPushParents).
			s.running.mu.Lock()
			sibs := s.running.siblingsLocked(s.taskID)
			s.running.mu.Unlock()
			reopen := map[string]bool{s.taskID: true}
			siblings, err := e.siblingsToRetry(ctx, sibs, reopen)
			if err != nil {
				return nil, nil, err
			}
			if err := s.running.reopenRunning(ctx, reopen); err != nil {
				return nil, nil, err
			}
			top = s.running
			stored = append(stored, top)
			for _, c := range siblings {
				if err := c.restoreRestarted(ctx); err != nil {
					return nil, nil, err
				}
				stored = append(stored, c)
			}
			continue
		}
		r, err := e.loadDoc(ctx, s.run.id, s.run.doc, &s.run.d, nil)
		if err != nil {
			return nil, nil, err
		}
		if o != nil && o.ancestor != nil && o.ancestor.id == s.run.id {
			a := o.ancestor
			if err := r.applyRerun(&RerunOptions{WorkflowInput: a.input, CorrelationID: a.correlationID}, "", "", nil, "", nil, nil); err != nil {
				return nil, nil, err
			}
		}
		reopen := map[string]bool{s.taskID: true}
		siblings, err := e.siblingsToRetry(ctx, docSiblings(&s.run.d, s.taskID), reopen)
		if err != nil {
			return nil, nil, err
		}
		r.mu.Lock()
		r.reopenHeadLocked()
		r.retainForRetryLocked(reopen)
		r.reopenTasksLocked(reopen) // a test run's children (mockstore.go)
		// Its workflow timeout counts from here (Conductor sets the
		// parent's lastRetriedTime).
		r.doc.LastRetriedTime = r.nowMillis()
		r.rescheduleCancelledLocked()
		failing := r.keptFailureLocked()
		kept := r.keptPermissiveLocked()
		err = r.bumpReopenGensLocked(reopen)
		if err == nil && failing == nil {
			// A re-opened task inside a DO_WHILE that completed: its
			// iteration is gone through again (rerun.go). Not when the
			// run fails again at once (failReopened): nothing runs.
			err = r.reopenedInCompletedLoopsLocked(reopen)
		}
		r.mu.Unlock()
		if err != nil {
			return nil, nil, err
		}
		if failing != nil || len(kept) > 0 {
			k := reopenKept{Kept: kept}
			if failing != nil {
				k.Fail = failing.TaskID
			}
			if err := r.keepReopenFailure(k); err != nil {
				return nil, nil, err
			}
		}
		if err := r.restore(ctx); err != nil {
			return nil, nil, err
		}
		r.emit(Event{Kind: EventWorkflow, Status: StatusRunning, Reason: "sub-workflow runs again"})
		// After the parent, as the child that started the re-opening.
		stored = append(stored, r)
		for _, c := range siblings {
			if err := c.restoreRestarted(ctx); err != nil {
				return nil, nil, err
			}
			stored = append(stored, c)
		}
		top = r
	}
	return top, stored, nil
}

// subSibling is a parent's SUB_WORKFLOW record that updateAndPushParents
// looks at when it re-opens the parent: the latest attempt of its
// reference, ended unsuccessfully (FAILED, TIMED_OUT, CANCELED), with a
// child.
type subSibling struct{ taskID, child string }

// docSiblings lists d's SUB_WORKFLOW records other than taskID that
// updateAndPushParents retries (subSibling).
func docSiblings(d *runDoc, taskID string) []subSibling {
	// A record is superseded when a later one has its reference (a retry).
	last := make(map[string]int, len(d.Tasks))
	for i := range d.Tasks {
		last[d.Tasks[i].ReferenceTaskName] = i
	}
	var out []subSibling
	for i := range d.Tasks {
		t := &d.Tasks[i]
		if t.TaskID != taskID && last[t.ReferenceTaskName] == i && unsuccessfulSub(t.TaskType, t.Status, t.SubWorkflowID) {
			out = append(out, subSibling{t.TaskID, t.SubWorkflowID})
		}
	}
	return out
}

// siblingsLocked is docSiblings for a loaded run. Callers hold r.mu.
func (r *runState) siblingsLocked(taskID string) []subSibling {
	var out []subSibling
	for _, t := range r.tasks {
		if t.TaskID != taskID && r.byRef[t.Ref] == t && unsuccessfulSub(t.TaskType, t.Status, t.SubWorkflowID) {
			out = append(out, subSibling{t.TaskID, t.SubWorkflowID})
		}
	}
	return out
}

func unsuccessfulSub(taskType, status, child string) bool {
	return taskType == TypeSubWorkflow && child != "" && terminalTask(status) && !successfulTask(status)
}

// siblingsToRetry is what Conductor's updateAndPushParents does to the
// parent's other SUB_WORKFLOW tasks that ended unsuccessfully (a FORK
// branch that failed too, or was cancelled when the run failed), whatever
// the parent's status: when the latest attempt's child still runs, or
// ended with an unsuccessful task, the record is re-opened (added to
// reopen) and its child retried in place rather than replaced. It returns
// the children prepared for the retry (stored by the caller).
func (e *Engine) siblingsToRetry(ctx context.Context, sibs []subSibling, reopen map[string]bool) ([]*runState, error) {
	var out []*runState
	for _, s := range sibs {
		er, running, err := e.siblingChild(ctx, s.child)
		if err != nil {
			return nil, err
		}
		if running {
			reopen[s.taskID] = true // it runs: the parent's replay joins it
			continue
		}
		if er == nil {
			continue
		}
		c, err := e.prepareRestart(ctx, er, false, "", nil)
		if err != nil {
			return nil, err
		}
		reopen[s.taskID] = true
		out = append(out, c)
	}
	return out, nil
}

// siblingChild loads a sibling's child: running when it has not ended; er
// when it ended with an unsuccessful task (or terminated between tasks:
// terminatedBetweenTasks) and can be retried; neither when
// it is gone or ended without one (updateAndPushParents leaves it).
func (e *Engine) siblingChild(ctx context.Context, id string) (er *endedRun, running bool, err error) {
	doc, archived, err := e.runs.Load(ctx, id)
	if errors.Is(err, runstore.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	er = &endedRun{id: id, doc: doc, archived: archived}
	if err := json.Unmarshal(doc, &er.d); err != nil {
		return nil, false, fmt.Errorf("run %s: damaged document: %w", id, err)
	}
	if !terminalWorkflow(er.d.Status) {
		return nil, true, nil
	}
	unsuccessful := terminatedBetweenTasks(&er.d)
	for j := range er.d.Tasks {
		unsuccessful = unsuccessful || (terminalTask(er.d.Tasks[j].Status) && !successfulTask(er.d.Tasks[j].Status))
	}
	if !unsuccessful {
		return nil, false, nil
	}
	if er, err = e.ended(ctx, er); err != nil {
		return nil, false, err
	}
	if err := e.checkArchived(er, false, true, false); err != nil {
		return nil, false, err
	}
	return er, false, nil
}

// terminatedBetweenTasks: run d was terminated (its parent failed, or a
// Terminate) before its replay recorded the task it was about to run: no
// task at all yet, or only tasks that succeeded, and no TERMINATE task that
// ended it. Conductor's child has that task already, SCHEDULED when the
// child started or when the task before it completed (the decider
// schedules the next task at once), so its termination left it CANCELED
// and updateAndPushParents retries the child; wfrun records the task only
// when the replay reaches it, and the child retried here runs it then.
func terminatedBetweenTasks(d *runDoc) bool {
	if d.Status != StatusTerminated {
		return false
	}
	for j := range d.Tasks {
		t := &d.Tasks[j]
		if t.TaskType == TypeTerminate || !successfulTask(t.Status) {
			return false
		}
	}
	return true
}

// childHoldingTask finds, down the run's sub-workflows (latest attempts of
// its SUB_WORKFLOW tasks), the child run that has the task taskID.
func (e *Engine) childHoldingTask(ctx context.Context, d *runDoc, taskID string, depth int) (string, error) {
	if depth >= maxSubWorkflowDepth {
		return "", nil
	}
	for i := range d.Tasks {
		t := &d.Tasks[i]
		if t.TaskType != TypeSubWorkflow || t.SubWorkflowID == "" {
			continue
		}
		doc, _, err := e.runs.Load(ctx, t.SubWorkflowID)
		if errors.Is(err, runstore.ErrNotFound) {
			continue
		}
		if err != nil {
			return "", err
		}
		var cd runDoc
		if err := json.Unmarshal(doc, &cd); err != nil {
			return "", fmt.Errorf("run %s: damaged document: %w", t.SubWorkflowID, err)
		}
		for j := range cd.Tasks {
			if cd.Tasks[j].TaskID == taskID {
				return t.SubWorkflowID, nil
			}
		}
		if id, err := e.childHoldingTask(ctx, &cd, taskID, depth+1); id != "" || err != nil {
			return id, err
		}
	}
	return "", nil
}

// Retry retries an ended run from its failed tasks (Restart with
// fromStart false). With resumeSubworkflowTasks, as Conductor's retry with
// that flag, the retry goes down to where the failure started: while the
// run's first unsuccessful task is a SUB_WORKFLOW, its child is retried
// instead, which re-opens the runs above it (their SUB_WORKFLOW tasks keep
// their child). The Result is the run id's.
func (e *Engine) Retry(ctx context.Context, id string, resumeSubworkflowTasks bool) (*Result, error) {
	if !resumeSubworkflowTasks {
		return e.Restart(ctx, id, false)
	}
	target := id
	er, err := e.loadEnded(ctx, target)
	if err != nil {
		return nil, err
	}
	for depth := 0; depth < maxSubWorkflowDepth; depth++ {
		next := failedSubWorkflowToResume(&er.d) // retrytarget.go
		if next == "" {
			break
		}
		child, err := e.loadEnded(ctx, next)
		if err != nil {
			break // the child is gone or runs: retry this run
		}
		target, er = next, child
	}
	res, err := e.Restart(ctx, target, false)
	if err != nil || target == id {
		return res, err
	}
	return e.resultOf(ctx, id)
}

// restoreParentInput gives a child that runs again under its re-opened
// parent the input the parent's task resolved for it now, when archiving
// dropped the child's sealed input: what its stored input keeps are the
// parent's secret references, never their values. A child whose input a
// rerun replaced keeps that input.
func (c *runState) restoreParentInput(input, refs []byte) error {
	c.mu.Lock()
	sealed, cur := c.doc.SealedInput, c.doc.Input
	c.mu.Unlock()
	if sealed != "" {
		return nil
	}
	// Compared as shown: archiving replaced the stored input's `_secrets`
	// by "***", as a view does.
	mem, _, err := c.sec.Protect(refs, "/input")
	if err != nil {
		return nil
	}
	a, err1 := c.sec.ViewMember("input", mem)
	b, err2 := c.sec.ViewMember("input", cur)
	if err1 != nil || err2 != nil || !equalJSON(a, b) {
		return nil
	}
	if err := c.setInput(input); err != nil {
		return err
	}
	return c.keepReferenceInput(input, refs)
}

func equalJSON(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// Conductor's updateAndPushParents leaves a re-opened parent's failed
// tasks other than SUB_WORKFLOW as they are (it re-opens SUB_WORKFLOW
// tasks and reschedules cancelled ones only). The task that failed the
// parent was never marked executed, so the parent's first decide hands it
// to retry() again: a new attempt when its retries allow one, else the
// parent fails again at once with that task, and cancelling its
// SUB_WORKFLOW tasks terminates the children that were about to run
// again. keptFailureLocked finds that task; the re-opened parent keeps its
// id, sealed, until it executes (a crash in between keeps it too), and
// failReopened ends it. Callers hold r.mu.
func (r *runState) keptFailureLocked() *taskRecord {
	for _, t := range r.tasks {
		if r.byRef[t.Ref] != t || t.TaskType == TypeSubWorkflow || !retriedAsNewAttempt(t) || t.Status == TaskCanceled {
			continue
		}
		if t.wt != nil && (t.wt.Optional || t.wt.Permissive) {
			continue
		}
		retriable := t.Status == TaskFailed || t.Status == TaskTimedOut
		if retriable && t.wt != nil && !builtIn(t.wt.Type) && t.RetryCount < r.policy(t.wt).retryCount {
			continue // retry() schedules a new attempt: the replay does
		}
		return t
	}
	return nil
}

// rescheduleCancelledLocked is updateAndPushParents' treatment of a
// re-opened parent's CANCELED tasks (other than SUB_WORKFLOW, JOIN and
// DO_WHILE, which retainForRetryLocked re-opens): the record itself is
// SCHEDULED again with retryCount + 1, and the replay runs it as the
// unfinished record it now is. Callers hold r.mu.
func (r *runState) rescheduleCancelledLocked() {
	now := r.nowMillis()
	for _, t := range r.tasks {
		if r.byRef[t.Ref] != t || t.Status != TaskCanceled || t.TaskType == TypeSubWorkflow || !retriedAsNewAttempt(t) {
			continue
		}
		t.Status, t.Reason, t.RetryCount = TaskScheduled, "", t.RetryCount+1
		t.Scheduled, t.Start, t.End = now, 0, 0
		r.touchLocked(t)
	}
}

// keptPermissiveLocked lists the re-opened parent's permissive tasks that
// ended unsuccessfully: Conductor's decider marked them executed when the
// run went on past them, so a re-opened parent neither retries nor runs
// them again; they stay as they are and fail the parent (its JOIN, or its
// completion) again. Callers hold r.mu.
func (r *runState) keptPermissiveLocked() []string {
	var ids []string
	for _, t := range r.tasks {
		if r.byRef[t.Ref] != t || t.TaskType == TypeSubWorkflow || !retriedAsNewAttempt(t) || t.Status == TaskCanceled {
			continue
		}
		if t.wt != nil && t.wt.Permissive && !t.wt.Optional {
			ids = append(ids, t.TaskID)
		}
	}
	return ids
}

// reopenKept is what a re-opened parent keeps (sealed, as reopenFailure)
// until it ends: the task that fails it at its first step, and the
// permissive failed tasks that stay as they are. Gens counts, by record
// id, the times the run re-opened a SUB_WORKFLOW record (reopenGens); it
// is kept for the life of the run.
type reopenKept struct {
	Fail string         `json:"fail,omitempty"`
	Kept []string       `json:"kept,omitempty"`
	Gens map[string]int `json:"gens,omitempty"`
	// Retry lists the ended attempts a retry of the run asked to run
	// again (resume.go): kept until the run is retried, restarted or
	// rerun again.
	Retry []string `json:"retry,omitempty"`
}

// reopenFailurePointer binds a run's sealed reopenFailure.
const reopenFailurePointer = "/reopenFailure"

func (r *runState) keepReopenFailure(k reopenKept) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	k.Gens = r.side.gens
	k.Retry = retryIDsLocked(r)
	r.setReopenKeptLocked(k)
	return r.sealReopenKeptLocked()
}

func (r *runState) setReopenKeptLocked(k reopenKept) {
	r.reopenFailure, r.reopenKept, r.side.gens = k.Fail, nil, k.Gens
	r.retryAsked = nil
	for _, id := range k.Retry {
		if r.retryAsked == nil {
			r.retryAsked = map[string]bool{}
		}
		r.retryAsked[id] = true
	}
	for _, id := range k.Kept {
		if r.reopenKept == nil {
			r.reopenKept = map[string]bool{}
		}
		r.reopenKept[id] = true
	}
}

// sealReopenKeptLocked stores what the run keeps (reopenKept) sealed in
// its head, for its next write. Callers hold r.mu.
func (r *runState) sealReopenKeptLocked() error {
	k := reopenKept{Fail: r.reopenFailure, Gens: r.side.gens, Retry: retryIDsLocked(r)}
	for _, t := range r.tasks {
		if r.reopenKept[t.TaskID] {
			k.Kept = append(k.Kept, t.TaskID)
		}
	}
	if k.Fail == "" && len(k.Kept) == 0 && len(k.Gens) == 0 && len(k.Retry) == 0 {
		r.doc.ReopenFailure = ""
		return nil
	}
	plain, err := json.Marshal(k)
	if err != nil {
		return err
	}
	sealed, err := r.sec.Seal(plain, reopenFailurePointer)
	if err != nil {
		return err
	}
	r.doc.ReopenFailure = sealed
	return nil
}

// A re-open signal (reopen_executing.go) is sealed for the run and the
// record, which a copy of an earlier one still is: it also carries the
// record's re-open generation, the times the run has re-opened the record
// so far, and the run takes only a signal of the current generation. Each
// re-open of the record, whichever way (a signal, this process's own
// restart, a sibling's, the re-open of a run that ended), counts, so a
// signal put back in the store after its re-open re-opens nothing. The
// counts are kept sealed in the run's head (reopenKept.Gens), so a
// resumed run knows them too; what the seal cannot tell is an older head
// put back whole before the run is loaded.

// bumpReopenGensLocked counts a re-open of each record in ids and seals
// the counts for the run's next write. Callers hold r.mu.
func (r *runState) bumpReopenGensLocked(ids map[string]bool) error {
	if len(ids) == 0 {
		return nil
	}
	gens := make(map[string]int, len(r.side.gens)+len(ids))
	for id, n := range r.side.gens {
		gens[id] = n
	}
	for id := range ids {
		gens[id]++
	}
	r.side.gens = gens
	return r.sealReopenKeptLocked()
}

// reopenGen is record taskID's re-open generation in run runID as stored
// (bumpReopenGensLocked): what a re-open signal for it carries.
func (e *Engine) reopenGen(ctx context.Context, runID, taskID string) (int, error) {
	d, err := e.loadLive(ctx, runID)
	if d == nil || err != nil || d.ReopenFailure == "" {
		return 0, err
	}
	sec, err := e.newRunSecrets(runID, nil)
	if err != nil {
		return 0, err
	}
	plain, err := sec.Open(d.ReopenFailure, reopenFailurePointer)
	var k reopenKept
	if err == nil {
		err = json.Unmarshal(plain, &k)
	}
	if err != nil {
		return 0, fmt.Errorf("run %s: reopenFailure: damaged: %v", runID, err)
	}
	return k.Gens[taskID], nil
}

// openReopenFailure restores, on load, what a re-opened run keeps:
// authenticated, bound to this run.
func (r *runState) openReopenFailure(sealed string) error {
	plain, err := r.sec.Open(sealed, reopenFailurePointer)
	var k reopenKept
	if err == nil {
		err = json.Unmarshal(plain, &k)
	}
	if err != nil {
		return fmt.Errorf("reopenFailure: damaged: %v", err)
	}
	r.mu.Lock()
	r.setReopenKeptLocked(k)
	r.mu.Unlock()
	return nil
}

// keptAsIs: rec is a failed record a re-opened run keeps as it is (the
// replay goes on past it). Set before the run executes: no lock.
func (r *runState) keptAsIs(rec *taskRecord) bool {
	return r.reopenKept[rec.TaskID] && terminalTask(rec.Status)
}

// scheduleRetryAttemptsLocked gives a retried run that has not executed
// yet the attempts its replay would schedule: Conductor's retry creates
// them at once, SCHEDULED (a new task id, retriedTaskId, retryCount + 1),
// so a run terminated before it goes on lists them CANCELED beside the
// records they retry. Callers hold r.mu.
func (r *runState) scheduleRetryAttemptsLocked() {
	var prev []*taskRecord
	for _, t := range r.tasks {
		if r.byRef[t.Ref] == t && retriedAsNewAttempt(t) && !r.keptAsIs(t) {
			prev = append(prev, t)
		}
	}
	now := r.nowMillis()
	for _, p := range prev {
		t := &taskRecord{Ref: p.Ref, TaskType: p.TaskType, TaskDefName: p.TaskDefName, Status: TaskScheduled,
			RetryCount: p.RetryCount + 1, Iteration: p.Iteration, Scheduled: now, RetriedTaskID: p.TaskID, retried: p, Domain: p.Domain, wt: p.wt,
			IsolationGroupID: p.IsolationGroupID, ExecutionNameSpace: p.ExecutionNameSpace,
			RateLimitPerFrequency: p.RateLimitPerFrequency, RateLimitFrequencyInSeconds: p.RateLimitFrequencyInSeconds,
			ResponseTimeoutSeconds: p.ResponseTimeoutSeconds}
		// A copy of the attempt (taskToBeRescheduled): its
		// startDelayInSeconds, callbackAfterSeconds 0.
		r.e.setRetryStartDelay(t, p.wt, r.e.shownStartDelay(p, p.wt))
		r.addTaskLocked(t)
		// Conductor's retry copies the attempt's input: the kept (masked,
		// `_secrets` in clear) form, sealed again for the new record. Without
		// it the record keeps no input (and is written once it ends).
		if len(p.inMem) > 0 {
			if mem, stored, err := r.sec.Protect(p.inMem, "/tasks/"+t.TaskID+"/inputData"); err == nil {
				t.inMem, t.inStored = mem, stored
			}
		}
	}
}

// failReopened ends a re-opened run whose kept failed task fails it again
// (keptFailureLocked), before anything runs: the run fails with that
// task, as retry() words it, its SUB_WORKFLOW tasks are cancelled and
// their children, stored RUNNING to run again, are terminated, as
// Conductor's SubWorkflow.cancel does: the child a task names, or, when it
// names none (an update IN_PROGRESS detached it), the child under the id
// derived from the task, when that run is the task's own child.
func (r *runState) failReopened(ctx context.Context) (*Result, error) {
	r.mu.Lock()
	id := r.reopenFailure
	r.reopenFailure, r.reopenKept = "", nil
	if err := r.sealReopenKeptLocked(); err != nil { // the re-open counts stay
		r.doc.ReopenFailure = ""
	}
	var rec *taskRecord
	var children []string
	var derived [][2]string // task id, the child id derived from it
	for _, t := range r.tasks {
		if t.TaskID == id {
			rec = t
		}
		if t.TaskType != TypeSubWorkflow || (t.Status != TaskInProgress && t.Status != TaskScheduled) {
			continue
		}
		if t.SubWorkflowID != "" {
			children = append(children, t.SubWorkflowID)
		} else {
			derived = append(derived, [2]string{t.TaskID, subWorkflowRunID(r.id, t.TaskID, t.RetryCount)})
		}
	}
	r.mu.Unlock()
	for _, d := range derived {
		// Storage is untrusted: only the task's own child is terminated.
		if r.e.ownChild(ctx, r.id, d[0], d[1]) {
			children = append(children, d[1])
		}
	}
	st := &stopError{status: StatusFailed, reason: "re-opened run: its failed task is gone"}
	if rec != nil {
		if rec.Status == TaskTimedOut {
			st.status = StatusTimedOut
		}
		st.reason = taskFailedReason(rec.TaskID, st.status, rec.Reason)
		st.failedRef, st.failedTaskID = rec.Ref, rec.TaskID
	}
	res, err := r.finish(ctx, st)
	if err != nil {
		return nil, err
	}
	for _, c := range children {
		reason := parentTerminatedReason(res.Reason)
		if err := r.e.terminate(ctx, c, reason, (*runState).scheduleRetryAttemptsLocked); err != nil && !errors.Is(err, ErrNotRunning) {
			return nil, err
		}
	}
	return res, nil
}

// reopenNotes writes what Conductor's updateAndPushParents adds to the
// execution log of each SUB_WORKFLOW task it re-opens: "Sub workflow
// <child> retried." (restarted, reran) on the nearest parent's, and
// further up the runs between, "<parent> -> <child>", each as
// name.version/id.
type reopenNotes struct{ op, ident string }

// line is the note for the next parent up.
func (n *reopenNotes) line() string { return fmt.Sprintf("Sub workflow %s %s.", n.ident, n.op) }

// write logs the note of each step re-opened here (nearest first) on its
// SUB_WORKFLOW task. A store that keeps no task logs keeps none of these.
func (n *reopenNotes) write(ctx context.Context, e *Engine, steps []reopenStep) {
	for _, s := range steps {
		var id, name string
		var version int
		switch {
		case s.run != nil:
			id, name, version = s.run.id, s.run.d.WorkflowType, s.run.d.Version
		case s.running != nil:
			s.running.mu.Lock()
			id, name, version = s.running.id, s.running.doc.WorkflowType, s.running.doc.Version
			s.running.mu.Unlock()
		default:
			continue
		}
		_ = e.AppendTaskLog(ctx, id, s.taskID, n.line())
		n.ident = shortName(name, version, id) + " -> " + n.ident
	}
}
