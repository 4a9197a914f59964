package engine

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/wfrun/wfrun/tasks"
)

// What the decision that fails a DO_WHILE schedules beside it
// (scheduleLoopSuccessor): Conductor's decider maps the successor of the
// iteration's failed permissive task with its task mapper, which may
// schedule more than one task, and then executes the synchronous ones;
// the next decision fails the run, which cancels the rest. Mapped here:
//
//   - SWITCH/DECISION: evaluated and COMPLETED, with its case's first task
//     mapped in turn (SwitchTaskMapper; the decider executes the SWITCH);
//   - FORK_JOIN and FORK_JOIN_DYNAMIC: the FORK (COMPLETED), each branch's
//     first task mapped in turn, the JOIN (IN_PROGRESS) (ForkJoinTaskMapper,
//     ForkJoinDynamicTaskMapper);
//   - DO_WHILE: the loop IN_PROGRESS, in iteration 1 (over items: with its
//     first loopItem and loopIndex 0; an empty list completes it, iteration
//     0), with its first loop-over task mapped but not executed: the
//     decider executes the loop, whose DoWhile.execute maps that task
//     (scheduleNextIteration), and no synchronous task it brings is
//     executed in that decision (scheduleUnexecuted);
//   - DYNAMIC: the task its input names (DynamicTaskMapper: taskType the
//     name), executed when synchronous;
//   - TERMINATE: executed, COMPLETED with its output (the run's output,
//     as Conductor's updateWorkflowOutput takes a completed TERMINATE's);
//     the run fails anyway, with the loop's reason (the next decision's
//     retry() of the loop comes first), or, when the loop lets the run go
//     on, on the permissive tasks (the decider's completion check, as a
//     TERMINATE has completed): nothing after the loop is scheduled;
//   - a synchronous task (INLINE, SET_VARIABLE, NOOP, ...): executed;
//   - any other task: as its mapper creates it, never started: a WAIT or
//     HUMAN IN_PROGRESS (recordMapped), a worker task SCHEDULED.
//
// A mapper that throws (a DYNAMIC naming no task it can run, a fork not
// followed by a JOIN or whose dynamic input cannot be forked) ends the run
// with its reason in that decision, before the loop is judged
// (mapperThrows, mapperthrow.go: a mapper of a task mapped with it, a fork
// branch's first task, a case's first task, throws as well): the loop is
// cancelled with the run.

// mapOnlyKey marks the context of a mapping (scheduleMapped): a SWITCH
// maps its case's first task instead of running the case.
type mapOnlyKey struct{}

func mapOnly(ctx context.Context) bool {
	v, _ := ctx.Value(mapOnlyKey{}).(bool)
	return v
}

// scheduleMapped maps list[i] (suffix, iter) as Conductor's decider does
// in a decision that is the run's last: see above. It returns what a
// TERMINATE it executed returned (the run's end it asks for, or its
// failure), or the run's end when a mapper throws (mapperThrows, checked
// before anything is recorded; mapLoop for a DO_WHILE's first task); other
// errors are dropped: the run fails with the loop's reason whatever happens
// here.
func (r *runState) scheduleMapped(ctx context.Context, list []*WorkflowTask, i int, suffix string, iter int) error {
	wt := list[i]
	if err := r.mapperThrows(ctx, list, i, suffix); err != nil {
		return err // mapperthrow.go: nothing of it is recorded
	}
	switch {
	case wt.Type == TypeForkJoin || wt.Type == TypeForkJoinDynamic:
		return r.mapFork(ctx, list, i, suffix, iter, true)
	case wt.Type == TypeDoWhile:
		return r.mapLoop(ctx, wt, suffix, iter)
	case wt.Type == TypeTerminate:
		return r.execTask(ctx, wt, suffix, iter)
	case wt.Type == TypeSwitch || wt.Type == TypeDecision || executedByDecider[wt.Type]:
		// A SWITCH maps its case (execSwitch).
		_ = r.execTask(ctx, wt, suffix, iter)
	case wt.Type == TypeDynamic:
		t, err := r.dynamicTask(ctx, wt)
		if err != nil {
			return err
		}
		if executedByDecider[t.Type] || t.Type == tasks.TypeNoop {
			_ = r.execLeaf(ctx, t, suffix, iter)
			return nil
		}
		r.recordMapped(ctx, t, wt.TaskReferenceName+suffix, iter)
	case wt.Type == tasks.TypeNoop:
		// Synchronous: the decider executes it (Noop completes).
		_ = r.execLeaf(ctx, wt, suffix, iter)
	default:
		r.recordMapped(ctx, wt, wt.TaskReferenceName+suffix, iter)
	}
	return nil
}

