package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/tasks"
	"github.com/wfrun/wfrun/tasks/eval"
)

// stopError ends a run early: a task failed (not optional), a TERMINATE ran.
type stopError struct {
	status       string
	reason       string
	failedRef    string
	failedTaskID string
	output       json.RawMessage // TERMINATE workflowOutput
	// viaTerminate: ended as Conductor's terminate path ends a run, which
	// starts the failureWorkflow whatever the status (failure.go).
	viaTerminate bool
	// notThrown: a problem wfrun ends the run on where Conductor's
	// mapping throws nothing (mapperthrow.go, mapErrThrown): a DO_WHILE
	// does not take it for its iteration's mapping throwing.
	notThrown bool
}

func (s *stopError) Error() string { return s.status + ": " + s.reason }

// execute drives a run to its end. The run executes by replay: the
// definition is walked from the top and every task whose latest record
// already succeeded is skipped (SWITCH reuses its recorded selectedCase,
// DO_WHILE its recorded iteration), so a resumed run continues exactly where
// the persisted state says, without re-running completed tasks.
func (r *runState) execute(ctx context.Context) (*Result, error) {
	if f := r.e.beforeExecute; f != nil {
		f(r.id)
	}
	// An execution here that already ended the run may still be letting
	// go of it (letgo.go).
	if err := r.e.awaitLetGo(ctx, r.id); err != nil {
		return nil, err
	}
	active, read := r.e.activate(ctx, r) // leasewindow.go
	if !active {
		return nil, &ExecutingHereError{RunID: r.id}
	}
	defer r.e.setActive(r, false)
	r.mu.Lock()
	read = read || !r.lease.held // taken now: the run may have changed since it was loaded
	r.mu.Unlock()
	if err := r.acquireLease(ctx); err != nil {
		return nil, err
	}
	if read {
		if res := r.takeStoredState(ctx); res != nil {
			// Ended before this process executed it (Terminate): nothing
			// of it runs, and nothing is written over its end.
			r.releaseLease(ctx)
			return res, nil
		}
	}
	if res, gated, err := r.failureGate(ctx); gated {
		return res, err // failure.go
	}
	if r.reopenFailure != "" {
		return r.failReopened(ctx) // reopen.go
	}
	leaseCtx, cancelLease := context.WithCancelCause(ctx)
	defer cancelLease(nil)
	// A run (a child run too) takes no turns in its parent's fork.
	runCtx, cancel := context.WithCancelCause(context.WithValue(leaseCtx, branchKey{}, (*branchTurn)(nil)))
	defer cancel(nil)
	r.mu.Lock()
	r.rootCtx, r.runCtx = ctx, runCtx
	r.side.cancel = cancel // a re-opened SUB_WORKFLOW's failure ends the list (reopen_executing.go)
	// A write finding the run archived ends it (run.go).
	r.stopExec = cancelLease
	r.mu.Unlock()
	stopWatch := r.watchWorkflow(cancel)
	stopLease := r.keepLease(leaseCtx, cancelLease)
	if len(r.def.Tasks) == 0 {
		stopLease()
		stopWatch()
		return r.finish(ctx, noTasks())
	}
	r.e.visibleAdd(r)               // a task that keeps running is written early (visible.go)
	exitTest := r.enterTest(runCtx) // mockgate.go
	err := r.execList(runCtx, r.def.Tasks, "", 0)
	r.dropCaseChecks()           // what this execution checked and did not map
	err = r.endSide(runCtx, err) // reopen_executing.go
	exitTest()
	r.e.visibleRemove(r)
	stopLease()
	stopWatch()
	var st *stopError
	var term *terminated
	var wto *workflowTimeout
	cause := context.Cause(leaseCtx)
	switch {
	case r.endedOutside():
		// Another process ended the run and archived it while this one
		// executed it (run.go, write): its end stands.
		return r.outsideEnd(ctx)
	case err != nil && errors.As(cause, &term):
		return r.finish(ctx, &stopError{status: StatusTerminated, reason: term.reason})
	case err == nil:
		return r.finish(ctx, &stopError{status: StatusCompleted})
	case errors.As(err, &st):
		return r.finish(ctx, st)
	case ctx.Err() != nil:
		r.releaseLease(ctx)
		r.emit(Event{Kind: EventWorkflow, Status: StatusRunning, Reason: "interrupted; continue with: wfrun resume " + r.id})
		return &Result{RunID: r.id, Status: StatusRunning}, fmt.Errorf("%w: run %s stays RUNNING and can be resumed", ErrInterrupted, r.id)
	case errors.Is(cause, ErrLeaseLost):
		return nil, fmt.Errorf("run %s: %w", r.id, cause)
	case errors.As(context.Cause(runCtx), &wto):
		return r.finish(ctx, &stopError{status: StatusTimedOut, reason: wto.reason})
	default:
		if !errors.Is(err, runstore.ErrUnavailable) {
			r.releaseLease(ctx)
		}
		return nil, err
	}
}

// noTasks is how Conductor ends a workflow without tasks (its decider's
// first decision): COMPLETED with this reason, and no output, whatever
// the outputParameters (there is no task to take an output from). It ends
// it through its terminate path, so a failureWorkflow starts too.
func noTasks() *stopError {
	return &stopError{status: StatusCompleted, reason: "No tasks found to be executed", output: json.RawMessage("{}"), viaTerminate: true}
}

// finish records the terminal state, starts the failure workflow if any,
// and archives the run.
func (r *runState) finish(ctx context.Context, st *stopError) (*Result, error) {
	if r.endedOutside() {
		return r.outsideEnd(ctx) // its end stands (run.go, write)
	}
	// Tasks still scheduled or running (other FORK branches, a WAIT) are cancelled.
	r.mu.Lock()
	var cancelled []*taskRecord
	for _, t := range r.tasks {
		if t.Status == TaskScheduled || t.Status == TaskInProgress {
			t.Status, t.End = TaskCanceled, r.nowMillis()
			r.touchLocked(t)
			cancelled = append(cancelled, t)
		}
	}
	r.mu.Unlock()
	for _, t := range cancelled {
		var why string
		if t.TaskType == TypeEvent {
			why = r.cancelEvent(ctx, t)
		}
		r.emit(Event{Kind: EventTask, TaskRef: t.Ref, TaskType: t.TaskType, TaskID: t.TaskID, Status: TaskCanceled, Reason: why})
	}
	var out []byte
	var err error
	terminated := r.completedTerminateOutput() // loopmap.go
	switch {
	case st.output != nil:
		out = st.output
	case terminated != nil:
		out = terminated
	case r.def.outputTmpl != nil:
		out, _, err = r.def.outputTmpl.Execute(ctx, &runEnv{r: r, values: r.e.envValues}, interpolate.DeferSecrets, nil)
		if err != nil {
			out = []byte("{}")
			if st.status == StatusCompleted {
				st.status, st.reason = StatusFailed, "outputParameters: "+err.Error()
			}
		}
	default:
		r.mu.Lock()
		for i := len(r.tasks) - 1; i >= 0; i-- {
			if t := r.tasks[i]; successfulTask(t.Status) {
				out = t.outMem
				break
			}
		}
		r.mu.Unlock()
	}
	if len(out) == 0 {
		out = []byte("{}")
	}
	if st.status == StatusCompleted {
		if reason := r.permissiveFailures(); reason != "" {
			st = &stopError{status: StatusFailed, reason: reason}
		}
	}
	if err := r.setOutput(out); err != nil {
		return nil, err
	}
	// Reasons quote task names, evaluator errors and a child's reason: the
	// stored run holds the masked text only.
	gen := r.sec.Generation()
	st.reason = r.sec.RemaskText(st.reason, 0)
	r.mu.Lock()
	r.rx.producedLocked(gen)
	r.doc.Status, r.doc.ReasonForIncompletion, r.doc.EndTime = st.status, st.reason, r.nowMillis()
	r.doc.FailedTaskID = st.failedTaskID
	r.wfDoc = nil
	r.mu.Unlock()
	var failureRun *runState
	if r.def.FailureWorkflow != "" && failureStarts(st) {
		withFailure, child := r.startFailureWorkflow(ctx, st, out)
		if err := r.setFailureOutput(withFailure, child); err != nil {
			return nil, err
		}
		failureRun = child
	}
	r.mu.Lock()
	outMem := r.doc.Output
	r.mu.Unlock()
	err = r.archive(ctx)
	if failureRun != nil {
		// It executes only if this end is the run's stored end (its
		// gate, failure.go), whatever became of the archive.
		r.e.startBackground(failureRun)
	}
	if err == nil && r.endedOutside() {
		// A write since, or the archive, found it archived (run.go):
		// this end was not stored, and is not announced.
		return r.outsideEnd(ctx)
	}
	r.emit(Event{Kind: EventWorkflow, Status: st.status, Reason: st.reason})
	if err != nil {
		return nil, err
	}
	view, err := r.displayOutput(outMem)
	if err != nil {
		return nil, err
	}
	if failureRun != nil {
		view = namingFailureRun(view, failureRun.id)
	}
	return &Result{RunID: r.id, Status: st.status, Output: view, Reason: r.sec.Text(st.reason), FailedTaskRef: st.failedRef}, nil
}

// displayOutput applies the view rules (_secrets, _masked, maskedFields) to
// an in-memory workflow output.
func (r *runState) displayOutput(out []byte) (json.RawMessage, error) {
	return r.sec.ViewMember("output", orEmpty(out))
}

// execList runs a task list in order. A FORK_JOIN hands back the branches
// its JOIN did not wait for: they keep running beside the tasks after the
// JOIN, and the list ends only when they have ended (as a Conductor run
// completes only when every task is terminal). A branch that fails stops the
// rest of the list.
func (r *runState) execList(ctx context.Context, list []*WorkflowTask, suffix string, iter int) error {
	return r.execListNotify(ctx, list, suffix, iter, nil)
}

// execListNotify is execList calling after (when not nil) each time one of
// the list's tasks has succeeded.
func (r *runState) execListNotify(ctx context.Context, list []*WorkflowTask, suffix string, iter int, after func()) error {
	var rests []*forkRest
	lctx, stop := ctx, context.CancelCauseFunc(func(error) {})
	for i, wt := range list {
		if err := lctx.Err(); err != nil {
			return endList(ctx, rests, err)
		}
		if wt.Type != TypeForkJoin && wt.Type != TypeForkJoinDynamic {
			err := r.execTask(lctx, wt, suffix, iter)
			if lr, ok := err.(*loopRest); ok {
				// A permissive or optional DO_WHILE's failed iteration
				// goes on beside the tasks after it (loopbeside.go).
				if rests == nil {
					lctx, stop = context.WithCancelCause(ctx)
					defer stop(nil)
				}
				rests, err = append(rests, r.besideLoop(lctx, lr, stop)), nil
			}
			if err != nil {
				if r.scheduleLoopSuccessor(lctx, err, list, i, suffix, iter) { // loop.go
					continue // the failed loop's iteration goes on (loopbeside.go)
				}
				return endList(ctx, rests, err)
			}
			if after != nil {
				after()
			}
			continue
		}
		if rests == nil {
			// A failing branch stops the tasks after its JOIN with its own
			// error as the cause, so a SUB_WORKFLOW there ends its child as
			// for any other early end of the parent.
			lctx, stop = context.WithCancelCause(ctx)
			defer stop(nil)
		}
		var join *WorkflowTask
		if !unjoined(list, i) {
			join = list[i+1]
		}
		rest, err := r.execFork(lctx, wt, join, suffix, iter, stop)
		if rest != nil {
			rests = append(rests, rest)
		}
		if err != nil {
			// The successor of a branch's last task is the JOIN, which
			// exists (loop.go).
			successorScheduled(err)
			return endList(ctx, rests, err)
		}
		if after != nil {
			after()
		}
	}
	return endList(ctx, rests, nil)
}

