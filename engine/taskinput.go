package engine

import "context"

// mappedInput is a task's input as its mapping resolved it: the stored
// form (secret references kept), the transient form (values), and the
// resolution's failure (raw nil).
type mappedInput struct {
	raw, transient []byte
	secretErr      error
	// templated: raw is a template's output (setResolvedInput), not data
	// given as it is (a rerun's replacement input, a JOIN's joinOn).
	templated bool
}

// mapInput resolves the input of rec, the record of wt (ref) just mapped
// or taken from a previous process. Conductor's task mappers build a
// task's input (ParametersUtils.getTaskInputV2) as the decider maps it,
// and WorkflowExecutor.decide executes the synchronous tasks of the pass
// (INLINE, SET_VARIABLE, ...) only once every task of the pass is mapped:
// a task never sees what a task mapped in the same pass does — a sibling
// branch's SET_VARIABLE, a sibling's output — however the branches'
// goroutines run. So the input is resolved here, before the branch's
// turn passes (beginRecord), not when the task runs; the record takes it
// when it runs (a synchronous task's record is written once, encode.go).
// The transient form is held until then, and dropped with the record's
// run.
// pol is the task's policy when the caller has it (nil: looked up).
func (r *runState) mapInput(ctx context.Context, wt *WorkflowTask, rec *taskRecord, ref string, pol *taskPolicy) mappedInput {
	// The record's room for its environment: one allocation fewer a task.
	rec.env = runEnv{r: r, taskID: rec.TaskID, values: r.e.envValues}
	env := &rec.env
	in := mappedInput{raw: []byte("{}"), transient: []byte("{}")}
	inTmpl, defaults := r.e.inputTemplate(wt, r.policyOr(pol, wt))
	if r.e.angleForWorkers && inTmpl != nil && r.e.remoteRecord(rec) {
		// The worker resolves `$<…>` (WithAngleForWorkers).
		kept, err := inTmpl.KeepingAngle()
		if err != nil {
			in.raw, in.transient, in.secretErr = nil, nil, err
			return in
		}
		inTmpl = kept
	}
	replaced := false
	if ov := r.replacementInput(ref, inTmpl); ov != nil {
		// A rerun's taskInput: data given by the caller, resolved from
		// nothing (a secret reference in it stays text).
		inTmpl, in.raw, in.transient, replaced = nil, ov, ov, true
	}
	if wt.Type == TypeJoin {
		in.raw = withJoinOn(in.raw, r.joinList(wt, ref))
		in.transient = in.raw
	}
	if wt.Type == TypeExclusiveJoin {
		// Its mapper's input, whatever the inputParameters say.
		inTmpl, in.raw = nil, exclusiveJoinInput(wt)
		in.transient = in.raw
	}
	if inTmpl != nil {
		// One call: the stored form (secret references kept), the transient
		// form (values) and every value used registered, BEFORE the task
		// runs, so whatever it echoes is masked. The transient form comes
		// from the ORIGINAL template, never from the stored one: an escaped
		// $${workflow.secrets.x} stays data.
		in.templated = true
		rec.later = nil
		raw, transient := in.raw, in.transient
		if r.e.remoteSimple(wt) && inTmpl.HasSecrets() {
			// Handed to remote workers: the references resolve when a
			// worker's poll takes the task (RemoteTask.Resolve), not now.
			raw, transient, in.secretErr = r.resolveLater(ctx, rec, inTmpl, env, defaults)
		} else if cc := r.checkedCase(ref, wt); cc != nil {
			// Resolved when this decide checked its mappers
			// (mapperthrow.go): its secrets are read once.
			raw, transient = cc.stored, cc.input
		} else {
			raw, transient, in.secretErr = r.sec.Resolve(r.sec.ForTask(ctx, ref), inTmpl, env)
		}
		raw, transient = templateDefaults(raw, defaults), templateDefaults(transient, defaults)
		if wt.Type == TypeJoin && raw != nil {
			raw, transient = withJoinOn(raw, r.joinList(wt, ref)), withJoinOn(transient, r.joinList(wt, ref))
		}
		in.raw, in.transient = raw, transient
		if raw == nil {
			return in
		}
	}
	if rec.RetriedTaskID != "" && !replaced && retriedWithItsInput(wt.Type) {
		in.raw, in.transient = r.retryInput(rec, in.raw, in.transient) // rerun.go
	}
	return in
}
