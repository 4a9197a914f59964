package engine

// SWITCH and DECISION: evaluating the case, recording the selected case and
// running its branch.

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/wfrun/wfrun/tasks/eval"
)

func (r *runState) execSwitch(ctx context.Context, wt *WorkflowTask, suffix string, iter int) error {
	ref := wt.TaskReferenceName + suffix
	if ok, err := r.settledOperator(ctx, wt, ref); ok {
		return err // resume.go: its outcome stands
	}
	// Its events wait until its mapping stands: a case whose mapping
	// throws takes it away, events included (eventhold.go).
	hold := &eventHold{ref: ref}
	defer r.releaseEvents(hold, true)
	hctx := withEventHold(ctx, hold)
	rec, input, done, fail, err := r.begin(hctx, wt, ref, iter, 0)
	checked, evaluated := r.evaluatedCase(ref, wt) // mapperthrow.go
	if err != nil {
		return err
	}
	if fail != nil {
		r.releaseEvents(hold, true)
		endCaseMapping(ctx, r) // no case: an enclosing case's mapping ends with it
		return r.failTask(ctx, rec, string(fail.Status), fail.Reason)
	}
	if !done && wt.Type == TypeSwitch && rec.Status != TaskInProgress {
		// SwitchTaskMapper records the SWITCH started, whether or not its
		// expression can be evaluated; a DECISION is recorded only once
		// it has its case (decisionEvalFailed).
		if err := r.transition(hctx, rec, TaskInProgress, ""); err != nil {
			return err
		}
	}
	var selected string
	if done {
		var o struct {
			SelectedCase string   `json:"selectedCase"`
			CaseOutput   []string `json:"caseOutput"`
		}
		_ = json.Unmarshal(rec.outMem, &o)
		selected = o.SelectedCase
		if wt.Type == TypeDecision && len(o.CaseOutput) > 0 {
			selected = o.CaseOutput[0]
		}
		if len(switchBranch(wt, selected)) == 0 {
			endCaseMapping(ctx, r) // it stands with no case: an enclosing case's mapping ends
		}
	} else {
		selected, err = r.evalCase(ctx, wt, input, checked, evaluated)
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err() // the run ended meanwhile: not the expression's failure
			}
			if wt.Type == TypeDecision {
				r.releaseEvents(hold, false)
				r.dropPass(rec)
				return r.decisionEvalFailed(rec)
			}
			r.releaseEvents(hold, true)
			endCaseMapping(ctx, r) // no case: an enclosing case's mapping ends with it
			// SwitchTaskMapper catches what the evaluator throws and
			// records the SWITCH FAILED with the exception's message; a
			// built-in task is never retried, so the decider's retry()
			// fails the run ("Task <id> failed with status: FAILED and
			// reason: '...'"), or the run goes on past an optional one.
			// A script's error reads as ScriptEvaluator words it
			// (switchFailure).
			return r.failTask(ctx, rec, TaskFailed, r.sec.CodeExcerpt(switchFailure(err), maxReasonBytes))
		}
		if b := switchBranch(wt, selected); len(b) > 0 {
			// Its case's first task is mapped in the same call, against a
			// run that does not hold this task yet: its input (and a
			// nested SWITCH's or DECISION's, down to the first task that
			// is neither) sees nothing of it (caseMapping).
			ctx = r.hideWhileMapping(ctx, rec)
			defer endCaseMapping(ctx, r)
			// Its mapper maps the case's first task with it: what that
			// mapping throws leaves this one too (mapperthrow.go).
			if err := r.mapperThrows(ctx, b, 0, suffix); err != nil {
				r.releaseEvents(hold, false)
				r.dropPass(rec)
				r.dropRecord(rec)
				return err
			}
		}
		r.releaseEvents(hold, true)
		if rec.Status != TaskInProgress {
			if err := r.transition(ctx, rec, TaskInProgress, ""); err != nil {
				return err
			}
		}
		caseIn, out := recordCase(wt, rec, selected)
		if err := r.setTaskData(rec, caseIn, nil); err != nil {
			return r.failTask(ctx, rec, TaskFailedTerminal, "input: "+err.Error())
		}
		if err := r.complete(ctx, rec, out); err != nil {
			return err
		}
		if len(switchBranch(wt, selected)) == 0 {
			endCaseMapping(ctx, r) // an enclosing case's mapping ends with it
			// Nothing scheduled with it: executed by the decider, its
			// branch goes on in the next pass (forkpasses.go).
			notifyScheduledSync(ctx)
		}
	}
	if branch := switchBranch(wt, selected); mapOnly(ctx) {
		if len(branch) > 0 {
			return r.scheduleMapped(ctx, branch, 0, suffix, iter) // loopmap.go
		}
		return nil
	}
	return r.execList(ctx, switchBranch(wt, selected), suffix, iter)
}