// endList waits for the branches still running when a list ends; when the
// list failed they are cancelled first. A branch's own failure (a
// stopError) is preferred over the cancellation it caused in the list.
func endList(ctx context.Context, rests []*forkRest, err error) error {
	if err != nil {
		for _, f := range rests {
			f.cancel()
		}
	}
	var st *stopError
	for _, f := range rests {
		ferr := f.wait()
		if ferr != nil && (err == nil || (!errors.As(err, &st) && errors.As(ferr, &st))) {
			err = ferr
		}
	}
	return err
}

func (r *runState) execTask(ctx context.Context, wt *WorkflowTask, suffix string, iter int) error {
	if err := r.mapFailure(wt, suffix); err != nil {
		return err // mapperthrow.go
	}
	switch wt.Type {
	case TypeSwitch, TypeDecision:
		return r.execSwitch(ctx, wt, suffix, iter)
	case TypeDoWhile:
		return r.execDoWhile(ctx, wt, suffix, iter)
	case TypeForkJoin, TypeForkJoinDynamic:
		// Outside execList (which lets the tasks after the JOIN start
		// early) every branch is waited for.
		rest, err := r.execFork(ctx, wt, nil, suffix, iter, func(error) {})
		if rest != nil && err == nil {
			err = rest.wait()
		}
		return err
	case TypeSubWorkflow:
		return r.execSubWorkflow(ctx, wt, suffix, iter)
	case TypeDynamic:
		return r.execDynamic(ctx, wt, suffix, iter)
	}
	return r.execLeaf(ctx, wt, suffix, iter)
}

// begin returns the record to work on for ref: nil,done=true when its latest
// attempt already succeeded (replay); the unfinished record of a previous
// process; or a new SCHEDULED record. input is the transient (secrets
// resolved) input; a resolution problem is returned as a terminal failure.
func (r *runState) begin(ctx context.Context, wt *WorkflowTask, ref string, iter, retry int) (rec *taskRecord, input []byte, done bool, fail *tasks.Result, err error) {
	return r.beginRetry(ctx, wt, ref, iter, retry, 0, nil)
}

// beginRetry is begin for a retry that waits callback seconds before it
// runs: its record shows callbackAfterSeconds from its first write, as
// Conductor schedules it (a reader never sees the retry without it). pol
// is the task's policy when the caller has it (nil: looked up).
func (r *runState) beginRetry(ctx context.Context, wt *WorkflowTask, ref string, iter, retry int, callback int64, pol *taskPolicy) (rec *taskRecord, input []byte, done bool, fail *tasks.Result, err error) {
	// In a fork its events wait until its pass stands (eventhold.go).
	hctx, hold := r.holdPassEvents(ctx, wt, ref)
	defer func() { r.releasePassEvents(hold, rec) }()
	rec, input, done, fail, err = r.beginRecord(hctx, wt, ref, iter, retry, callback, pol)
	if err == nil && !done && startsAfterDecision(wt.Type) {
		// Scheduled in a fork's decision: it starts once that is written
		// (forkdecision.go), unless the fork stopped (forkpasses.go).
		err = r.awaitDecision(ctx)
		if err == nil {
			// Nor before the synchronous tasks of its pass have run, one
			// of which may end the run (forkpasses.go).
			err = awaitPassRan(ctx)
		}
		if err == nil && haltedFork(ctx) {
			err = errForkStopped
		}
	}
	return rec, input, done, fail, err
}

// beginRecord is begin without waiting for the fork's decision.
func (r *runState) beginRecord(ctx context.Context, wt *WorkflowTask, ref string, iter, retry int, callback int64, pol *taskPolicy) (rec *taskRecord, input []byte, done bool, fail *tasks.Result, err error) {
	created, sctx := false, ctx // a record made here; the context of its SCHEDULED write
	if !mappedWithFirstTask[wt.Type] {
		// However it returns (a record that stands, kept as it is, a
		// skip, an input that fails), the case's mapping it ends is over
		// (switch.go); a task with its input ends it below.
		defer endCaseMapping(ctx, r)
	}
	rec = r.lookup(ref)
	if rec == nil && retry == 0 {
		// A skip (SkipTask) taken from the store but not yet recorded.
		if skipped, err := r.applySkip(ctx, ref, false); skipped != nil {
			notifyScheduled(ctx, "")
			return skipped, nil, true, nil, err
		}
	}
	if rec != nil && (successfulTask(rec.Status) || r.keptAsIs(rec)) {
		notifyScheduled(ctx, "")
		return rec, nil, true, nil, nil
	}
	if rec == nil || rec.Status == TaskFailed || rec.Status == TaskFailedTerminal || rec.Status == TaskCanceled || rec.Status == TaskTimedOut {
		// A PAUSED run schedules nothing new until it is resumed.
		if err := r.waitUnpaused(ctx); err != nil {
			return nil, nil, false, nil, err
		}
		// Inside a fork, records are scheduled pass by pass (forkpasses.go).
		if err := awaitTurn(ctx); err != nil {
			return nil, nil, false, nil, err
		}
		prev := rec
		created = true
		rec = &taskRecord{Ref: ref, TaskType: recordType(wt), TaskDefName: recordDefName(wt), Status: TaskScheduled,
			RetryCount: retry, Iteration: iter, Scheduled: r.nowMillis(), Callback: callback, wt: wt}
		rec.passes, rec.passRound = passOf(ctx) // switch.go: dropPass
		if prev != nil && retry > 0 {
			rec.RetriedTaskID, rec.retried = prev.TaskID, prev
			delay := callback // its retry policy's delay
			if !r.retriedByPolicy(prev) {
				// A retry of the run: a copy of the attempt
				// (taskToBeRescheduled), started at once.
				delay = r.e.shownStartDelay(prev, wt)
			} else {
				// DeciderService.retry copies the failed attempt's
				// reasonForIncompletion onto the retry, where it stays
				// until the task's next update (heldReason); a retry of
				// the run clears it.
				r.mu.Lock()
				rec.Reason, rec.heldReason = prev.Reason, prev.Reason != ""
				r.mu.Unlock()
			}
			r.e.setRetryStartDelay(rec, wt, delay)
		}
		if r.e.remoteSimple(wt) {
			rec.Domain = r.taskDomain(wt.Name) // chosen as it is scheduled (domains.go)
		}
		r.isolate(rec, wt, pol)
		checked := r.checkedCase(ref, wt) // mapperthrow.go
		r.mu.Lock()
		r.takeCheckedIDLocked(rec, checked)
		if cur := r.byRef[ref]; prev == nil && cur != nil && cur.Status == TaskSkipped {
			// Skipped meanwhile (applySkip): the skip wins (skip.go).
			r.mu.Unlock()
			notifyScheduled(ctx, "")
			return cur, nil, true, nil, nil
		}
		if wt.Type == TypeForkJoin || wt.Type == TypeForkJoinDynamic {
			r.openDecisionLocked(rec) // until its JOIN is recorded (fork.go)
		}
		r.addTaskLocked(rec)
		r.mu.Unlock()
	}
	// A record of a previous process gets its definition here. A re-opened
	// record (reopen_executing.go) has it already, and the goroutine that
	// ended it may still be reading it (afterFailure): write only a change.
	if rec.wt != wt {
		rec.wt = wt
	}
	// The input is resolved as the task is mapped, before the branch's
	// turn passes: Conductor's mappers build each task's input
	// (ParametersUtils) as the decider maps it, before the decide executes
	// any synchronous task of the pass, so a task does not see what a
	// sibling branch's task of its pass does (taskinput.go).
	in := r.mapInput(ctx, wt, rec, ref, pol)
	// The branch's turn passes once the record of a task that waits is
	// whole, as Conductor's mapper builds a task before the next one: a
	// fork's decision is written with those records complete
	// (forkdecision.go). A synchronous task's record takes its input when
	// its turn comes back, as it runs: until then it is not written
	// (encode.go), so a fork of them writes each once.
	if executedByDecider[wt.Type] {
		// Conductor stores every task of a pass SCHEDULED before the
		// decide executes any of them: in a fork, the record's SCHEDULED
		// goes out with its pass (announceScheduled), not when it runs.
		if h := r.announceScheduled(ctx, rec, created); h != nil {
			hctx := withEventHold(ctx, h)
			notifyScheduled(hctx, wt.Type)
			r.releaseEvents(h, !r.dropped(rec)) // when the ring did not announce it
			// Its SCHEDULED is out: the one its input's write makes is
			// not (h, released, drops it: eventHold.announced).
			sctx = hctx
		} else {
			notifyScheduled(ctx, wt.Type)
		}
		if r.dropped(rec) {
			// Its pass was thrown away meanwhile (dropPass): never run.
			return rec, nil, false, nil, errForkStopped
		}
	} else {
		defer notifyScheduled(ctx, wt.Type)
	}
	raw, transient, secretErr := in.raw, in.transient, in.secretErr
	if raw == nil {
		_ = r.setTaskData(rec, []byte("{}"), nil)
		return rec, nil, false, &tasks.Result{Status: tasks.FailedTerminal, Reason: "input: " + r.sec.Text(secretErr.Error())}, r.transition(sctx, rec, TaskScheduled, "")
	}
	if !mappedWithFirstTask[wt.Type] {
		// A SWITCH, DECISION or FORK maps first tasks of its own with it.
		endCaseMapping(ctx, r) // switch.go
	}
	var inErr error
	if in.templated {
		inErr = r.setResolvedInput(rec, raw)
	} else if !r.keptWrapped(rec) {
		// Not a template's output (a rerun's replacement input): checked.
		inErr = r.setTaskData(rec, raw, nil)
	}
	if err := inErr; err != nil {
		return rec, nil, false, &tasks.Result{Status: tasks.FailedTerminal, Reason: "input: " + err.Error()}, nil
	}
	if rec.Status == TaskScheduled {
		if err := r.transition(sctx, rec, TaskScheduled, ""); err != nil {
			return rec, nil, false, nil, err
		}
	}
	if secretErr != nil {
		return rec, nil, false, &tasks.Result{Status: tasks.FailedTerminal, Reason: r.sec.Text(secretErr.Error())}, nil
	}
	return rec, transient, false, nil, nil
}

