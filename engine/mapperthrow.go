package engine

import (
	"bytes"
	"context"
	"encoding/json"
)

// Conductor's mappers of a FORK_JOIN, a SWITCH and a DECISION map the first
// task of each branch (of the case taken) in the same call
// (DeciderService.getTasksToBeScheduled), so what an inner mapper throws
// leaves the outer one: DynamicTaskMapper's throws (its "Invalid task
// specified..." for a DYNAMIC task a dynamic fork makes whose name has no
// registered definition; one of the definition's takes its own definition,
// dynamic.go), DecisionTaskMapper's "Error while evaluating
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
	err := r.mapperThrowsIn(ctx, list, i, suffix)
	if err != nil {
		r.dropCaseChecks() // nothing of this decide is mapped
	}
	return err
}

func (r *runState) mapperThrowsIn(ctx context.Context, list []*WorkflowTask, i int, suffix string) error {
	wt := list[i]
	if wt == nil || ctx.Err() != nil {
		return nil
	}
	ref := wt.TaskReferenceName + suffix
	if r.lookup(ref) != nil {
		return nil // mapped by an earlier decide (a run resumed or rerun)
	}
	if wt.mapErr != "" {
		return &stopError{status: StatusFailed, reason: wt.mapErr, notThrown: !mapErrThrown(wt)}
	}
	switch wt.Type {
	case TypeDynamic:
		_, err := r.dynamicTask(ctx, wt)
		return err
	case TypeSubWorkflow:
		return r.subWorkflowMapperThrows(ctx, wt, ref) // subworkflow.go
	case TypeForkJoin, TypeForkJoinDynamic:
		if wt.Type == TypeForkJoinDynamic {
			if err := r.checkDynamicFork(ctx, wt); err != nil {
				return &stopError{status: StatusFailed, reason: r.sec.Excerpt(err.Error(), maxReasonBytes)}
			}
		}
		for _, b := range wt.ForkTasks {
			if len(b) > 0 {
				if err := r.mapperThrowsIn(ctx, b, 0, suffix); err != nil {
					return err
				}
			}
		}
		if unjoined(list, i) {
			return &stopError{status: StatusFailed, reason: unjoinedForkReason[wt.Type]}
		}
	case TypeSwitch, TypeDecision:
		// casesThrow is set as the SWITCH is validated, before the tasks
		// of its cases are (validate.go's walk): a mapErr one of them is
		// given later is not in it, so a "no" is looked at again here
		// (TestSwitchCaseValidatedAfterTheSwitch). A "yes" may be stale
		// the other way (a case's inline SUB_WORKFLOW, whose definition
		// is parsed later): the input is then resolved here, once, and
		// the mapping takes it (checkCase); the case's task answers for
		// itself below.
		if wt.program == nil || (wt.Type == TypeSwitch && !wt.casesThrow && !casesMayThrow(wt)) {
			return nil
		}
		cc := r.checkCase(ctx, wt, ref)
		if cc == nil {
			return nil // the task fails on its input when it runs
		}
		if cc.err != nil {
			if wt.Type == TypeDecision && ctx.Err() == nil {
				return r.decisionEvalError(wt)
			}
			return nil // SwitchTaskMapper records the SWITCH FAILED
		}
		if b := switchBranch(wt, cc.selected); len(b) > 0 {
			return r.mapperThrowsIn(ctx, b, 0, suffix)
		}
	}
	return nil
}

// caseCheck is a SWITCH's or DECISION's input and case as mapperThrows
// resolved and evaluated them: the mapping that follows in the same decide
// records and takes them (beginRecord, evaluatedCase) instead of resolving
// and evaluating again, as Conductor's mapper evaluates a case once (and
// its input's secrets are read once).
type caseCheck struct {
	wt            *WorkflowTask
	stored, input []byte // Resolve's two forms, before the template's defaults
	taskID        string // the id its input was resolved with, when it names it: the record takes it
	selected      string // the case, when err is nil
	err           error  // what the evaluation threw
}

// checkCase resolves wt's input (ref) and evaluates its case, or returns
// what an earlier check of this decide did; nil when the input cannot be
// resolved.
func (r *runState) checkCase(ctx context.Context, wt *WorkflowTask, ref string) *caseCheck {
	r.mu.Lock()
	cc := r.caseChecks[ref]
	r.mu.Unlock()
	if cc != nil && cc.wt == wt {
		return cc
	}
	cc = &caseCheck{wt: wt}
	inTmpl, defaults := r.e.inputTemplate(wt, r.policy(wt))
	raw, keep := []byte("{}"), false
	if ov := r.replacementInput(ref, inTmpl); ov != nil {
		raw = ov
	} else if inTmpl != nil {
		// An input naming the task's own id is resolved with the id its
		// record will take, as Conductor's decider hands the mapper the id
		// of the task it builds: resolved once, its secrets read once.
		// Known from the definition (validation) unless a task
		// definition's inputTemplate was merged into it.
		namesID := wt.namesTaskID
		if inTmpl != wt.input {
			namesID = bytes.Contains(inTmpl.Source(), []byte("CPEWF_TASK_ID"))
		}
		if namesID {
			cc.taskID = r.nextTaskID(ref)
		}
		stored, transient, err := r.sec.Resolve(r.sec.ForTask(ctx, ref), inTmpl, &runEnv{r: r, taskID: cc.taskID, values: r.e.envValues})
		if err != nil {
			return nil
		}
		keep = true
		cc.stored, cc.input, raw = stored, transient, templateDefaults(transient, defaults)
	}
	var in any
	if json.Unmarshal(raw, &in) != nil {
		return nil
	}
	v, err := wt.program.Eval(ctx, in)
	if err != nil && ctx.Err() != nil {
		return &caseCheck{wt: wt, err: err} // not the expression's failure; nothing kept
	}
	cc.selected, cc.err = caseString(v), err
	if keep {
		r.mu.Lock()
		if r.caseChecks == nil {
			r.caseChecks = map[string]*caseCheck{}
		}
		r.caseChecks[ref] = cc
		r.mu.Unlock()
	}
	return cc
}