// evalCase evaluates wt's case with its input, or takes the case checked
// evaluated with it in this decide (mapperthrow.go).
func (r *runState) evalCase(ctx context.Context, wt *WorkflowTask, input []byte, checked *caseCheck, evaluated bool) (string, error) {
	if evaluated {
		return checked.selected, checked.err
	}
	var in any
	_ = json.Unmarshal(input, &in)
	v, err := wt.program.Eval(ctx, in)
	if err != nil {
		return "", err
	}
	return caseString(v), nil
}

// switchFailure is the reason of a SWITCH whose expression threw err:
// SwitchTaskMapper's is the exception's message, and a javascript or
// graaljs script's (it threw, or its time limit stopped it) reads as
// ScriptEvaluator words it.
func switchFailure(err error) string {
	if m, ok := eval.ScriptMessage(err); ok {
		return m
	}
	if m, ok := eval.InterruptedMessage(err); ok {
		return m
	}
	return err.Error()
}

// decisionCaseFields tells whether the definition of the DECISION t gives
// a caseExpression and a caseValueParam (blank or not; null is none), as
// WorkflowTaskTypeConstraint sees them: it refuses a DECISION with neither.
func decisionCaseFields(t *WorkflowTask) (hasExpr, hasParam bool) {
	var f struct {
		CaseExpression *string `json:"caseExpression"`
		CaseValueParam *string `json:"caseValueParam"`
	}
	_ = json.Unmarshal(t.raw, &f)
	return f.CaseExpression != nil || t.CaseExpression != "", f.CaseValueParam != nil || t.CaseValueParam != ""
}

// blankCase is the case of a DECISION with a blank caseExpression:
// DecisionTaskMapper reads the input member caseValueParam names, none when
// it has none (null: "null"). An empty caseValueParam names the member "".
type blankCase struct{ named bool }

func (b blankCase) Eval(ctx context.Context, input any) (any, error) {
	if m, ok := input.(map[string]any); ok && b.named {
		return m[""], ctx.Err()
	}
	return nil, ctx.Err()
}

// decisionEvalFailed ends the run whose DECISION's caseExpression could
// not be evaluated as Conductor's DecisionTaskMapper does: it throws
// TerminateWorkflowException("Error while evaluating script: <the
// expression>") before it builds the task, so the run FAILS with that
// reason, no DECISION record and no failed task (optional or not).
func (r *runState) decisionEvalFailed(rec *taskRecord) error {
	r.dropRecord(rec)
	return r.decisionEvalError(rec.wt)
}

// recordCase is what Conductor's mappers record for a SWITCH or DECISION
// (rec) whose case evaluated to selected: its input with the case ("case",
// and "hasChildren" when the case has tasks); its output, SWITCH's
// evaluationResult and selectedCase, DECISION's caseOutput.
func recordCase(wt *WorkflowTask, rec *taskRecord, selected string) (in, out []byte) {
	stored := map[string]any{}
	_ = json.Unmarshal(orEmpty(rec.inMem), &stored)
	stored["case"] = selected
	if len(switchBranch(wt, selected)) > 0 {
		stored["hasChildren"] = "true"
	}
	o := map[string]any{"evaluationResult": []string{selected}, "selectedCase": selected}
	if wt.Type == TypeDecision {
		o = map[string]any{"caseOutput": []string{selected}}
	}
	return marshalOr(stored, `{}`), marshalOr(o, `{}`)
}

// dropRecord takes away the record begin made for a task whose mapper
// threw (its seq stays unused); deleted from the store too, should a write
// have carried it.
func (r *runState) dropRecord(rec *taskRecord) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropLocked(func(t *taskRecord) bool { return t == rec })
}

// dropPass takes away, with rec, the records the other branches of its
// fork scheduled in the same pass and have not started: Conductor's
// decide maps a pass's tasks branch by branch and, when a mapper throws,
// saves none of them. A synchronous one is not run (begin); one that waits
// never starts, its fork halted by the run's end (awaitPassRan).
func (r *runState) dropPass(rec *taskRecord) {
	if rec.passes == nil {
		return
	}
	rec.passes.dropHeld(rec.passRound) // their events with them (eventhold.go)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.dropLocked(func(t *taskRecord) bool {
		return t != rec && t.passes == rec.passes && t.passRound == rec.passRound && t.Status == TaskScheduled
	})
}

// dropped reports whether rec was taken away from the run (dropPass).
func (r *runState) dropped(rec *taskRecord) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return rec.forgotten
}

// dropLocked forgets the run's task records drop selects (forgetLocked)
// and takes them out of r.tasks, keeping the others' order. Callers hold
// r.mu.
func (r *runState) dropLocked(drop func(*taskRecord) bool) {
	kept := r.tasks[:0]
	for _, t := range r.tasks {
		if drop(t) {
			r.forgetLocked(t)
			continue
		}
		kept = append(kept, t)
	}
	for i := len(kept); i < len(r.tasks); i++ {
		r.tasks[i] = nil
	}
	r.tasks = kept
}

