package engine

import (
	"context"
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
//   - DO_WHILE: the loop IN_PROGRESS, in iteration 1, with its first
//     loop-over task SCHEDULED: the decider executes the loop, whose
//     DoWhile.execute schedules that task (scheduleNextIteration) without
//     executing it, even a synchronous one;
//   - TERMINATE: executed, COMPLETED with its output; the run fails anyway,
//     with the loop's reason (the next decision's retry() of the loop comes
//     first);
//   - a synchronous task (INLINE, SET_VARIABLE, ...): executed;
//   - any other task: SCHEDULED, never started.
//
// Not modelled: a DYNAMIC successor, and a loop successor over items (its
// loopItem/loopIndex, an empty list) or whose first loop-over task is an
// operator (only the loop is recorded).

// mapOnlyKey marks the context of a mapping (scheduleMapped): a SWITCH
// maps its case's first task instead of running the case.
type mapOnlyKey struct{}

func mapOnly(ctx context.Context) bool {
	v, _ := ctx.Value(mapOnlyKey{}).(bool)
	return v
}

// scheduleMapped maps list[i] (suffix, iter) as Conductor's decider does
// in a decision that is the run's last: see above. Errors are not
// returned: the run fails with the loop's reason whatever happens here.
func (r *runState) scheduleMapped(ctx context.Context, list []*WorkflowTask, i int, suffix string, iter int) {
	wt := list[i]
	switch {
	case wt.Type == TypeForkJoin || wt.Type == TypeForkJoinDynamic:
		r.mapFork(ctx, list, i, suffix, iter)
	case wt.Type == TypeDoWhile:
		r.mapLoop(ctx, wt, suffix, iter)
	case wt.Type == TypeSwitch || wt.Type == TypeDecision || executedByDecider[wt.Type]:
		// A SWITCH maps its case (execSwitch); a TERMINATE's end of the
		// run is dropped with the error.
		_ = r.execTask(ctx, wt, suffix, iter)
	case wt.Type == TypeDynamic:
	default:
		_, _, _, _, _ = r.beginRecord(ctx, wt, wt.TaskReferenceName+suffix, iter, 0, 0)
	}
}

// mapFork maps the fork list[i]: its FORK, each branch's first task, its
// JOIN. A fork with no JOIN after it, or whose dynamic input cannot be
// forked, records nothing (its mapper throws).
func (r *runState) mapFork(ctx context.Context, list []*WorkflowTask, i int, suffix string, iter int) {
	wt := list[i]
	if unjoined(list, i) {
		return
	}
	join := list[i+1]
	ref := wt.TaskReferenceName + suffix
	if wt.Type == TypeForkJoinDynamic && r.checkDynamicFork(ctx, wt) != nil {
		return
	}
	rec, input, done, err := r.beginControl(ctx, wt, ref, iter)
	closeDecision := r.decisionCloser(r.takeDecision(rec))
	defer func() { _ = closeDecision(ctx) }()
	if err != nil || done {
		return
	}
	branches, joinOn := wt.ForkTasks, join.JoinOn
	if wt.Type == TypeForkJoinDynamic {
		dyn, err := r.dynamicFork(wt, rec, input, false)
		if err != nil {
			_ = r.failTask(ctx, rec, TaskFailedTerminal, err.Error())
			return
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
		return
	}
	for _, b := range branches {
		if len(b) > 0 {
			r.scheduleMapped(ctx, b, 0, suffix, iter)
		}
	}
	_ = r.recordJoin(ctx, join, suffix, iter, joinOn)
}

// mapLoop maps the DO_WHILE wt and executes it as DoWhile.execute does
// for a loop with no task yet: iteration 1, its first loop-over task
// scheduled.
func (r *runState) mapLoop(ctx context.Context, wt *WorkflowTask, suffix string, iter int) {
	rec, _, done, err := r.beginControl(ctx, wt, wt.TaskReferenceName+suffix, iter)
	if err != nil || done {
		return
	}
	if wt.items != nil || len(wt.LoopOver) == 0 {
		return
	}
	r.mu.Lock()
	rec.Iteration = 1
	r.touchLocked(rec)
	r.mu.Unlock()
	if r.setTaskData(rec, nil, []byte(`{"iteration":1}`)) != nil {
		return
	}
	first := wt.LoopOver[0]
	switch first.Type {
	case TypeSwitch, TypeDecision, TypeForkJoin, TypeForkJoinDynamic, TypeDoWhile, TypeDynamic:
		return
	}
	sfx := suffix + "__1"
	_, _, _, _, _ = r.beginRecord(ctx, first, first.TaskReferenceName+sfx, 1, 0, 0)
}