// mappedInProgress are the task types whose Conductor mapper creates them
// IN_PROGRESS (InlineTaskMapper, JsonJQTransformTaskMapper,
// LambdaTaskMapper, SetVariableTaskMapper, TerminateTaskMapper,
// WaitTaskMapper, HumanTaskMapper, NoopTaskMapper,
// ExclusiveJoinTaskMapper; the operators are mapped on their own), with a
// startTime (scheduleTask sets it on a system task that has none). Any
// other task is SCHEDULED.
var mappedInProgress = map[string]bool{
	tasks.TypeInline: true, tasks.TypeJSONJQTransform: true, TypeLambda: true, TypeSetVariable: true,
	TypeTerminate: true, TypeWait: true, TypeHuman: true, tasks.TypeNoop: true, TypeExclusiveJoin: true,
}

// recordMapped records the task wt at ref as its mapper leaves it, not
// executed in this decision: IN_PROGRESS for a type mapped so
// (mappedInProgress), else SCHEDULED; a system task SCHEDULED so (HTTP,
// SUB_WORKFLOW, EVENT, START_WORKFLOW, ...) with a startTime, as
// Conductor's scheduleTask gives one to every system task it schedules
// that has none (after storing the tasks it created, so it is stored with
// the decision's next write: the one that cancels it); a worker task has
// none until it is polled.
func (r *runState) recordMapped(ctx context.Context, wt *WorkflowTask, ref string, iter int) {
	rec, _, done, fail, err := r.beginRecord(ctx, wt, ref, iter, 0, 0, nil)
	if err != nil || done || fail != nil || rec == nil {
		return
	}
	if wt.Type == TypeSubWorkflow {
		r.mapSubWorkflowRecord(ctx, wt, rec) // subworkflow.go: its mapper's input
	}
	r.mu.Lock()
	scheduled := rec.Status == TaskScheduled
	if scheduled && !mappedInProgress[wt.Type] && rec.Start == 0 && !r.e.IsWorkerTask(rec.TaskType, rec.TaskDefName) {
		rec.Start = r.nowMillis()
		r.touchLocked(rec)
	}
	r.mu.Unlock()
	if scheduled && mappedInProgress[wt.Type] {
		_ = r.transition(ctx, rec, TaskInProgress, "")
	}
}

// afterTerminateSuccessor is how the run ends after a DO_WHILE failed (err:
// what its failure returned) in the decision that executed the TERMINATE
// after the failed task (then: the TERMINATE's failure, nil when it
// completed). The next decision's retry() of a loop that is neither
// permissive nor optional fails the run with the loop's reason; else a
// failed TERMINATE fails it with its own, and a completed one ends it as
// the decider ends a run with a completed TERMINATE: FAILED, naming the
// permissive tasks that did not succeed (the loop among them, when it is
// permissive). Nothing after the loop, and nothing more of the iteration,
// is scheduled.
func (r *runState) afterTerminateSuccessor(err, then error) error {
	var st *stopError
	if errors.As(err, &st) {
		return err
	}
	if then != nil {
		return then
	}
	if reason := r.permissiveFailures(); reason != "" {
		return &stopError{status: StatusFailed, reason: reason}
	}
	if rec := r.completedTerminate(); rec != nil {
		return r.terminateStop(rec, rec.inMem)
	}
	return nil
}