// complete stores a task's output and marks it COMPLETED.
func (r *runState) complete(ctx context.Context, rec *taskRecord, output []byte) error {
	return r.completeReason(ctx, rec, output, givenReason{})
}

// completeReason is complete with the reasonForIncompletion the task
// completes with (none unless an update gave one).
func (r *runState) completeReason(ctx context.Context, rec *taskRecord, output []byte, reason givenReason) error {
	if len(output) == 0 {
		output = []byte("{}")
	}
	if err := r.setTaskData(rec, nil, output); err != nil {
		return r.failTask(ctx, rec, TaskFailedTerminal, "output: "+err.Error())
	}
	return r.transitionReason(ctx, rec, TaskCompleted, reason.text, reason.empty)
}

// completeValid is complete for an output its executor built as valid JSON
// (tasks.Result.OutputValid): masked and sealed like any other, without
// being validated again.
func (r *runState) completeValid(ctx context.Context, rec *taskRecord, output []byte) error {
	return r.completeValidReason(ctx, rec, output, givenReason{})
}

// completeValidReason is completeValid with the reasonForIncompletion the
// task completes with (completeReason).
func (r *runState) completeValidReason(ctx context.Context, rec *taskRecord, output []byte, reason givenReason) error {
	gen := r.sec.Generation()
	mem, stored, err := r.sec.ProtectResolved(output, "/tasks/"+rec.TaskID+"/outputData")
	if err != nil {
		return r.failTask(ctx, rec, TaskFailedTerminal, "output: "+err.Error())
	}
	r.mu.Lock()
	r.rx.producedLocked(gen)
	rec.outMem, rec.outStored = mem, stored
	r.touchLocked(rec)
	r.mu.Unlock()
	return r.transitionReason(ctx, rec, TaskCompleted, reason.text, reason.empty)
}

// failTask marks rec failed and stops the run, unless the task is optional
// (COMPLETED_WITH_ERRORS, and the run continues). A TIMED_OUT task times
// the workflow out, as Conductor's retry() decides.
func (r *runState) failTask(ctx context.Context, rec *taskRecord, status, reason string) error {
	return r.failTaskReason(ctx, rec, status, reason, false)
}

// failTaskReason is failTask with empty saying whether an empty reason is
// the empty text given as such (Conductor's "") rather than none (null).
func (r *runState) failTaskReason(ctx context.Context, rec *taskRecord, status, reason string, empty bool) error {
	// Reasons quote evaluator errors and remote text: masked whole, then cut.
	reason = r.sec.Excerpt(reason, maxReasonBytes)
	if rec.wt != nil && rec.wt.Optional {
		return r.transitionReason(ctx, rec, TaskCompletedWithErrors, reason, empty)
	}
	// Re-opens of it from here on follow its end (afterFailureSince).
	r.mu.Lock()
	reopens := r.side.reopens[rec.Ref]
	r.mu.Unlock()
	if err := r.transitionReason(ctx, rec, status, reason, empty); err != nil {
		return err
	}
	return r.afterFailureSince(ctx, rec, status, reason, reopens)
}

// afterFailure is what follows rec's unsuccessful end (status, reason)
// when no attempt retries it: nil when the run goes on past it (a
// permissive task, or one re-opened since it ended), else the run's end.
func (r *runState) afterFailure(ctx context.Context, rec *taskRecord, status, reason string) error {
	r.mu.Lock()
	reopens := r.side.reopens[rec.Ref]
	r.mu.Unlock()
	return r.afterFailureSince(ctx, rec, status, reason, reopens)
}

// afterFailureSince is afterFailure for a record re-opened reopens times
// when it ended. Its end is stored before the run's list stops on it, so
// a child that runs again can re-open it in between (reopenExecuting):
// then the re-open's outcome stands, as for a run that was PAUSED
// (failWhilePaused), and the list goes on past it once its child has
// ended. Otherwise the list stops on it, and from that decision on the
// record is not re-opened here (reopenSide.failing): a re-open taken on
// the run's way to its end would be cancelled with it, terminating the
// child that runs again; refused, it re-opens the run once it has ended.
func (r *runState) afterFailureSince(ctx context.Context, rec *taskRecord, status, reason string, reopens int) error {
	if rec.wt != nil && rec.wt.Permissive {
		if rec.Ref != rec.wt.TaskReferenceName {
			// Inside a DO_WHILE iteration (its ref has the "__N" suffix):
			// Conductor's DoWhile fails the loop when it sees the
			// iteration's unsuccessful task (loop.go).
			return &iterationFailed{ref: rec.Ref, reason: reason}
		}
		return nil // the run goes on; finish or a JOIN on it fails it (permissive.go)
	}
	// A cancelled task too (a sub-workflow terminated): Conductor's
	// decider looks at no task of a paused run.
	if done, err := r.failWhilePaused(ctx, rec); done || err != nil {
		return err
	}
	wfStatus := StatusFailed
	switch status {
	case TaskTimedOut:
		wfStatus = StatusTimedOut
	case TaskCanceled:
		wfStatus = StatusTerminated // Conductor's retry(): a CANCELED task terminates the run
	}
	if reopened, err := r.decideEnded(ctx, rec, reopens); reopened {
		return err
	}
	r.mu.Lock()
	empty := reason == "" && rec.emptyReason()
	r.mu.Unlock()
	return &stopError{status: wfStatus, reason: taskFailedReasonGiven(rec.TaskID, wfStatus, reason, empty),
		failedRef: rec.Ref, failedTaskID: rec.TaskID}
}

// decideEnded is the run's decision on rec, stored ended after it was
// re-opened reopens times: when it has been re-opened since
// (reopenExecuting), the re-open's outcome stands: decideEnded waits for
// the re-opened child to end (ctx's error if ctx ends first) and reports
// reopened. Otherwise the record is decided on (reopenSide.failing: not
// re-opened here from now on) and reopened is false.
func (r *runState) decideEnded(ctx context.Context, rec *taskRecord, reopens int) (reopened bool, err error) {
	r.mu.Lock()
	if r.side.reopens[rec.Ref] != reopens {
		wait := r.side.running[rec.Ref]
		r.mu.Unlock()
		if wait != nil {
			select {
			case <-wait:
			case <-ctx.Done():
				return true, ctx.Err()
			}
		}
		return true, nil
	}
	if r.side.failing == nil {
		r.side.failing = map[string]bool{}
	}
	r.side.failing[rec.TaskID] = true
	r.mu.Unlock()
	return false, nil
}

// recordType is the taskType a record carries, as Conductor's mappers set
// it: a SIMPLE task's type is its name, a FORK_JOIN's is FORK.
func recordType(wt *WorkflowTask) string {
	switch wt.Type {
	case TypeSimple:
		return wt.Name
	case TypeForkJoin, TypeForkJoinDynamic:
		return TypeFork
	}
	return wt.Type
}

// recordDefName is a record's taskDefName: the task's name, or for the
// operators Conductor's mappers name by their type (DECISION, SWITCH, FORK,
// EXCLUSIVE_JOIN; JOIN in fork.go), that type.
func recordDefName(wt *WorkflowTask) string {
	switch wt.Type {
	case TypeDecision, TypeSwitch, TypeExclusiveJoin:
		return wt.Type
	case TypeForkJoin, TypeForkJoinDynamic:
		return TypeFork
	}
	return wt.Name
}

// builtIn types are never retried (Conductor's TaskType.isBuiltIn).
func builtIn(typ string) bool {
	switch typ {
	case TypeSwitch, TypeDecision, TypeForkJoin, TypeForkJoinDynamic, TypeJoin, TypeDoWhile, TypeExclusiveJoin:
		return true
	}
	return false
}

// attemptWatched reports whether an attempt has a timeout for watchAttempt
// to enforce (its conditions).
func attemptWatched(p taskPolicy, waits bool) bool {
	return p.hasDef() && (p.timeout > 0 || p.localResponseTimeout(waits) > 0 || p.totalTimeout > 0)
}

