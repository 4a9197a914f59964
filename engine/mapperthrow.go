package engine

import (
	"context"
	"encoding/json"
)

// Conductor's mappers of a FORK_JOIN, a SWITCH and a DECISION map the first
// task of each branch (of the case taken) in the same call
// (DeciderService.getTasksToBeScheduled), so what the inner mapper throws
// leaves the outer one: DecisionTaskMapper's TerminateWorkflowException for
// a caseExpression that throws takes the whole decide with it, and
// WorkflowExecutor.decide fails the run with its message, storing none of
// the tasks that decide mapped (no FORK, no branch task, no JOIN, no
// enclosing SWITCH). wfrun records the enclosing task before it runs its
// branches; mapperThrow tells, before that, whether mapping wt would throw.

// mapperThrow maps wt (ref suffix) as far as Conductor's decider would in
// one call, recording nothing, and returns the run's end when a DECISION
// among the tasks mapped with it cannot evaluate its caseExpression; nil
// otherwise (including when it cannot tell: the task's own run decides).
func (r *runState) mapperThrow(ctx context.Context, wt *WorkflowTask, suffix string) error {
	if wt == nil || ctx.Err() != nil {
		return nil
	}
	ref := wt.TaskReferenceName + suffix
	if r.lookup(ref) != nil {
		return nil // mapped by an earlier decide (a run resumed or rerun)
	}
	switch wt.Type {
	case TypeForkJoin:
		for _, b := range wt.ForkTasks {
			if len(b) > 0 {
				if err := r.mapperThrow(ctx, b[0], suffix); err != nil {
					return err
				}
			}
		}
	case TypeSwitch, TypeDecision:
		if wt.program == nil {
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
			return r.mapperThrow(ctx, b[0], suffix)
		}
	}
	return nil
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
