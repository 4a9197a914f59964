package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/wfrun/wfrun/tasks"
)

// forkRest is what remains of a FORK_JOIN once its JOIN may run.
type forkRest struct {
	cancel func()       // cancels the branches
	wait   func() error // waits for them; the fork's outcome
}

// notifyScheduled tells the enclosing fork that its branch has scheduled a
// task of type typ (forkpasses.go). An operator whose mapper schedules its
// first inner task with it (SWITCH, DECISION, a fork) does not count:
// Conductor's decider records that inner task in the same pass, before the
// next branch's. DO_WHILE's mapper schedules the loop task alone; the
// decider then executes it, which schedules its first iteration in the next
// pass. A nested fork takes its branch's place in the turns (enter).
// typ "" (a replayed record) counts as a task that waits.
func notifyScheduled(ctx context.Context, typ string) {
	if mappedWithFirstTask[typ] {
		return
	}
	if b, ok := ctx.Value(branchKey{}).(*branchTurn); ok && b != nil {
		b.scheduled(ctx, executedByDecider[typ], typ == TypeDoWhile)
	}
}

// notifyScheduledSync tells the enclosing fork that its branch's operator
// scheduled nothing with it and ends in the decider's pass, as a
// synchronous task does (a SWITCH or DECISION whose case has no tasks).
func notifyScheduledSync(ctx context.Context) {
	if b, ok := ctx.Value(branchKey{}).(*branchTurn); ok && b != nil {
		b.scheduled(ctx, true, false)
	}
}

// executedByDecider are the task types Conductor's decider executes itself
// as soon as it has scheduled them (synchronous system tasks): a branch at
// one of them goes on to schedule its next task in the next pass, where
// any other task waits for a worker, a timer or a child run.
var executedByDecider = map[string]bool{
	"INLINE": true, TypeLambda: true, "JSON_JQ_TRANSFORM": true, TypeSetVariable: true, TypeTerminate: true,
	TypeDoWhile: true,
}

// mappedWithFirstTask are the operators Conductor's task mappers schedule
// together with their first inner task.
var mappedWithFirstTask = map[string]bool{
	TypeSwitch: true, TypeDecision: true, TypeForkJoin: true, TypeForkJoinDynamic: true,
}

// unjoinedForkReason is the reason of a run failed by a fork not followed
// by a JOIN: ForkJoinTaskMapper's and ForkJoinDynamicTaskMapper's words.
var unjoinedForkReason = map[string]string{
	TypeForkJoin:        "Fork task definition is not followed by a join task.  Check the blueprint",
	TypeForkJoinDynamic: "Dynamic join definition is not followed by a join task.  Check the workflow definition.",
}