func (r *runState) execLeaf(ctx context.Context, wt *WorkflowTask, suffix string, iter int) error {
	ref := wt.TaskReferenceName + suffix
	// Marked once for the store's audit of the task's secret reads
	// (resolving its input, its executor's own reads).
	ctx = r.sec.ForTask(ctx, ref)
	pol := r.policy(wt)
	retry := 0
	var failed *taskRecord // the attempt a new one retries, found ended
	if prev := r.lookup(ref); prev != nil && !successfulTask(prev.Status) && prev.Status != TaskScheduled && prev.Status != TaskInProgress {
		if !r.attemptsAgain(prev, wt, pol) {
			return r.settled(ctx, prev, wt, pol) // resume.go: its outcome stands
		}
		retry, failed = prev.RetryCount+1, prev
	} else if prev != nil && !successfulTask(prev.Status) {
		retry = prev.RetryCount // an unfinished attempt runs on (reopen.go)
	}
	// WAIT/HUMAN wait for an external completion; a SIMPLE task handed to
	// remote workers (WithRemoteWorker) is IN_PROGRESS from a worker's poll
	// and its clocks run from there (remote.go).
	_, local := r.e.workers[wt.Name]
	remote := wt.Type == TypeSimple && !local && r.e.remote != nil
	waits := wt.Type == TypeWait || wt.Type == TypeHuman || remote
	// The wait before a retry (retryDelay) and its whole seconds without
	// jitter: the retry is recorded at once, SCHEDULED with
	// callbackAfterSeconds, and runs once the wait has passed, as
	// Conductor schedules it (a synchronous system task's at once).
	var retryWait time.Duration
	var retryAfter int64
	if failed != nil && r.retriedByPolicy(failed) {
		// Failed by a process that went away before it stored the
		// retry: Conductor's next decide schedules it with its delay.
		base := pol
		base.jitterMs = 0
		retryAfter = int64(retryDelay(base, failed.RetryCount) / time.Second)
		if !executedByDecider[wt.Type] {
			retryWait = r.testDelay(retryDelay(pol, failed.RetryCount))
		}
	}
	// answered: the remote attempt whose worker's answer may wait for its
	// write (remote_stored.go); settled by the write, else when leaving.
	var answered *taskRecord
	defer func() {
		if answered != nil {
			r.answerDropped(ctx, answered)
		}
	}()
	for {
		rec, input, done, fail, err := r.beginRetry(ctx, wt, ref, iter, retry, retryAfter, &pol)
		if err != nil {
			return err
		}
		// offerAt: a remote task held back in its worker queue
		// (WithRemoteDelays) rather than here, so an update is taken
		// during its delay (remote_delay.go).
		var offerAt time.Time
		if retryWait > 0 && !done && fail == nil && rec.Status == TaskScheduled {
			if remote && r.e.remoteDelays {
				offerAt = r.e.now().Add(retryWait)
			} else if err := r.sleepRetry(ctx, wt, ref, retryWait); err != nil {
				return err
			}
		} else if remote && r.e.remoteDelays && !done && fail == nil {
			offerAt = r.resumedOfferAt(rec) // remote_delay.go
		} else if !done && fail == nil && !executedByDecider[wt.Type] {
			// A retry resumed while it waited for its delay: the rest of
			// it, as Conductor's queue keeps the retry's time.
			if at := r.resumedOfferAt(rec); !at.IsZero() {
				if err := r.sleepRetry(ctx, wt, ref, r.testDelay(at.Sub(r.e.now()))); err != nil {
					return err
				}
			}
		}
		retryWait, retryAfter = 0, 0
		if done {
			if wt.Type == TypeTerminate {
				return r.terminateStop(rec, rec.inMem)
			}
			return nil
		}
		if fail != nil {
			return r.failTask(ctx, rec, string(fail.Status), fail.Reason)
		}
		if wt.StartDelay > 0 && rec.Status == TaskScheduled && retry == 0 {
			wait := r.testDelay(time.Duration(wt.StartDelay) * time.Second)
			if remote && r.e.remoteDelays {
				offerAt = r.e.now().Add(wait)
			} else if err := r.e.sleep(ctx, wait); err != nil {
				return err
			}
		}
		release, err := r.testSlot(ctx, wt, pol)
		if err != nil {
			return err
		}
		var impl tasks.Task // the registry's executor of a system task
		if !remote {
			impl = r.startsScheduled(wt)
		}
		switch {
		case remote:
		case impl != nil:
			// Conductor's system task: SCHEDULED, with its start time,
			// while its execution runs (startsScheduled).
			r.mu.Lock()
			if rec.Start == 0 {
				rec.Start = r.nowMillis()
				r.touchLocked(rec)
			}
			r.mu.Unlock()
		default:
			if wt.Type == TypeWait {
				r.startWait(rec, input)
			}
			if err := r.transition(ctx, rec, TaskInProgress, ""); err != nil {
				release()
				return err
			}
		}
		var res tasks.Result
		var timedOut *attemptTimeout
		if remote || attemptWatched(pol, waits) {
			actx, cancel := context.WithCancelCause(ctx)
			stopWatch := func() {}
			if remote {
				actx = withOfferAt(withAttemptCancel(actx, cancel), offerAt)
			} else {
				stopWatch = r.watchAttempt(cancel, rec, pol, waits)
				if r.test != nil {
					actx = withAttemptCancel(actx, cancel) // a mock's timeout (mock.go)
				}
			}
			res = r.runLeaf(actx, wt, rec, withoutOutputFilter(wt, input), impl)
			if remote {
				answered = rec
			}
			stopWatch()
			timedOut = attemptTimedOut(actx)
			cancel(nil)
		} else {
			// No timeout to enforce: no context of its own for the attempt
			// (under a cancellable run context, one costs a registration
			// with its parent per task).
			res = r.runLeaf(ctx, wt, rec, withoutOutputFilter(wt, input), impl)
		}
		release()
		// An asyncComplete HTTP task's result already went through its
		// outputFilter (awaitAsyncComplete, which marks only a task that
		// has one): taken here, after every return of runLeaf, so no later
		// attempt sees it.
		var filtered bool
		if wt.outputFilter != nil {
			r.mu.Lock()
			filtered, rec.filtered = rec.filtered, false
			r.mu.Unlock()
		}
		if ctx.Err() != nil {
			// Interrupted or the run ended: the record stays IN_PROGRESS
			// (resume re-runs this attempt; finish cancels it).
			return ctx.Err()
		}
		if timedOut != nil {
			res = tasks.Result{Status: TaskTimedOut, Reason: timedOut.reason}
			if timedOut.policy == TimeoutWorkflow {
				if err := r.transition(ctx, rec, TaskTimedOut, timedOut.reason); err != nil {
					return err
				}
				return &stopError{status: StatusTimedOut, reason: timedOut.reason, failedRef: rec.Ref, failedTaskID: rec.TaskID}
			}
		} else if !filtered {
			// Before anything of the output is masked, stored or shown.
			res = r.applyOutputFilter(ctx, wt, rec, res)
		}
		switch res.Status {
		case tasks.Completed:
			// A worker's or an outside update's reasonForIncompletion
			// stays on the completed task too, as Conductor's
			// updateTask sets it whatever the status.
			reason := givenReason{text: r.sec.Excerpt(res.Reason, maxReasonBytes), empty: res.EmptyReason && res.Reason == ""}
			if impl != nil && reason.text == "" && !reason.empty {
				// A system task's execution sets no reason when it
				// completes: a retry's or a rerun's kept one stays, as
				// Conductor's record keeps it (heldReason).
				r.mu.Lock()
				if rec.heldReason {
					reason.text = rec.Reason
				}
				r.mu.Unlock()
			}
			complete := r.completeReason
			if res.OutputValid && len(res.Output) > 0 {
				complete = r.completeValidReason
			}
			if err := complete(ctx, rec, res.Output, reason); err != nil {
				return err
			}
			if wt.Type == TypeTerminate {
				return r.terminateStop(rec, rec.inMem)
			}
			return nil
		case TaskCompletedWithErrors:
			if wt.Type == TypeJoin { // a JOIN on failed optional tasks (fork.go)
				if err := r.setTaskData(rec, nil, res.Output); err != nil {
					return r.failTask(ctx, rec, TaskFailedTerminal, "output: "+err.Error())
				}
				return r.transition(ctx, rec, TaskCompletedWithErrors, res.Reason)
			}
		case tasks.Failed, TaskTimedOut:
			if retry < pol.retryCount && !builtIn(wt.Type) {
				if st := r.totalTimeoutSpent(ctx, pol, rec, res); st != nil {
					return st
				}
				if len(res.Output) > 0 {
					_ = r.setTaskData(rec, nil, res.Output)
				}
				if err := r.transitionReason(ctx, rec, string(res.Status), r.sec.Text(res.Reason), res.EmptyReason); err != nil {
					return err
				}
				base := pol
				base.jitterMs = 0
				retryAfter = int64(retryDelay(base, retry) / time.Second)
				if executedByDecider[wt.Type] {
					// Conductor's decider executes a synchronous system
					// task as soon as it has scheduled it, a retry too:
					// the retry's record carries its delay as
					// callbackAfterSeconds, and it runs in the next pass
					// (its fork branch's next turn, forkpasses.go), the
					// delay not waited for.
					r.announceRetry(rec, retry+1, pol.retryCount, 0)
				} else {
					retryWait = r.testDelay(retryDelay(pol, retry))
					r.announceRetry(rec, retry+1, pol.retryCount, retryWait)
				}
				retry++
				continue
			}
		}
		if len(res.Output) > 0 {
			_ = r.setTaskData(rec, nil, res.Output)
		}
		status := string(res.Status)
		// A JOIN on cancelled tasks only ends CANCELED (Join): no worker
		// reports that status.
		if status != TaskFailed && status != TaskFailedTerminal && status != TaskTimedOut && (status != TaskCanceled || wt.Type != TypeJoin) {
			status = TaskFailedTerminal
			if res.Reason == "" {
				res.Reason = fmt.Sprintf("task returned status %q", res.Status)
			}
		}
		return r.failTaskReason(ctx, rec, status, res.Reason, res.EmptyReason)
	}
}

// announceRetry tells the progress callback that the attempt rec ended
// is retried: the retry's number, of how many, and after what wait.
func (r *runState) announceRetry(rec *taskRecord, next, of int, wait time.Duration) {
	if r.events == nil || rec == nil {
		return
	}
	in := wait.String()
	if wait%time.Second == 0 {
		in = strconv.FormatInt(int64(wait/time.Second), 10) + "s"
	}
	r.emit(Event{Kind: EventRetry, TaskRef: rec.Ref, TaskType: rec.TaskType, TaskID: rec.TaskID, Status: TaskScheduled,
		Reason: fmt.Sprintf("retrying in %s (retry %d of %d)", in, next, of)})
}

// sleepRetry waits d before a retry, recorded SCHEDULED, runs. A WAIT or
// HUMAN retry ends its wait early when a completion for it is stored:
// Conductor completes a SCHEDULED task at once, whatever its callback.
func (r *runState) sleepRetry(ctx context.Context, wt *WorkflowTask, ref string, d time.Duration) error {
	if (wt.Type != TypeWait && wt.Type != TypeHuman) || r.e.pollInterval <= 0 || d <= 0 {
		return r.e.sleep(ctx, d)
	}
	// The engine clock's timer and the run's signal polling in one select:
	// no goroutine per wait.
	due, stop := r.e.clock.After(d)
	defer stop()
	tick := time.NewTicker(r.e.pollInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-due:
			return nil
		case <-tick.C:
			r.pollSignals(ctx)
			r.mu.Lock()
			_, completed := r.pending[ref]
			r.mu.Unlock()
			if completed {
				return ctx.Err()
			}
		}
	}
}

// retryDelay is the wait before retry attempt+1, as Conductor computes it
// (FIXED, LINEAR_BACKOFF: delay*scale*(n+1), EXPONENTIAL_BACKOFF:
// delay*2^n; capped by maxRetryDelaySeconds; plus 0..backoffJitterMs ms).
func retryDelay(p taskPolicy, attempt int) time.Duration {
	d := int64(p.retryDelay)
	switch p.retryLogic {
	case "EXPONENTIAL_BACKOFF":
		d *= int64(1) << min(attempt, 30)
	case "LINEAR_BACKOFF":
		d *= int64(p.scale) * int64(attempt+1)
	}
	if p.maxDelay > 0 && d > int64(p.maxDelay) {
		d = int64(p.maxDelay)
	}
	if p.jitterMs > 0 {
		// backoffJitterMs, added after the cap, as Conductor does.
		return time.Duration(d)*time.Second + time.Duration(rand.Int64N(p.jitterMs+1))*time.Millisecond
	}
	return time.Duration(d) * time.Second
}