// switchBranch is the case a SWITCH or DECISION takes for selected.
func switchBranch(wt *WorkflowTask, selected string) []*WorkflowTask {
	if wt.Type == TypeDecision {
		return decisionBranch(wt, selected)
	}
	branch, ok := wt.DecisionCases[selected]
	if !ok {
		branch = wt.DefaultCase
	}
	return branch
}

// decisionBranch: a DECISION whose case has no tasks (absent or empty) takes
// the default case (Conductor's DecisionTaskMapper; a SWITCH's empty case is
// a no-op instead).
func decisionBranch(wt *WorkflowTask, selected string) []*WorkflowTask {
	if b := wt.DecisionCases[selected]; len(b) > 0 {
		return b
	}
	return wt.DefaultCase
}

// caseString renders an evaluation result as Conductor does ("" + result).
func caseString(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case json.Number:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != "" && x != "false"
	case float64:
		return x != 0
	case int64:
		return x != 0
	case int:
		return x != 0
	}
	return true
}

// caseMapping is the SWITCH and DECISION records whose cases' first tasks
// are being mapped, outermost first: Conductor's mapper maps a case's first
// task (DeciderService.getTasksToBeScheduled) against the run as it was
// before the decide, which holds none of them, so an expression naming one
// of them reads nothing (null). They are hidden from expressions (env.go)
// until the first task that is neither a SWITCH nor a DECISION has its
// input (begin), or a case with no task ends the chain. A FORK there maps
// the first task of each of its branches in that call too: each branch
// carries a mapping of its own (forkCaseMapping) whose up is the chain,
// which ends once every branch's has (left counts those still mapping).
type caseMapping struct {
	recs []*taskRecord
	done bool
	up   *caseMapping
	left int
}

type caseMappingKey struct{}

// hideWhileMapping hides rec from expressions, with the records of the
// chain ctx carries, and returns the context its case is mapped with.
func (r *runState) hideWhileMapping(ctx context.Context, rec *taskRecord) context.Context {
	m := &caseMapping{}
	if outer, _ := ctx.Value(caseMappingKey{}).(*caseMapping); outer != nil {
		r.mu.Lock()
		if !outer.done {
			// Handed on to this one, with the fork waiting for it.
			m.recs, m.up, outer.done = outer.recs, outer.up, true
		}
		r.mu.Unlock()
	}
	r.mu.Lock()
	m.recs = append(m.recs, rec)
	rec.unmapped, rec.envDoc = true, nil
	r.mu.Unlock()
	return context.WithValue(ctx, caseMappingKey{}, m)
}

// forkCaseMapping returns what gives the context each branch of a FORK
// whose context is ctx maps its first task with (given the branch's
// length): when ctx carries a chain not ended (the FORK is a case's first
// task), it ends once every branch with a task has ended its share (its
// first task has its input, or the branch returned: execFork). An empty
// branch maps nothing (Conductor's mapper takes each branch's first task)
// and has no share; with no branch holding a task, the chain ends now.
// execFork ends what is left of it when it returns.
func (r *runState) forkCaseMapping(ctx context.Context, branches [][]*WorkflowTask) func(context.Context, int) context.Context {
	m, _ := ctx.Value(caseMappingKey{}).(*caseMapping)
	r.mu.Lock()
	defer r.mu.Unlock()
	if m == nil || m.done {
		return func(c context.Context, _ int) context.Context { return c }
	}
	n := 0
	for _, b := range branches {
		if len(b) > 0 {
			n++
		}
	}
	if m.left = n; n == 0 {
		r.endMappingLocked(m)
	}
	return func(c context.Context, size int) context.Context {
		if size == 0 {
			// No share: the chain does not wait for it, nor ends with it.
			return context.WithValue(c, caseMappingKey{}, (*caseMapping)(nil))
		}
		return context.WithValue(c, caseMappingKey{}, &caseMapping{up: m})
	}
}

// endCaseMapping shows the records of the chain ctx carries again (once).
func endCaseMapping(ctx context.Context, r *runState) {
	m, _ := ctx.Value(caseMappingKey{}).(*caseMapping)
	if m == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.endMappingLocked(m)
}

// endMappingLocked ends m, and the fork's chain above it when m was the
// last of its branches still mapping. Callers hold r.mu.
func (r *runState) endMappingLocked(m *caseMapping) {
	for m != nil && !m.done {
		m.done = true
		for _, rec := range m.recs {
			rec.unmapped = false
		}
		if m = m.up; m != nil {
			if m.left--; m.left > 0 {
				return
			}
		}
	}
}