// checkedCase is the input check resolved for wt (ref) in this decide, nil
// when there is none. Only a SWITCH or DECISION is checked: any other task
// takes no lock here.
func (r *runState) checkedCase(ref string, wt *WorkflowTask) *caseCheck {
	if wt.Type != TypeSwitch && wt.Type != TypeDecision {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if cc := r.caseChecks[ref]; cc != nil && cc.wt == wt && cc.input != nil {
		return cc
	}
	return nil
}

// evaluatedCase takes what checkCase kept for wt (ref): the mapping
// evaluates nothing again when in is what it was evaluated with (the input
// begin resolved from it). ok is false when there is nothing to take.
func (r *runState) evaluatedCase(ref string, wt *WorkflowTask) (cc *caseCheck, ok bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	cc = r.caseChecks[ref]
	delete(r.caseChecks, ref)
	return cc, cc != nil && cc.wt == wt && cc.input != nil
}

// dropCaseChecks forgets every check not taken: a decide that throws maps
// none of them, and an execution that ends leaves none for the next one.
func (r *runState) dropCaseChecks() {
	r.mu.Lock()
	r.caseChecks = nil
	r.mu.Unlock()
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
	if wt.mapErr != "" {
		return true
	}
	switch wt.Type {
	case TypeDynamic, TypeDecision, TypeForkJoinDynamic:
		return true
	case TypeSubWorkflow:
		return wt.subDef == nil // subWorkflowMapperThrows
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

// decisionEvalError is the run's end for a DECISION whose caseExpression
// throws: DecisionTaskMapper's "Error while evaluating script: <the
// expression>", masked whole, then cut.
func (r *runState) decisionEvalError(wt *WorkflowTask) error {
	return &stopError{status: StatusFailed, reason: r.sec.CodeExcerpt("Error while evaluating script: "+wt.CaseExpression, maxReasonBytes)}
}

// nextTaskID is the id the record begin makes for ref will take: the one a
// rerun keeps for it, else a new one (addTaskLocked).
func (r *runState) nextTaskID(ref string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keptID != nil && !r.heldByRecordLocked(ref) {
		if id, ok := r.keptID[ref]; ok {
			return id
		}
	}
	return uuidString(newTaskIDBytes(r.tag)) // tasklook.go
}

// takeCheckedIDLocked gives rec, a new record for ref, the id its input was
// resolved with when this decide checked it (checkCase). Callers hold r.mu.
func (r *runState) takeCheckedIDLocked(rec *taskRecord, cc *caseCheck) {
	if cc == nil || cc.taskID == "" {
		return
	}
	if r.keptID != nil && r.keptID[rec.Ref] == cc.taskID && !r.heldByRecordLocked(rec.Ref) {
		r.takeKeptIDLocked(rec.Ref) // rerun.go
	}
	rec.TaskID = cc.taskID
}

// mapFailure is the run's end when wt (ref suffix), about to be mapped,
// holds a problem Conductor's mapping of it throws (mapErr: where
// registration does not check the task); nil otherwise, and for a task
// already recorded (a run resumed or rerun).
func (r *runState) mapFailure(wt *WorkflowTask, suffix string) error {
	if wt.mapErr == "" || r.lookup(wt.TaskReferenceName+suffix) != nil {
		return nil
	}
	return &stopError{status: StatusFailed, reason: wt.mapErr}
}

// mapErrThrown tells whether wt's mapErr is what a Conductor mapper
// throws (SwitchTaskMapper's "No evaluator registered", ForkJoinTaskMapper
// on an empty branch): not a TERMINATE's status that is not text (thrown
// by its execution, later), a SIMPLE task without a name (scheduled, never
// polled) or a DO_WHILE with nothing to loop over (thrown by its
// execution), which wfrun ends the run on instead.
func mapErrThrown(wt *WorkflowTask) bool {
	switch wt.Type {
	case TypeTerminate, TypeSimple, TypeDoWhile:
		return false
	}
	return true
}

// brokenProgram is an expression that does not compile where Conductor's
// registration does not check it: evaluating it throws the compile error,
// as Conductor's evaluator throws when it runs the script (a SWITCH is
// recorded FAILED, a DECISION's mapper throws, a DO_WHILE fails).
type brokenProgram struct{ err error }

func (b brokenProgram) Eval(ctx context.Context, _ any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, b.err
}