// runLeaf executes one attempt of a leaf task; impl is the registry's
// executor when startsScheduled found it (nil: looked up here when the
// task type needs it). Panics in executors become terminal failures
// (masked), never a crashed run.
func (r *runState) runLeaf(ctx context.Context, wt *WorkflowTask, rec *taskRecord, input []byte, impl tasks.Task) (res tasks.Result) {
	defer func() {
		if p := recover(); p != nil {
			res = tasks.Result{Status: tasks.FailedTerminal, Reason: r.sec.Text(fmt.Sprintf("internal error in %s task: %v", wt.Type, p))}
		}
	}()
	if res, ok := r.mocked(ctx, wt, rec, input); ok {
		return res // a test run's mock (mock.go)
	}
	release, err := r.testRealSlot(ctx, wt)
	if err != nil {
		return tasks.Result{Status: tasks.Failed, Reason: r.sec.Excerpt(err.Error(), maxReasonBytes)}
	}
	defer release()
	switch wt.Type {
	case TypeSetVariable:
		return r.setVariable(input)
	case TypeTerminate:
		return r.terminateCheck(input)
	case TypeWait, TypeHuman:
		if g := r.test.gateOf(); g != nil {
			g.idleEnter() // a test's passes do not wait for it (mockgate.go)
			defer g.idleExit()
		}
		return r.waitTask(ctx, wt, rec, input)
	case TypeJoin:
		r.awaitReopened(ctx, wt, rec) // reopen_executing.go
		return r.join(wt, rec)
	case TypeEvent:
		return r.eventTask(ctx, wt, rec)
	case TypeExclusiveJoin:
		return r.exclusiveJoin(ctx, wt, rec)
	case TypeStartWorkflow:
		return r.startWorkflowTask(ctx, rec)
	case TypeLambda:
		return r.lambda(ctx, wt, input)
	case TypeSimple:
		if wt.dynamicOf != nil && (controlTypes[wt.Name] || wt.Name == TypeFork) && wt.Name != TypeSimple {
			return tasks.Result{Status: tasks.FailedTerminal, Reason: dynamicOperatorReason(wt.Name)}
		}
		fn, ok := r.e.workers[wt.Name]
		if !ok && r.e.remote != nil {
			return r.remoteTask(ctx, wt, rec, input)
		}
		if !ok {
			return tasks.Result{Status: tasks.FailedTerminal,
				Reason: fmt.Sprintf("no worker registered for SIMPLE task %q (embedders: engine.WithWorker; CLI: --worker %s=COMMAND)", wt.Name, wt.Name)}
		}
		// The worker may mask its own text (stderr) before it cuts it.
		wctx := runsecrets.NewContext(r.sec.ForTask(ctx, rec.Ref), r.sec)
		if names := r.policy(wt).runtimeMetadata; len(names) > 0 {
			md, err := r.runtimeMetadata(ctx, rec.Ref, names)
			if err != nil {
				return tasks.Result{Status: tasks.FailedTerminal, Reason: r.sec.Excerpt(err.Error(), maxReasonBytes)}
			}
			wctx = context.WithValue(wctx, runtimeMetadataKey{}, md)
		}
		out, err := fn(wctx, input)
		if err != nil {
			// Worker errors quote what the worker printed: masked whole,
			// then cut.
			return tasks.Result{Status: tasks.Failed, Reason: r.sec.Excerpt(err.Error(), maxReasonBytes)}
		}
		if len(out) == 0 {
			out = json.RawMessage("{}")
		}
		if !json.Valid(out) || out[0] != '{' {
			return tasks.Result{Status: tasks.Failed, Reason: fmt.Sprintf("worker %q returned output that is not a JSON object", wt.Name)}
		}
		return tasks.Result{Status: tasks.Completed, Output: out}
	}
	if impl == nil {
		impl, _ = r.e.registry.Lookup(wt.Type) // not looked up by startsScheduled
	}
	if impl == nil {
		if wt.Type == tasks.TypeExec {
			return tasks.Result{Status: tasks.FailedTerminal, Reason: "task type EXEC is disabled in this engine: enable it with `wfrun run --allow-exec` (embedders: tasks.RegisterExec on the engine's registry)"}
		}
		return tasks.Result{Status: tasks.FailedTerminal, Reason: fmt.Sprintf("no executor registered for task type %q", wt.Type)}
	}
	if wt.Type == tasks.TypeHTTP && asyncComplete(wt) {
		r.mu.Lock()
		waiting, out := rec.Awaiting, rec.outMem
		r.mu.Unlock()
		if waiting {
			// Resumed while it waited for its completion: the call was
			// made, its output recorded past its outputFilter.
			return r.awaitAsyncComplete(ctx, wt, rec, out)
		}
	}
	call := &leafCall{r: r, rec: rec}
	call.svc = tasks.Services{HTTPClient: r.e.httpClient, Masker: r.sec, Secrets: r.sec, Logf: call.logf}
	// The input is valid JSON: begin resolved it from the compiled template
	// (valid by construction) or checked it (a rerun's replacement input).
	call.req = tasks.Request{
		WorkflowID: r.id, TaskID: rec.TaskID, RefName: rec.Ref, TaskType: wt.Type, Attempt: rec.RetryCount,
		Def: wt.raw, Input: input, InputValid: len(input) > 0, Services: &call.svc,
	}
	res = impl.Execute(r.sec.ForTask(ctx, rec.Ref), &call.req)
	if res.Status == tasks.Completed && wt.Type == tasks.TypeHTTP && asyncComplete(wt) {
		// The response is recorded for the wait: its outputFilter applies
		// first, so the raw response is never stored.
		if wt.outputFilter != nil {
			if res = r.applyOutputFilter(ctx, wt, rec, res); res.Status != tasks.Completed {
				return res
			}
		}
		if err := r.startedWaiting(ctx, rec); err != nil {
			return tasks.Result{Status: tasks.Failed, Reason: r.sec.Excerpt(err.Error(), maxReasonBytes)}
		}
		return r.awaitAsyncComplete(ctx, wt, rec, res.Output)
	}
	if res.Status == tasks.InProgress {
		// Asynchronous completion (e.g. asyncComplete): wait like HUMAN.
		if err := r.startedWaiting(ctx, rec); err != nil {
			return tasks.Result{Status: tasks.Failed, Reason: r.sec.Excerpt(err.Error(), maxReasonBytes)}
		}
		return r.waitTask(ctx, wt, rec, []byte("{}"))
	}
	return res
}

// startedWaiting makes a system task whose execution left it waiting for
// its completion IN_PROGRESS, as Conductor's start() leaves it: it was
// SCHEDULED while the execution ran (startsScheduled).
func (r *runState) startedWaiting(ctx context.Context, rec *taskRecord) error {
	r.mu.Lock()
	scheduled := rec.Status == TaskScheduled
	r.mu.Unlock()
	if !scheduled {
		return nil
	}
	return r.transition(ctx, rec, TaskInProgress, "")
}

// startsScheduled is wt's executor when wt's record stays SCHEDULED while
// its execution runs, as Conductor shows a system task while its start()
// runs (AsyncSystemTaskExecutor persists the start time and leaves the
// status; the decider runs a synchronous one within its decision): the
// task types the engine runs through its registry; nil for the others. A
// worker's task (SIMPLE, and EXEC, wfrun's command) is IN_PROGRESS once
// it is taken, as a poll makes it; WAIT, HUMAN and JOIN are IN_PROGRESS
// while they wait, as their start() leaves them. The executor goes on to
// runLeaf: one registry lookup a task.
func (r *runState) startsScheduled(wt *WorkflowTask) tasks.Task {
	switch wt.Type {
	case TypeSimple, tasks.TypeExec, TypeSetVariable, TypeTerminate, TypeWait, TypeHuman, TypeJoin, TypeEvent,
		TypeExclusiveJoin, TypeStartWorkflow, TypeLambda:
		return nil
	}
	impl, _ := r.e.registry.Lookup(wt.Type)
	return impl
}

// remoteTask hands a SIMPLE task to the engine's RemoteWorkerFunc.
func (r *runState) remoteTask(ctx context.Context, wt *WorkflowTask, rec *taskRecord, input []byte) tasks.Result {
	// Queues are named "domain:type" (Conductor's): a ':' in either would
	// let a poll of another type or domain name this task's queue.
	r.mu.Lock()
	domain := rec.Domain
	r.mu.Unlock()
	if strings.Contains(wt.Name, ":") || strings.Contains(domain, ":") {
		return tasks.Result{Status: tasks.FailedTerminal,
			Reason: fmt.Sprintf("worker task %q in domain %q: a task type or domain containing ':' cannot be queued for workers (queues are named domain:type)", wt.Name, domain)}
	}
	pol := r.policy(wt)
	r.mu.Lock()
	t := RemoteTask{
		// The correlationId as views show it (headview.go): it goes out
		// in the worker's poll answer.
		RunID: r.id, WorkflowType: r.doc.WorkflowType, CorrelationID: r.sec.Text(r.doc.CorrelationID), WorkflowVersion: r.doc.Version,
		TaskID: rec.TaskID, Ref: rec.Ref, Name: wt.Name, RetryCount: rec.RetryCount, Iteration: rec.Iteration, RetriedTaskID: rec.RetriedTaskID, Seq: rec.Seq, StartDelay: r.e.shownStartDelay(rec, wt),
		Def: wt.raw, hand: &handoff{r: r, wt: wt, input: input, later: rec.later, names: pol.runtimeMetadata},
		RateLimitPerFrequency: rec.RateLimitPerFrequency, RateLimitFrequencyInSeconds: rec.RateLimitFrequencyInSeconds,
		ConcurrentExecLimit: pol.concurrentLimit, TaskDef: pol.def,
	}
	// Stored SCHEDULED and awaiting: the task shows while it waits for a
	// worker, and its answer may reach another process sharing the run
	// store (CompleteTask). A resumed attempt is offered again.
	rec.Awaiting = true
	if rec.Status == TaskInProgress {
		rec.Status, rec.Start = TaskScheduled, 0
	}
	r.touchLocked(rec)
	r.mu.Unlock()
	r.queueRemote(&t, rec) // domains.go
	if err := r.save(ctx); err != nil {
		return tasks.Result{Status: tasks.Failed, Reason: r.sec.Excerpt(err.Error(), maxReasonBytes)}
	}
	t.OfferAt = offerAtOf(ctx)
	att, stop := r.watchRemote(ctx, rec, pol)
	defer stop()
	t.att, t.ResponseTimeout = att, time.Duration(remoteResponseTimeout(pol))*time.Second
	res := r.remoteOrSignal(ctx, t, rec.Ref)
	// The handler that brought the answer waits for its write (Stored):
	// the transition that records the attempt's end settles it, or
	// execLeaf when it leaves without one.
	r.mu.Lock()
	rec.answered = att.outcome
	r.mu.Unlock()
	if res.Status == tasks.Completed {
		if len(res.Output) == 0 {
			res.Output = json.RawMessage("{}")
		}
		if !json.Valid(res.Output) || res.Output[0] != '{' {
			return tasks.Result{Status: tasks.Failed, Reason: fmt.Sprintf("worker for %q returned output that is not a JSON object", wt.Name)}
		}
	}
	res.Reason = r.sec.Excerpt(res.Reason, maxReasonBytes)
	return res
}