// mapFork maps the fork list[i]: its FORK, each branch's first task, its
// JOIN, when it maps (mapperThrows: else its error, nothing recorded).
// exec: the decider executes what the branches bring (scheduleMapped),
// else nothing of it runs (scheduleUnexecuted). It returns the first error
// a branch's mapping returned.
func (r *runState) mapFork(ctx context.Context, list []*WorkflowTask, i int, suffix string, iter int, exec bool) (ferr error) {
	wt := list[i]
	if err := r.mapperThrows(ctx, list, i, suffix); err != nil {
		return err
	}
	join := list[i+1]
	ref := wt.TaskReferenceName + suffix
	rec, input, done, err := r.beginControl(ctx, wt, ref, iter)
	closeDecision := r.decisionCloser(r.takeDecision(rec))
	defer func() { _ = closeDecision(ctx) }()
	if err != nil || done {
		return nil
	}
	branches, joinOn := wt.ForkTasks, join.JoinOn
	if wt.Type == TypeForkJoinDynamic {
		dyn, err := r.dynamicFork(ctx, wt, rec, input, false)
		if err != nil {
			_ = r.failTask(ctx, rec, TaskFailedTerminal, err.Error())
			return nil
		}
		branches, joinOn = make([][]*WorkflowTask, len(dyn)), make([]string, len(dyn))
		for k, t := range dyn {
			branches[k], joinOn[k] = []*WorkflowTask{t}, t.TaskReferenceName
		}
	}
	r.mu.Lock()
	if r.joinOn == nil {
		r.joinOn = map[string][]string{}
	}
	r.joinOn[join.TaskReferenceName+suffix] = joinOn
	r.mu.Unlock()
	if r.complete(ctx, rec, []byte("{}")) != nil {
		return nil
	}
	for _, b := range branches {
		if len(b) == 0 {
			continue
		}
		var err error
		if exec {
			err = r.scheduleMapped(ctx, b, 0, suffix, iter)
		} else {
			err = r.scheduleUnexecuted(ctx, b, 0, suffix, iter)
		}
		if ferr == nil {
			ferr = err
		}
	}
	_ = r.recordJoin(ctx, join, suffix, iter, joinOn)
	return ferr
}

// mapLoop maps the DO_WHILE wt and executes it as DoWhile.execute does
// for a loop with no task yet: an empty items list completes it
// (iteration 0); else iteration 1 (loopItem, loopIndex over items), its
// first loop-over task mapped (scheduleNextIteration), not executed. It
// returns the run's end when that mapping throws (scheduleUnexecuted).
func (r *runState) mapLoop(ctx context.Context, wt *WorkflowTask, suffix string, iter int) error {
	rec, input, done, err := r.beginControl(ctx, wt, wt.TaskReferenceName+suffix, iter)
	if err != nil || done || len(wt.LoopOver) == 0 {
		return nil
	}
	inMap := map[string]any{}
	_ = json.Unmarshal(input, &inMap)
	items, hasItems, orkes, err := r.loopItems(ctx, wt, rec, inMap)
	if err != nil {
		return nil
	}
	if hasItems && len(items) == 0 {
		if r.setTaskData(rec, nil, []byte(`{"iteration":0}`)) == nil {
			_ = r.transition(ctx, rec, TaskCompleted, "")
		}
		return nil
	}
	r.mu.Lock()
	rec.Iteration = 1
	r.touchLocked(rec)
	r.mu.Unlock()
	if r.setTaskData(rec, nil, marshalOr(loopScalars(1, items, hasItems, orkes), `{"iteration":1}`)) != nil {
		return nil
	}
	return r.scheduleUnexecuted(ctx, wt.LoopOver, 0, suffix+"__1", 1)
}