// execFork starts the branches and returns once the JOIN that follows
// (join; with none the run fails, as in Conductor) may run: when every task
// in its joinOn has succeeded (Conductor JOIN semantics; branches not
// joined on keep running) or, failing that, when every branch has ended. A
// branch that fails cancels the others and calls stop with its error, which
// ends the tasks after the JOIN. The returned forkRest waits for the
// branches still running. The JOIN's record exists (IN_PROGRESS,
// inputData.joinOn) from the moment the branches are scheduled, so a run
// that ends early still shows it, CANCELED.
func (r *runState) execFork(ctx context.Context, wt *WorkflowTask, join *WorkflowTask, suffix string, iter int, stop func(cause error)) (*forkRest, error) {
	ref := wt.TaskReferenceName + suffix
	// A case's mapping it is part of is over by the time it returns
	// (forkCaseMapping).
	defer endCaseMapping(ctx, r)
	if ok, err := r.settledOperator(ctx, wt, ref); ok {
		return nil, err // resume.go: its outcome stands
	}
	if wt.Type == TypeForkJoinDynamic {
		if prev := r.lookup(ref); prev == nil || !successfulTask(prev.Status) {
			// Conductor's mapper builds the forked tasks before it records
			// anything: input it cannot fork fails the run with no FORK.
			if err := r.checkDynamicFork(ctx, wt); err != nil {
				return nil, &stopError{status: StatusFailed, reason: r.sec.Excerpt(err.Error(), maxReasonBytes)}
			}
		}
	}
	if wt.Type == TypeForkJoin {
		// A branch's first task mapped with the fork may throw, which
		// fails the run with nothing of the fork recorded (mapperthrow.go).
		if err := r.mapperThrows(ctx, []*WorkflowTask{wt, join}, 0, suffix); err != nil {
			return nil, err
		}
	}
	if join == nil {
		// Conductor's mappers fail the run, recording nothing, when the
		// fork is not followed by a JOIN (after a dynamic fork's input).
		return nil, &stopError{status: StatusFailed, reason: unjoinedForkReason[wt.Type]}
	}
	rec, input, done, err := r.beginControl(ctx, wt, ref, iter)
	// The FORK, the branches' first tasks and the JOIN are written as one
	// decision (forkdecision.go); it closes once the JOIN is recorded.
	closeDecision := r.decisionCloser(r.takeDecision(rec))
	if err != nil {
		return nil, orElse(err, closeDecision(ctx))
	}
	branches, joinOn := wt.ForkTasks, join.JoinOn
	if wt.Type == TypeForkJoinDynamic {
		dyn, err := r.dynamicFork(ctx, wt, rec, input, done)
		if err != nil {
			err = r.failTask(ctx, rec, TaskFailedTerminal, err.Error())
			return nil, orElse(err, closeDecision(ctx))
		}
		branches, joinOn = make([][]*WorkflowTask, len(dyn)), make([]string, len(dyn))
		for i, t := range dyn {
			branches[i], joinOn[i] = []*WorkflowTask{t}, t.TaskReferenceName
		}
	}
	r.mu.Lock()
	if r.joinOn == nil {
		r.joinOn = map[string][]string{}
	}
	r.joinOn[join.TaskReferenceName+suffix] = joinOn
	r.mu.Unlock()
	if !done {
		if err := r.complete(ctx, rec, []byte("{}")); err != nil {
			return nil, orElse(err, closeDecision(ctx))
		}
	}
	bctx, cancelCause := context.WithCancelCause(ctx)
	cancel := func() { cancelCause(nil) }
	var wg sync.WaitGroup
	var failed atomic.Bool
	progress := make(chan struct{}, 1) // a branch task ended
	// In a test run the passes count the branches (mockgate.go).
	fw := r.test.gateOf().newForkWait(len(branches), progress)
	notify := func() {
		if fw != nil {
			fw.notify()
			return
		}
		select {
		case progress <- struct{}{}:
		default:
		}
	}
	errs := make([]error, len(branches))
	// The records read as Conductor's decider writes them, pass by pass
	// (forkpasses.go): the branches and then the fork itself (its JOIN)
	// take turns; a branch whose task waits leaves the turns and, once
	// that task has ended, comes back when the others have nothing more to
	// schedule.
	passes, parent := newForkPasses(), -1
	if b, ok := ctx.Value(branchKey{}).(*branchTurn); ok && b != nil {
		passes, parent = b.p, b.m
	}
	members := passes.enter(parent, len(branches))
	self := members[len(branches)]
	// As a case's first task, its branches' first tasks are mapped with
	// it, not seeing the enclosing SWITCH (switch.go).
	mapped := r.forkCaseMapping(ctx, branches)
	for i, branch := range branches {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer fw.ended()
			defer notify()
			defer passes.leave(members[i])
			bt := &branchTurn{p: passes, m: members[i]}
			brctx := mapped(context.WithValue(bctx, branchKey{}, bt), len(branch))
			// The branch's share of the mapping ends with its first task's
			// input, or when the branch returns, whichever comes first.
			defer endCaseMapping(brctx, r)
			if err := r.execListNotify(brctx, branch, suffix, iter, notify); err != nil {
				errs[i] = err
				failed.Store(true)
				if errors.Is(err, errForkStopped) {
					return // stopped by a sibling's failure, which ends the rest
				}
				// The decider's pass runs to its end: the synchronous
				// tasks the other branches scheduled in it run, and none
				// schedules another (forkpasses.go, stop), in no fork of
				// the run when the failure ends it; then the run fails,
				// cancelling what still runs.
				var st *stopError
				drained := passes.stop(members[:len(branches)], errors.As(err, &st))
				passes.leave(members[i]) // its turn: held until the others are stopped
				select {
				case <-drained:
				case <-ctx.Done():
				}
				cancelCause(err) // one branch failing ends the others
				stop(err)        // and the tasks after the JOIN
			}
		}()
	}
	ended := make(chan struct{})
	go func() {
		wg.Wait()
		close(ended)
	}()
	// The fork's turn comes once every branch has scheduled its first
	// task: its JOIN is recorded, then the branches' second pass begins.
	// An awaitJoin that ends without the turn (the run ends) leaves the
	// branches' own errors to tell why.
	var joinErr error
	if passes.awaitJoin(ctx, self) == nil {
		joinErr = r.recordJoin(ctx, join, suffix, iter, joinOn)
	}
	if err := orElse(joinErr, closeDecision(ctx)); err != nil {
		passes.leave(self)
		cancel()
		fw.block(true)
		<-ended
		fw.unblock()
		return nil, err
	}
	passes.leave(self)
	rest := &forkRest{cancel: cancel, wait: func() error {
		fw.block(true)
		<-ended
		fw.unblock()
		cancel()
		return forkOutcome(ctx, errs)
	}}
	for !failed.Load() && !r.joined(joinOn, suffix) {
		fw.block(false)
		select {
		case <-progress:
			fw.unblock()
			continue
		case <-ended:
		}
		fw.unblock()
		break
	}
	select {
	case <-ended:
		return nil, rest.wait()
	default:
	}
	if failed.Load() {
		return nil, rest.wait()
	}
	return rest, nil
}