// remoteOrSignal waits for the remote worker's answer, or for the same
// answer delivered through the run store (CompleteTask from another process
// sharing it: the lease heartbeat moves such signals into r.pending),
// whichever comes first; the other is cancelled.
func (r *runState) remoteOrSignal(ctx context.Context, t RemoteTask, ref string) tasks.Result {
	rctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan tasks.Result, 1)
	go func() { done <- r.e.remote(rctx, t) }()
	tick := time.NewTicker(r.e.pollInterval)
	defer tick.Stop()
	for {
		select {
		case res := <-done:
			return res
		case <-t.att.nudged():
			// An answer was just stored for this task (RemoteTask.Nudge).
			_ = r.takeSignals(ctx)
			if sig, ok := r.takePending(ref); ok && (sig.TaskID == "" || sig.TaskID == t.TaskID) {
				cancel()
				<-done
				return sig.result()
			}
		case <-tick.C:
			if sig, ok := r.takePending(ref); ok {
				if sig.TaskID != "" && sig.TaskID != t.TaskID {
					continue // an answer for an earlier attempt (CompleteTaskAttempt)
				}
				cancel()
				<-done
				return sig.result()
			}
		}
	}
}

func (r *runState) lambda(ctx context.Context, wt *WorkflowTask, input []byte) tasks.Result {
	prog := wt.program
	if prog == nil {
		// The script itself came from an expression: compile it now.
		var in struct {
			Script string `json:"scriptExpression"`
		}
		_ = json.Unmarshal(input, &in)
		p, err := eval.Compile(eval.TypeJavaScript, "(function(){ "+in.Script+"\n})()")
		if err != nil {
			// The parser's words may quote a piece of a value the
			// script holds: masked with the pieces of values.
			return tasks.Result{Status: tasks.FailedTerminal, Reason: r.sec.CodeExcerpt("scriptExpression: "+err.Error(), maxReasonBytes)}
		}
		prog = p
	}
	var in any
	_ = json.Unmarshal(input, &in)
	v, err := prog.Eval(ctx, in)
	if err != nil {
		return tasks.Result{Status: tasks.Failed, Reason: r.sec.CodeExcerpt("scriptExpression: "+err.Error(), maxReasonBytes)}
	}
	out, err := json.Marshal(map[string]any{"result": v})
	if err != nil {
		return tasks.Result{Status: tasks.FailedTerminal, Reason: "LAMBDA result is not JSON: " + err.Error()}
	}
	return tasks.Result{Status: tasks.Completed, Output: out}
}

func (r *runState) logf(rec *taskRecord) func(string, ...any) {
	return func(format string, args ...any) {
		r.emit(Event{Kind: EventTask, TaskRef: rec.Ref, TaskType: rec.TaskType, TaskID: rec.TaskID, Status: TaskInProgress,
			Reason: fmt.Sprintf(format, args...)})
	}
}

// defaultMaxVariablesKB is Conductor's default
// maxWorkflowVariablesPayloadSizeThreshold (256 KB).
const defaultMaxVariablesKB = 256

func (r *runState) setVariable(input []byte) tasks.Result {
	in := map[string]json.RawMessage{}
	if err := json.Unmarshal(input, &in); err != nil {
		return tasks.Result{Status: tasks.FailedTerminal, Reason: "SET_VARIABLE input must be a JSON object"}
	}
	err := r.mergeVariablesWith(func(vars map[string]json.RawMessage) {
		for k, v := range in {
			vars[k] = v
		}
	})
	if err != nil {
		// Conductor's SetVariable reason when too large; the variables
		// stay as they were.
		return tasks.Result{Status: tasks.FailedTerminal, Reason: err.Error()}
	}
	return tasks.Result{Status: tasks.Completed, Output: json.RawMessage("{}")}
}

type terminateInput struct {
	Status string          `json:"terminationStatus"`
	Reason string          `json:"terminationReason"`
	Output json.RawMessage `json:"workflowOutput"`
}

// validTerminationStatus is Conductor's Terminate.validateInputStatus:
// COMPLETED, FAILED or TERMINATED, spelled so (no other case).
func validTerminationStatus(s string) bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusTerminated
}

// terminateCheck is Terminate.execute: a termination status it does not
// know (or none, or not a string) fails the task FAILED with its words,
// and the run then fails as with any failed task (retry()).
func (r *runState) terminateCheck(input []byte) tasks.Result {
	var in struct {
		Status json.RawMessage `json:"terminationStatus"`
		Output json.RawMessage `json:"workflowOutput"`
	}
	_ = json.Unmarshal(input, &in)
	var status string
	if json.Unmarshal(in.Status, &status) != nil || !validTerminationStatus(status) {
		return tasks.Result{Status: tasks.Failed, Reason: "given termination status is not valid"}
	}
	// Conductor's Terminate: a map workflowOutput is the task output, any
	// other value is wrapped as {"output": value}.
	if len(in.Output) == 0 || string(in.Output) == "null" {
		return tasks.Result{Status: tasks.Completed, Output: json.RawMessage("{}")}
	}
	if in.Output[0] == '{' {
		return tasks.Result{Status: tasks.Completed, Output: in.Output}
	}
	b, _ := json.Marshal(map[string]json.RawMessage{"output": in.Output})
	return tasks.Result{Status: tasks.Completed, Output: b}
}

// terminateStop turns a completed TERMINATE into the run's end. The stored
// input (masked) carries terminationStatus/Reason/workflowOutput.
func (r *runState) terminateStop(rec *taskRecord, input []byte) error {
	var in terminateInput
	_ = json.Unmarshal(input, &in)
	st := &stopError{status: strings.ToUpper(in.Status), reason: in.Reason, failedRef: "", failedTaskID: ""}
	if strings.TrimSpace(st.reason) == "" {
		st.reason = fmt.Sprintf("Workflow is %s by TERMINATE task: %s", st.status, rec.TaskID)
	}
	if st.status == StatusFailed || st.status == StatusTerminated {
		st.failedRef, st.failedTaskID = rec.Ref, rec.TaskID
	}
	if len(in.Output) > 0 && string(in.Output) != "null" {
		if in.Output[0] == '{' {
			st.output = in.Output
		} else {
			st.output, _ = json.Marshal(map[string]json.RawMessage{"output": in.Output})
		}
	}
	return st
}

// waitTiming is when a WAIT's attempt ends by itself (0: only from
// outside) and its callbackAfterSeconds, as WaitTaskMapper.setCallbackAfter
// sets them from the task's input; fail is why the mapper fails the task
// (FAILED_WITH_TERMINAL_ERROR) instead.
func (r *runState) waitTiming(rec *taskRecord, input []byte) (waitUntil, callback int64, fail string) {
	var in struct {
		Duration json.RawMessage `json:"duration"`
		Until    json.RawMessage `json:"until"`
	}
	_ = json.Unmarshal(input, &in)
	r.mu.Lock()
	callback, retry := rec.Callback, rec.RetryCount
	r.mu.Unlock()
	// The mapper reads each as text (a number, an object or a bool too,
	// which then fails as a format it cannot read) and takes a blank one
	// as not given.
	duration, until := waitInputText(in.Duration), waitInputText(in.Until)
	switch {
	case duration != "" && until != "":
		// Built so at run time (registration refuses it written so): the
		// mapper's words.
		return 0, 0, "Both 'duration' and 'until' specified. Please provide only one input"
	case duration != "":
		d, err := parseDuration(duration)
		if err != nil {
			return 0, 0, fmt.Sprintf("invalid duration %q: %v", duration, err)
		}
		// Conductor's WaitTaskMapper shows the wait on the record as
		// callbackAfterSeconds (clients and UIs read it).
		return r.e.now().Add(d).UnixMilli(), int64(d / time.Second), ""
	case until != "":
		t, err := parseUntil(until)
		if err != nil {
			// WaitTaskMapper's words (two spaces included).
			return 0, 0, "Invalid/Unsupported Wait Until format.  Provided: " + until
		}
		return t.UnixMilli(), max(int64(t.Sub(r.e.now())/time.Second), 0), ""
	case retry == 0:
		// No time given: Conductor's WaitTaskMapper makes the WAIT wait
		// for ever, callbackAfterSeconds Integer.MAX_VALUE. A retry is a
		// copy of the attempt it retries, its callbackAfterSeconds the
		// retry's delay (retry()).
		return 0, math.MaxInt32, ""
	}
	return 0, callback, ""
}

// startWait gives a WAIT's record its timing (waitTiming) before the
// record shows IN_PROGRESS: WaitTaskMapper maps the task IN_PROGRESS with
// its callbackAfterSeconds, so no reader (an early write for one,
// visible.go) sees it waiting without them. Input the mapper fails is
// failed by waitTask.
func (r *runState) startWait(rec *taskRecord, input []byte) {
	r.mu.Lock()
	set := rec.WaitUntil != 0 || rec.Awaiting
	r.mu.Unlock()
	if set {
		return // a resumed attempt: its timing stands
	}
	waitUntil, callback, fail := r.waitTiming(rec, input)
	if fail != "" {
		return
	}
	r.mu.Lock()
	rec.WaitUntil, rec.Callback, rec.Postponed = waitUntil, callback, 0
	r.touchLocked(rec)
	r.mu.Unlock()
}