// scheduleUnexecuted maps list[i] as Conductor's getTasksToBeScheduled
// does when DoWhile.execute schedules an iteration's first task: its
// mapper's records, none executed in that decision (the next one fails the
// run and cancels them). A SWITCH or DECISION is evaluated by its mapper
// (IN_PROGRESS, with its case in its input and output, FAILED when its
// expression fails) and brings its case's first task; a fork its FORK
// (COMPLETED), each branch's first task and its JOIN; a DO_WHILE is
// IN_PROGRESS with nothing of its own; a DYNAMIC is the task it names; any
// other task is recorded as its mapper creates it (recordMapped). It returns the run's end when a mapper
// throws (mapperThrows; a DECISION whose caseExpression throws): the
// decision fails the run with its reason.
func (r *runState) scheduleUnexecuted(ctx context.Context, list []*WorkflowTask, i int, suffix string, iter int) error {
	wt := list[i]
	ref := wt.TaskReferenceName + suffix
	if err := r.mapperThrows(ctx, list, i, suffix); err != nil {
		return err
	}
	switch wt.Type {
	case TypeForkJoin, TypeForkJoinDynamic:
		return r.mapFork(ctx, list, i, suffix, iter, false)
	case TypeDoWhile:
		_, _, _, _ = r.beginControl(ctx, wt, ref, iter)
	case TypeSwitch, TypeDecision:
		return r.mapSwitch(ctx, wt, suffix, iter)
	case TypeDynamic:
		if t, err := r.dynamicTask(ctx, wt); err == nil {
			r.recordMapped(ctx, t, ref, iter)
		}
	default:
		r.recordMapped(ctx, wt, ref, iter)
	}
	return nil
}

// mapSwitch records a SWITCH or DECISION as its mapper leaves it, not
// executed: IN_PROGRESS with the evaluated case ("case", "hasChildren" in
// its input; evaluationResult and selectedCase, or DECISION's caseOutput,
// in its output), its case's first task mapped (scheduleUnexecuted). A
// SWITCH whose expression throws is FAILED with the evaluator's message
// (SwitchTaskMapper catches it); a DECISION's mapper throws: the run's
// end, no record (decisionEvalFailed).
func (r *runState) mapSwitch(ctx context.Context, wt *WorkflowTask, suffix string, iter int) error {
	rec, input, done, err := r.beginControl(ctx, wt, wt.TaskReferenceName+suffix, iter)
	checked, evaluated := r.evaluatedCase(wt.TaskReferenceName+suffix, wt) // mapperthrow.go
	if err != nil || done {
		return nil
	}
	selected, err := r.evalCase(ctx, wt, input, checked, evaluated)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		if wt.Type == TypeDecision {
			return r.decisionEvalFailed(rec)
		}
		_ = r.transition(ctx, rec, TaskFailed, r.sec.CodeExcerpt(switchFailure(err), maxReasonBytes))
		return nil
	}
	branch := switchBranch(wt, selected)
	caseIn, out := recordCase(wt, rec, selected)
	if r.setTaskData(rec, caseIn, out) != nil {
		return nil
	}
	if len(branch) > 0 {
		return r.scheduleUnexecuted(ctx, branch, 0, suffix, iter)
	}
	return nil
}

// completedTerminateOutput is the output of the run's first COMPLETED
// TERMINATE task ({} when it has none), nil when it has none: Conductor's
// updateWorkflowOutput makes it the run's output however the run ends,
// before its outputParameters (a TERMINATE mapped after a failed loop task
// completes while the run fails with the loop).
func (r *runState) completedTerminateOutput() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.tasks {
		if t.TaskType == TypeTerminate && t.Status == TaskCompleted {
			out := append([]byte(nil), orEmpty(t.outMem)...)
			if len(out) == 0 {
				out = []byte("{}")
			}
			return out
		}
	}
	return nil
}

// completedTerminate is the run's first COMPLETED TERMINATE record, nil
// when it has none.
func (r *runState) completedTerminate() *taskRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.tasks {
		if t.TaskType == TypeTerminate && t.Status == TaskCompleted {
			return t
		}
	}
	return nil
}