// recordJoin schedules the JOIN's record (IN_PROGRESS, waiting on joinOn)
// unless a previous process did.
func (r *runState) recordJoin(ctx context.Context, join *WorkflowTask, suffix string, iter int, joinOn []string) error {
	ref := join.TaskReferenceName + suffix
	if r.lookup(ref) != nil {
		return nil
	}
	rec := &taskRecord{Ref: ref, TaskType: TypeJoin, TaskDefName: TypeJoin, Status: TaskInProgress,
		Iteration: iter, Scheduled: r.nowMillis(), Start: r.nowMillis(), wt: join}
	r.isolate(rec, join, nil)
	r.mu.Lock()
	r.addTaskLocked(rec)
	r.mu.Unlock()
	in, _ := json.Marshal(map[string]any{"joinOn": orEmptyList(joinOn)})
	if err := r.setTaskData(rec, in, nil); err != nil {
		return err
	}
	return r.transition(ctx, rec, TaskInProgress, "")
}

func orEmptyList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

// joinList is what the JOIN at ref waits on: the refs its fork computed
// (a FORK_JOIN_DYNAMIC's generated tasks), else its joinOn.
func (r *runState) joinList(wt *WorkflowTask, ref string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if l, ok := r.joinOn[ref]; ok {
		return l
	}
	return wt.JoinOn
}

// withJoinOn sets a JOIN's inputData.joinOn, as Conductor's mappers record it.
func withJoinOn(raw []byte, joinOn []string) []byte {
	m := map[string]json.RawMessage{}
	_ = json.Unmarshal(orEmpty(raw), &m)
	m["joinOn"], _ = json.Marshal(orEmptyList(joinOn))
	b, err := json.Marshal(m)
	if err != nil {
		return raw
	}
	return b
}

// joined reports whether every task the JOIN waits on has succeeded.
func (r *runState) joined(joinOn []string, suffix string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ref := range joinOn {
		if t := r.byRef[ref+suffix]; t == nil || !successfulTask(t.Status) {
			return false
		}
	}
	return true
}

// join completes a JOIN: its output maps each joined ref to that task's
// output. Inside a loop the key carries the iteration's __N suffix, as
// Conductor's Join names the task of that iteration it waited for.
func (r *runState) join(wt *WorkflowTask, rec *taskRecord) tasks.Result {
	suffix := strings.TrimPrefix(rec.Ref, wt.TaskReferenceName)
	joinOn := r.joinList(wt, rec.Ref)
	out := map[string]json.RawMessage{}
	r.mu.Lock()
	for _, ref := range joinOn {
		t := r.byRef[ref+suffix]
		if t == nil {
			t = r.latest[ref]
		}
		// Join adds a task's output only when it has one.
		if t != nil && len(bytes.TrimSpace(t.outMem)) > 0 && !emptyObject(t.outMem) {
			out[ref+suffix] = t.outMem
		}
	}
	r.mu.Unlock()
	b, _ := json.Marshal(out)
	if reason, cancelled := r.joinFailure(joinOn, suffix); reason != "" {
		if cancelled {
			return tasks.Result{Status: TaskCanceled, Reason: reason, Output: b}
		}
		return tasks.Result{Status: tasks.Failed, Reason: reason, Output: b}
	}
	if reason := r.joinOptionalFailures(joinOn, suffix); reason != "" {
		return tasks.Result{Status: TaskCompletedWithErrors, Reason: reason, Output: b}
	}
	return tasks.Result{Status: tasks.Completed, Output: b}
}

// joinOptionalFailures is why a JOIN whose tasks all ended well ends
// COMPLETED_WITH_ERRORS, as Conductor's Join decides: an optional task it
// joins on failed (it ended COMPLETED_WITH_ERRORS). The reason names each
// such task "taskDefName/taskId", then "completed with errors". "" when none
// did.
func (r *runState) joinOptionalFailures(joinOn []string, suffix string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, ref := range joinOn {
		t := r.byRef[ref+suffix]
		if t != nil && t.wt != nil && t.wt.Optional && t.Status == TaskCompletedWithErrors {
			fmt.Fprintf(&b, "%s/%s ", t.TaskDefName, t.TaskID)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return b.String() + "completed with errors"
}

// forkOutcome prefers the error that caused a fork to stop over the
// cancellations it caused, whichever branch comes first: a stopError, then
// any other error that is not a cancellation (a permissive task's failure
// in a DO_WHILE iteration, iterationFailed, which fails the loop).
func forkOutcome(ctx context.Context, errs []error) error {
	var first, cause error
	for _, e := range errs {
		if e == nil {
			continue
		}
		var st *stopError
		if errors.As(e, &st) {
			return e
		}
		if cause == nil && !errors.Is(e, context.Canceled) && !errors.Is(e, errForkStopped) {
			cause = e
		}
		if first == nil {
			first = e
		}
	}
	if cause != nil {
		return cause
	}
	if first != nil && ctx.Err() == nil && errors.Is(first, context.Canceled) {
		return nil
	}
	return first
}

// emptyObject: b is the JSON object {} (whitespace aside).
func emptyObject(b []byte) bool {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}' {
		return false
	}
	return len(bytes.TrimSpace(b[1:len(b)-1])) == 0
}
