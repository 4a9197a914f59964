package engine

import (
	"context"
	"encoding/json"
)

// Conductor's mappers of a FORK_JOIN, a SWITCH and a DECISION map the first
// task of each branch (of the case taken) in the same call
// (DeciderService.getTasksToBeScheduled), so what an inner mapper throws
// leaves the outer one: DynamicTaskMapper's "Invalid task specified..." for
// a DYNAMIC naming no task, DecisionTaskMapper's "Error while evaluating
// script: ..." for a caseExpression that throws, a fork's mapper for a fork
// not followed by a JOIN. The TerminateWorkflowException takes the whole
// decide with it, and WorkflowExecutor.decide fails the run with its
// message, storing none of the tasks that decide mapped (no FORK, no branch
// task, no JOIN, no enclosing SWITCH). wfrun records the enclosing task
// before it maps its branches; mapperThrows tells, before that, whether
// mapping would throw. A DO_WHILE's mapper maps nothing of its own: its
// first task is mapped when DoWhile.execute runs, after the loop is stored
// (mapLoop), so mapperThrows does not look into it.

// mapperThrows maps list[i] (ref suffix) as far as Conductor's decider
// would in one call, recording nothing, and returns the run's end when one
// of the mappers throws; nil otherwise (including when it cannot tell: the
// task's own run decides). A SWITCH's input is resolved only when one of
// its cases starts with a task whose mapper may throw.
func (r *runState) mapperThrows(ctx context.Context, list []*WorkflowTask, i int, suffix string) error {
	wt := list[i]
	if wt == nil || ctx.Err() != nil {
		return nil
	}
	ref := wt.TaskReferenceName + suffix
	if r.lookup(ref) != nil {
		return nil // mapped by an earlier decide (a run resumed or rerun)
	}
	switch wt.Type {
	case TypeDynamic:
		_, err := r.dynamicTask(ctx, wt)
		return err
	case TypeForkJoin, TypeForkJoinDynamic:
		if wt.Type == TypeForkJoinDynamic {
			if err := r.checkDynamicFork(ctx, wt); err != nil {
				return &stopError{status: StatusFailed, reason: r.sec.Excerpt(err.Error(), maxReasonBytes)}
			}
		}
		for _, b := range wt.ForkTasks {
			if len(b) > 0 {
				if err := r.mapperThrows(ctx, b, 0, suffix); err != nil {
					return err
				}
			}
		}
		if unjoined(list, i) {
			return &stopError{status: StatusFailed, reason: unjoinedForkReason[wt.Type]}
		}
	case TypeSwitch, TypeDecision:
		if wt.program == nil || (wt.Type == TypeSwitch && !casesMayThrow(wt)) {
			return nil
		}
		in, ok := r.mappedInput(ctx, wt, ref)
		if !ok {
			return nil // the task fails on its input when it runs
		}
		v, err := wt.program.Eval(ctx, in)
		if err != nil {
			if wt.Type == TypeDecision && ctx.Err() == nil {
				return r.decisionEvalError(wt)
			}
			return nil // SwitchTaskMapper records the SWITCH FAILED
		}
		if b := switchBranch(wt, caseString(v)); len(b) > 0 {
			return r.mapperThrows(ctx, b, 0, suffix)
		}
	}
	return nil
}

// casesMayThrow tells whether mapping the first task of one of wt's cases
// may throw (mayThrow).
func casesMayThrow(wt *WorkflowTask) bool {
	for _, b := range wt.DecisionCases {
		if len(b) > 0 && mayThrow(b, 0) {
			return true
		}
	}
	return len(wt.DefaultCase) > 0 && mayThrow(wt.DefaultCase, 0)
}

// mayThrow tells, from the definition alone, whether mapping list[i] may
// throw (mapperThrows): false spares resolving a SWITCH's input for nothing.
func mayThrow(list []*WorkflowTask, i int) bool {
	wt := list[i]
	if wt == nil {
		return false
	}
	switch wt.Type {
	case TypeDynamic, TypeDecision, TypeForkJoinDynamic:
		return true
	case TypeForkJoin:
		if unjoined(list, i) {
			return true
		}
		for _, b := range wt.ForkTasks {
			if len(b) > 0 && mayThrow(b, 0) {
				return true
			}
		}
	case TypeSwitch:
		return casesMayThrow(wt)
	}
	return false
}

// mappedInput is wt's input (secrets resolved) as its record would get it
// now, without a record; ok is false when it cannot be resolved.
func (r *runState) mappedInput(ctx context.Context, wt *WorkflowTask, ref string) (in any, ok bool) {
	inTmpl, defaults := r.e.inputTemplate(wt, r.policy(wt))
	raw := []byte("{}")
	if ov := r.replacementInput(ref, inTmpl); ov != nil {
		raw = ov
	} else if inTmpl != nil {
		b, err := r.sec.ResolveOnly(r.sec.ForTask(ctx, ref), inTmpl, &runEnv{r: r, values: r.e.envValues})
		if err != nil {
			return nil, false
		}
		raw = templateDefaults(b, defaults)
	}
	if json.Unmarshal(raw, &in) != nil {
		return nil, false
	}
	return in, true
}

// decisionEvalError is the run's end for a DECISION whose caseExpression
// throws: DecisionTaskMapper's "Error while evaluating script: <the
// expression>", masked whole, then cut.
func (r *runState) decisionEvalError(wt *WorkflowTask) error {
	return &stopError{status: StatusFailed, reason: r.sec.CodeExcerpt("Error while evaluating script: "+wt.CaseExpression, maxReasonBytes)}
}