// waitTask waits for WAIT's duration/until, or for an external completion
// (a signal written by CompleteTask, possibly from another process).
func (r *runState) waitTask(ctx context.Context, wt *WorkflowTask, rec *taskRecord, input []byte) tasks.Result {
	r.mu.Lock()
	waitUntil, callback, postponed, resumed := rec.WaitUntil, rec.Callback, rec.Postponed, rec.Awaiting
	r.mu.Unlock()
	if waitUntil == 0 && wt.Type == TypeWait && !resumed {
		var fail string
		if waitUntil, callback, fail = r.waitTiming(rec, input); fail != "" {
			return tasks.Result{Status: tasks.FailedTerminal, Reason: fail}
		}
	}
	// Recorded so that CompleteTask (possibly in another process) knows this
	// attempt accepts an external completion.
	r.mu.Lock()
	changed := rec.WaitUntil != waitUntil || !rec.Awaiting || rec.Callback != callback
	rec.WaitUntil, rec.Awaiting, rec.Callback = waitUntil, true, callback
	r.touchLocked(rec)
	r.mu.Unlock()
	// Only a WAIT is looked at again when an update IN_PROGRESS put it
	// back in its queue (Conductor's HUMAN and asyncComplete tasks are
	// in no queue a system task worker takes).
	queued := wt.Type == TypeWait && rec.TaskType == TypeWait
	if changed {
		if err := r.save(ctx); err != nil {
			return tasks.Result{Status: tasks.Failed, Reason: err.Error()}
		}
	}
	what := "external completion"
	if waitUntil != 0 {
		what = "until " + time.UnixMilli(waitUntil).UTC().Format(time.RFC3339)
	}
	r.emit(Event{Kind: EventWaiting, TaskRef: rec.Ref, TaskType: rec.TaskType, TaskID: rec.TaskID, Status: TaskInProgress, Reason: what})
	var due <-chan time.Time
	stopDue := func() {}
	// arm sets the timer for the WAIT's next look: its end, or the time
	// an update IN_PROGRESS put it back in its queue until (postponed,
	// stored with the record so a resumed run keeps it).
	arm := func() {
		stopDue()
		due, stopDue = nil, func() {}
		if at := waitNextLook(waitUntil, postponed); at != 0 {
			due, stopDue = r.e.clock.After(time.UnixMilli(at).Sub(r.e.now()))
		}
	}
	arm()
	defer func() { stopDue() }()
	// looked is what the WAIT's look at its due time does: it ends, or it
	// was taken from its queue before its end and waits on (false).
	// Each look counts a poll (AsyncSystemTaskExecutor increments the
	// pollCount of a task that does not complete asynchronously before it
	// executes it): the one that ends the WAIT is stored with its end.
	looked := func() (bool, error) {
		if postponed == 0 || (waitUntil != 0 && postponed >= waitUntil) || (waitUntil != 0 && !r.e.now().Before(time.UnixMilli(waitUntil))) {
			r.mu.Lock()
			rec.PollCount++
			r.mu.Unlock()
			return true, nil
		}
		next, err := r.waitTakenEarly(ctx, rec, waitUntil)
		if err != nil {
			return false, err
		}
		postponed = next
		arm()
		return false, nil
	}
	// ended is a result that ends the WAIT: no look follows (the record
	// is written with its end).
	ended := func(res tasks.Result) tasks.Result {
		r.mu.Lock()
		rec.Postponed = 0
		r.mu.Unlock()
		return res
	}
	// onDue is the WAIT's look at its due time: its result when it ends
	// (done), else it waits on.
	onDue := func() (tasks.Result, bool) {
		done, err := looked()
		if err != nil {
			return tasks.Result{Status: tasks.Failed, Reason: r.sec.Excerpt(err.Error(), maxReasonBytes)}, true
		}
		if !done {
			return tasks.Result{}, false
		}
		return ended(tasks.Result{Status: tasks.Completed, Output: json.RawMessage("{}")}), true
	}
	poll := time.NewTicker(r.e.pollInterval)
	defer poll.Stop()
	for {
		moved := r.signalsTaken() // an update IN_PROGRESS is told of: taken at once
		if sig, ok := r.takePending(rec.Ref); ok {
			if sig.Status != TaskInProgress {
				res := sig.result()
				if sig.MergeOutput {
					// Built from the pending task (a signal, an update
					// by reference): its output under the update's.
					r.mu.Lock()
					base := rec.outMem
					r.mu.Unlock()
					res.Output = overOutput(base, res.Output)
				}
				return ended(res)
			}
			if sig.TaskID == "" || sig.TaskID == rec.TaskID {
				next := int64(0)
				if queued {
					// Conductor's updateTask puts the task back in its
					// queue for callbackAfterSeconds (queueDAO.postpone),
					// and Wait.execute looks at the wait's end only when
					// it comes out: the WAIT ends at its end or once the
					// callback has passed, whichever is later.
					next = r.e.now().Add(time.Duration(max(sig.Callback, 0)) * time.Second).UnixMilli()
				}
				if err := r.waitProgress(ctx, rec, &sig, next); err != nil {
					return tasks.Result{Status: tasks.Failed, Reason: r.sec.Excerpt(err.Error(), maxReasonBytes)}
				}
				if queued {
					postponed = next
					arm()
				}
			}
			continue
		}
		// The deadline before another poll: a slow poll (a store that went
		// away) must not starve it.
		select {
		case <-due:
			if res, done := onDue(); done {
				return res
			}
			continue
		default:
		}
		select {
		case <-due:
			if res, done := onDue(); done {
				return res
			}
		case <-ctx.Done():
			return tasks.Result{Status: tasks.Failed, Reason: ctx.Err().Error()}
		case <-moved:
			continue
		case <-poll.C:
		}
		r.pollSignals(ctx)
	}
}

// waitProgress applies an update IN_PROGRESS to record rec, waiting for
// its completion from outside (waitTask): it stays IN_PROGRESS and
// waiting, with the update's output (its outputData, {} without one),
// reason and callbackAfterSeconds, as Conductor's updateTask sets them on
// a system task and stores it. The WAIT's own timing (its duration or
// until) stands.
//
// postponed (Unix ms, 0: none) is the time a WAIT so updated is put back
// in its queue until, stored with it (waitTask).
func (r *runState) waitProgress(ctx context.Context, rec *taskRecord, sig *signal, postponed int64) error {
	out := sig.Output
	if len(out) == 0 || string(out) == "null" {
		out = json.RawMessage("{}")
	}
	if sig.MergeOutput {
		// By reference: the task's output with the update's members
		// over it (Conductor's TaskResult made from the pending task).
		r.mu.Lock()
		base := rec.outMem
		r.mu.Unlock()
		out = overOutput(base, out)
	}
	gen := r.sec.Generation()
	mem, stored, err := r.sec.Protect(out, "/tasks/"+rec.TaskID+"/outputData")
	if err != nil {
		return fmt.Errorf("outputData: %w", err)
	}
	reason := r.sec.Excerpt(sig.Reason, maxReasonBytes)
	r.mu.Lock()
	r.rx.producedLocked(gen)
	rec.outMem, rec.outStored = mem, stored
	rec.Reason, rec.heldReason, rec.Callback, rec.Postponed = reason, false, max(sig.Callback, 0), postponed
	rec.EmptyReasonAt = ""
	if reason == "" && sig.EmptyReason {
		rec.EmptyReasonAt = rec.Status
	}
	r.touchLocked(rec)
	r.mu.Unlock()
	if err := r.save(ctx); err != nil {
		return err
	}
	r.answerUpdate(ctx, sig.Answer)
	r.emit(Event{Kind: EventTask, TaskRef: rec.Ref, TaskType: rec.TaskType, TaskID: rec.TaskID, Status: TaskInProgress, Reason: UpdatedInProgress})
	return nil
}

// waitNextLook is when a WAIT (its end at waitUntil, Unix ms; 0: none)
// is looked at next: when an update IN_PROGRESS put it back in its queue
// until (postponed; 0: none), else at its end (0: never by itself).
func waitNextLook(waitUntil, postponed int64) int64 {
	if postponed != 0 {
		return postponed
	}
	return waitUntil
}

// systemTaskCallback is Conductor's systemTaskWorkerCallbackDuration: a
// system task a look leaves waiting without an evaluation offset of its
// own is put back in its queue for it.
const systemTaskCallback = 30

// waitTakenEarly is the look at WAIT record rec taken from its queue
// before its end (waitUntil; 0: none), an update IN_PROGRESS having put
// it back for less: as Conductor's AsyncSystemTaskExecutor, finding the
// wait not over, it counts the poll, sets callbackAfterSeconds to the
// seconds left (Wait.getEvaluationOffset: whole seconds, at least 1; for
// a WAIT without an end, the system task callback) and stores the task.
// It returns when the WAIT is looked at next, stored with it (Unix ms;
// 0: at its end): a WAIT without an end is put back in its queue for the
// callback, and so looked at again every 30 s, each look stored, until
// it is completed from outside.
func (r *runState) waitTakenEarly(ctx context.Context, rec *taskRecord, waitUntil int64) (int64, error) {
	callback, next := int64(systemTaskCallback), int64(0)
	if waitUntil != 0 {
		callback = max(int64(time.UnixMilli(waitUntil).Sub(r.e.now())/time.Second), 1)
	} else {
		next = r.e.now().Add(systemTaskCallback * time.Second).UnixMilli()
	}
	r.mu.Lock()
	rec.Callback, rec.Postponed = callback, next
	rec.PollCount++
	r.touchLocked(rec)
	r.mu.Unlock()
	return next, r.save(ctx)
}

// answerUpdate tells the caller of CompleteTaskStored, waiting in the
// answer slot key (none: nobody waits), that its update is stored
// (answerwait.go: nothing is written for a caller that left).
func (r *runState) answerUpdate(ctx context.Context, key string) {
	if key == "" {
		return
	}
	r.answerTo(ctx, key, []byte(`"stored"`))
}

// UpdatedInProgress is the Reason of the EventTask told once an update
// IN_PROGRESS of a task waiting for its completion from outside, or of a
// SUB_WORKFLOW task, is applied and stored.
const UpdatedInProgress = "updated IN_PROGRESS"

// waitInputText is a WAIT's duration or until as WaitTaskMapper reads it:
// a string as it is, absent or null as "", any other value (a number, an
// object, a bool) as its JSON text; "" when blank.
func waitInputText(v json.RawMessage) string {
	var s string
	switch v = bytes.TrimSpace(v); {
	case len(v) == 0 || string(v) == "null":
	case v[0] == '"':
		_ = json.Unmarshal(v, &s)
	default:
		var b bytes.Buffer
		if json.Compact(&b, v) != nil {
			return string(v)
		}
		s = b.String()
	}
	if strings.TrimSpace(s) == "" {
		return ""
	}
	return s
}

// takePending takes the pending signal of ref, the next update queued
// behind it moving up (dropPendingLocked).
func (r *runState) takePending(ref string) (signal, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	s, ok := r.pending[ref]
	if ok {
		r.dropPendingLocked(ref)
	}
	return s, ok
}

func (r *runState) pollSignals(ctx context.Context) { _ = r.takeSignals(ctx) }

// takeSignals moves the run's pending signals from the store to r.pending.
func (r *runState) takeSignals(ctx context.Context) error {
	r.takeMu.Lock()
	defer r.takeMu.Unlock()
	sigs, err := r.e.runs.TakeSignals(ctx, r.id)
	if err != nil || len(sigs) == 0 {
		return err
	}
	keys := make([]string, 0, len(sigs))
	for k := range sigs {
		keys = append(keys, k)
	}
	signalOrder(keys) // subworkflow_update.go
	var dropped []string
	r.mu.Lock()
	for _, k := range keys {
		var s signal
		if json.Unmarshal(sigs[k], &s) != nil {
			continue
		}
		if s = r.openSignal(k, s); !r.pendLocked(k, s) && s.Answer != "" { // signalseal.go
			dropped = append(dropped, s.Answer)
		}
	}
	// Whoever waits for a signal (runChild) looks at pending again.
	if r.taken != nil {
		close(r.taken)
		r.taken = nil
	}
	r.mu.Unlock()
	// An update dropped (it came after the task ended) is answered too:
	// its caller waits no more, and no mark of a caller that left stays.
	for _, a := range dropped {
		r.answerUpdate(ctx, a)
	}
	return nil
}

// signalsTaken returns a channel closed when takeSignals next moves
// signals into r.pending (the lease keeper takes them about once a second,
// and at once when poked: signalnudge.go). Get it before looking at
// r.pending, so that no signal moved in between is missed.
func (r *runState) signalsTaken() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.taken == nil {
		r.taken = make(chan struct{})
	}
	return r.taken
}

// beginControl is begin for control-flow tasks (no retries).
func (r *runState) beginControl(ctx context.Context, wt *WorkflowTask, ref string, iter int) (*taskRecord, []byte, bool, error) {
	return r.beginAttempt(ctx, wt, ref, iter, 0)
}

// beginAttempt is beginControl for attempt retry of a task (its retries
// are new records with retriedTaskId).
func (r *runState) beginAttempt(ctx context.Context, wt *WorkflowTask, ref string, iter, retry int) (*taskRecord, []byte, bool, error) {
	rec, input, done, fail, err := r.begin(ctx, wt, ref, iter, retry)
	if err != nil || done {
		return rec, nil, done, err
	}
	if fail != nil {
		return rec, nil, false, r.failTask(ctx, rec, string(fail.Status), fail.Reason)
	}
	if rec.Status != TaskInProgress {
		if err := r.transition(ctx, rec, TaskInProgress, ""); err != nil {
			return rec, nil, false, err
		}
	}
	return rec, input, false, nil
}

// walkTasks calls fn on every task of list and of the tasks nested in them
// (SWITCH cases, fork branches, DO_WHILE bodies), in document order.
func walkTasks(list []*WorkflowTask, fn func(*WorkflowTask)) {
	for _, t := range list {
		if t == nil {
			continue
		}
		fn(t)
		for _, c := range t.DecisionCases {
			walkTasks(c, fn)
		}
		walkTasks(t.DefaultCase, fn)
		for _, b := range t.ForkTasks {
			walkTasks(b, fn)
		}
		walkTasks(t.LoopOver, fn)
	}
}

// noMembers: b is no JSON object member (nothing, null, or {}).
func noMembers(b []byte) bool {
	b = bytes.TrimSpace(b)
	return len(b) == 0 || string(b) == "null" || emptyObject(b) // fork.go
}

// subWorkflowAttempt runs attempt retry of a SUB_WORKFLOW task: a retry
// recorded with callback seconds (its callbackAfterSeconds and
// startDelayInSeconds) starts its child after wait (retryWait).
func (r *runState) subWorkflowAttempt(ctx context.Context, wt *WorkflowTask, ref string, iter, retry int, canRetry bool, callback int64, wait time.Duration) error {
	// The record goes IN_PROGRESS once it has its child (inProgressWith),
	// as Conductor's SubWorkflow.start records both in one update: no view
	// shows it IN_PROGRESS without a subWorkflowId.
	rec, input, done, fail, err := r.beginRetry(ctx, wt, ref, iter, retry, callback, nil)
	if err != nil || done {
		return err
	}
	if fail != nil {
		return r.failTask(ctx, rec, string(fail.Status), fail.Reason)
	}
	r.mu.Lock()
	childless := rec.Status == TaskInProgress && rec.Awaiting && rec.SubWorkflowID == ""
	r.mu.Unlock()
	if childless {
		// An update IN_PROGRESS left it without its child: it waits for a
		// final update (subworkflow_update.go).
		return r.subWorkflowDetached(ctx, rec, canRetry)
	}
	m, err := r.subWorkflowMapping(ctx, wt, rec) // subworkflow.go
	if err != nil {
		if st := mappingFailure(err); st == TaskFailed && canRetry {
			if err := r.transition(ctx, rec, st, r.sec.Excerpt(err.Error(), maxReasonBytes)); err != nil {
				return err
			}
			return errRetrySubWorkflow
		}
		return r.failTask(ctx, rec, mappingFailure(err), err.Error())
	}
	def, byName, extras, kept := m.def, m.byName, m.extras, m.kept
	// The child stores the parent's references, never the values they
	// resolved to (as the parent's own task input does).
	refs, err := r.sec.Unseal(rec.inStored, "/tasks/"+rec.TaskID+"/inputData")
	if err != nil {
		return r.failTask(ctx, rec, TaskFailedTerminal, "sub-workflow input: "+err.Error())
	}
	if r.keptWrapped(rec) {
		refs = orEmpty(subWorkflowInputOf(refs)) // rerun.go
	} else if in := r.keptChildInput(wt, kept); in != nil {
		// A retry: its child's input is the one the attempt it retries
		// stored (subworkflow.go).
		input, refs = in, in
	}
	record := subWorkflowRecordInput(m, refs)
	if kept != nil {
		record = kept.record
	}
	if err := r.setResolvedInput(rec, record); err != nil {
		return r.failTask(ctx, rec, TaskFailedTerminal, "sub-workflow input: "+err.Error())
	}
	if noMembers(input) && noMembers(refs) {
		// No workflowInput: the child gets the task's whole inputData,
		// as Conductor's SubWorkflow.start hands it (wfInput = input when
		// workflowInput is null or empty). record holds the stored form
		// (references, never values) and the child protects its input
		// as any run does.
		input, refs = record, record
	}
	if !byName {
		input, refs = markDynamic(input), markDynamic(refs) // subworkflow.go
	}
	r.mu.Lock()
	childID := rec.SubWorkflowID
	r.mu.Unlock()
	// subworkflowchild.go: a record names its child once the child is
	// stored (named); until then the child's id is derived from it.
	named := childID != ""
	var doc []byte
	var archived bool
	var lerr error
	if !named {
		if childID, err = r.unnamedChild(ctx, rec); err != nil {
			return err
		}
		// A retry, stored SCHEDULED: its child starts once its delay
		// has passed (subworkflow.go).
		if rec.Status == TaskScheduled {
			if err := r.retryWait(ctx, rec, wait); err != nil {
				return err
			}
		}
		// subworkflow_update.go: updated while SCHEDULED, it starts none.
		if taken, err := r.updateBeforeStart(ctx, rec, canRetry); taken {
			return err
		}
		r.polledForStart(rec) // subworkflow.go
		// Not over a child of its own that ended unsuccessfully.
		childID, doc, archived, lerr = r.childToStart(ctx, rec, childID)
		// subworkflow.go: an idempotency key held by another run makes
		// the task follow that run, or fail.
		if existing, err := r.claimChildKey(ctx, wt, def.Name, extras, childID); err != nil || existing != "" {
			if err != nil {
				return r.failTask(ctx, rec, TaskFailed, "sub-workflow: "+err.Error())
			}
			return r.followExisting(ctx, rec, existing, canRetry)
		}
	} else {
		if err := r.inProgressWith(ctx, rec); err != nil {
			return err
		}
		doc, archived, lerr = r.e.runs.Load(ctx, childID)
	}
	var res *Result
	var child *runState
	if lerr != nil && !errors.Is(lerr, runstore.ErrNotFound) {
		// Not known to be missing: a child is never started over a run
		// that may be stored.
		return fmt.Errorf("sub-workflow %s: %w", childID, lerr)
	}
	if lerr == nil {
		var cd runDoc
		if err := json.Unmarshal(doc, &cd); err != nil {
			return r.failTask(ctx, rec, TaskFailedTerminal, fmt.Sprintf("sub-workflow %s: damaged run document", childID))
		}
		if !named {
			// Stored by a process that died before it named it.
			if err := r.checkOwnChild(rec, childID, &cd); err != nil {
				return r.failTask(ctx, rec, TaskFailedTerminal, err.Error())
			}
			if err := r.nameChild(ctx, rec, childID); err != nil {
				return err
			}
		}
		if terminalWorkflow(cd.Status) {
			// The child ended before this process could record it (crash
			// between the two writes): take its recorded outcome, once it
			// verifies (recordseal.go).
			if err := r.e.checkOutcome(childID, &cd); err != nil {
				return r.failTask(ctx, rec, TaskFailedTerminal, "sub-workflow: "+err.Error())
			}
			return r.subWorkflowDone(ctx, rec, shortName(cd.WorkflowType, cd.Version, childID), cd.Status, cd.ReasonForIncompletion, cd.Output, canRetry)
		}
		// The child that runs on (a resume, a re-open): built from the
		// document just read, not read again.
		if archived {
			err = fmt.Errorf("%w: run %s is archived", ErrNotRunning, childID)
		} else {
			child, err = r.e.loadDoc(ctx, childID, doc, &cd, r.sec)
		}
		if err == nil {
			err = child.restoreParentInput(input, refs) // reopen.go
		}
		if err == nil {
			child.test = r.test.adopt(ref, child.test) // its mocks as stored (mock.go)
		}
		if err != nil {
			return r.failTask(ctx, rec, TaskFailed, fmt.Sprintf("sub-workflow %s: %v", childID, err))
		}
	} else {
		cfg := &runConfig{id: childID, principal: r.doc.Principal, project: r.doc.Project, env: r.doc.Environment,
			correlationID: r.doc.CorrelationID, refInput: refs, test: r.test.child(ref)} // a test run's child is one too (mock.go)
		r.childConfig(cfg, extras) // subworkflow.go: domains, priority, idempotency key
		child, err = r.e.newRun(ctx, def, input, cfg, r.id, rec.TaskID, r.sec)
		if err != nil {
			if cfg.idempotencyKey != "" {
				_ = r.e.ReleaseIdempotencyKey(context.WithoutCancel(ctx), def.Name, cfg.idempotencyKey, childID)
			}
			var refused *noSubWorkflowDef
			if errors.As(err, &refused) {
				// subpin.go: the child's start is refused as
				// SubWorkflow.start's startWorkflow call throws: the
				// task FAILED with its words, retried as its
				// definition says.
				if canRetry {
					if err := r.transition(ctx, rec, TaskFailed, r.sec.Excerpt(refused.Error(), maxReasonBytes)); err != nil {
						return err
					}
					return errRetrySubWorkflow
				}
				return r.failTask(ctx, rec, TaskFailed, refused.Error())
			}
			return r.failTask(ctx, rec, TaskFailedTerminal, "sub-workflow: "+err.Error())
		}
		if !named {
			if err := r.nameChild(ctx, rec, childID); err != nil {
				return err
			}
		}
	}
	res, taken, err := r.runChild(ctx, child, rec) // subworkflow_update.go
	if taken != nil && taken.Status == TaskInProgress {
		// Updated IN_PROGRESS naming no child: the child goes on
		// without it, and it waits for a final update.
		return r.subWorkflowDetached(ctx, rec, canRetry)
	}
	if taken != nil {
		return r.subWorkflowUpdated(ctx, rec, taken, canRetry)
	}
	if err != nil {
		if reason, ending := parentEnding(ctx); ending {
			// The parent ends early (a timeout, a failed branch, a
			// terminate): its child is terminated, as Conductor's
			// SubWorkflow.cancel does.
			if _, ferr := child.finish(context.WithoutCancel(ctx), &stopError{status: StatusTerminated,
				reason: parentTerminatedReason(reason)}); ferr != nil {
				return errors.Join(err, ferr)
			}
		}
		return err
	}
	child.mu.Lock()
	childOut, short := child.doc.Output, shortName(child.doc.WorkflowType, child.doc.Version, childID)
	child.mu.Unlock()
	return r.subWorkflowDone(ctx, rec, short, res.Status, res.Reason, childOut, canRetry)
}
