package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"time"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/runsecrets"
)

// subWorkflowName resolves a SUB_WORKFLOW's subWorkflowParam name and
// version (either may be an expression, as Conductor's SubWorkflowTaskMapper
// resolves them). given: the version is given (0, given, is the latest
// when the task starts), or pinned when the run started (subpin.go); not
// given, the mapper takes the latest version as the task is mapped.
func (r *runState) subWorkflowName(ctx context.Context, wt *WorkflowTask, rec *taskRecord) (name string, version int, given bool, err error) {
	return r.subWorkflowNameFor(ctx, wt, rec.TaskID)
}

// subWorkflowNameFor is subWorkflowName for the record of task id taskID.
func (r *runState) subWorkflowNameFor(ctx context.Context, wt *WorkflowTask, taskID string) (string, int, bool, error) {
	p := wt.SubWorkflowParam
	if wt.subParams == nil {
		if v, ok := r.pinnedVersion(wt); ok {
			return p.Name, v, true, nil
		}
		return p.Name, p.Version, p.versionGiven, nil
	}
	b, _, err := wt.subParams.Execute(ctx, &runEnv{r: r, taskID: taskID, values: r.e.envValues}, interpolate.DeferSecrets, nil)
	if err != nil {
		return "", 0, false, fmt.Errorf("subWorkflowParam: %v", err)
	}
	var v struct {
		Name    any `json:"name"`
		Version any `json:"version"`
	}
	_ = json.Unmarshal(b, &v)
	name, _ := v.Name.(string)
	if strings.TrimSpace(name) == "" {
		return "", 0, false, fmt.Errorf("subWorkflowParam.name %q resolved to no workflow name", p.Name)
	}
	version, given := p.Version, p.versionGiven
	switch x := v.Version.(type) {
	case float64:
		version, given = int(x), true
	case string:
		if x != "" {
			n, err := strconv.Atoi(strings.TrimSpace(x))
			if err != nil {
				return "", 0, false, fmt.Errorf("subWorkflowParam.version %q is not a number", x)
			}
			version, given = n, true
		}
	}
	if !given {
		// A name given by an expression, pinned when the run started
		// (subpin.go): the version its text names, as Conductor's
		// SubWorkflowTaskMapper resolves the name and keeps the version
		// populateTaskDefinitions set.
		if v, ok := r.pinnedVersion(wt); ok {
			version, given = v, true
		}
	}
	return name, version, given, nil
}

// subWorkflowMapperThrows is the run's end when Conductor's
// SubWorkflowTaskMapper would throw mapping SUB_WORKFLOW wt at ref (no
// record of it yet): a child named without a version (nor one pinned when
// the run started, subpin.go: a task made at run time, or one of a run
// stored by a wfrun that did not pin names given by expressions) and
// without an inline definition, whose name has no
// definition, ends the decision with a TerminateWorkflowException and the
// run FAILED with the mapper's words, no task recorded. nil otherwise,
// also when the name cannot be worked out (the task fails on it when it
// runs) or the version is given, 0 included (SubWorkflow.start fails the
// task then).
func (r *runState) subWorkflowMapperThrows(ctx context.Context, wt *WorkflowTask, ref string) error {
	if wt.subDef != nil || ctx.Err() != nil {
		return nil
	}
	id := r.nextTaskID(ref) // mapperthrow.go
	if wt.subDefExpr != nil {
		if def, err := r.subWorkflowDefinition(ctx, wt, &taskRecord{TaskID: id}); err != nil || def != nil {
			return nil
		}
	}
	name, _, given, err := r.subWorkflowNameFor(ctx, wt, id)
	if err != nil || given {
		return nil
	}
	if _, err := r.e.findDefinition(name, 0); !errors.Is(err, ErrDefinitionNotFound) {
		return nil
	}
	return &stopError{status: StatusFailed, reason: r.sec.Excerpt(noSubWorkflowDefinition(name), maxReasonBytes)}
}

// noSubWorkflowDefinition is SubWorkflowTaskMapper's reason for a child
// name without a definition (its trailing space included).
func noSubWorkflowDefinition(name string) string {
	return fmt.Sprintf("The Task %s defined as a sub-workflow has no workflow definition available ", name)
}

// parentEnding reports whether ctx ended because its run is ending early
// (and why), rather than because the process is interrupted.
func parentEnding(ctx context.Context) (string, bool) {
	if ctx.Err() == nil {
		return "", false
	}
	cause := context.Cause(ctx)
	var st *stopError
	var wto *workflowTimeout
	var term *terminated
	var at *attemptTimeout
	switch {
	case errors.As(cause, &st):
		return st.reason, true
	case errors.As(cause, &wto):
		return wto.reason, true
	case errors.As(cause, &term):
		return term.reason, true
	case errors.As(cause, &at):
		return at.reason, true
	}
	return "", false
}

// subWorkflowDefinition resolves a subWorkflowParam.workflowDefinition given
// as an expression (Conductor's SubWorkflowTaskMapper resolves it when the
// task is scheduled, and SubWorkflow.start runs the Map it gives). It
// returns nil when the expression gives nothing: the task then falls back
// to subWorkflowParam.name, as Conductor does. The definition comes from run
// data, so it may reference only the secrets this run's own definition
// references: run data never chooses which secret is read.
func (r *runState) subWorkflowDefinition(ctx context.Context, wt *WorkflowTask, rec *taskRecord) (*Definition, error) {
	b, _, err := wt.subDefExpr.Execute(ctx, &runEnv{r: r, taskID: rec.TaskID, values: r.e.envValues}, interpolate.DeferSecrets, nil)
	if err != nil {
		return nil, fmt.Errorf("subWorkflowParam.workflowDefinition: %v", err)
	}
	var v struct {
		WorkflowDefinition json.RawMessage `json:"workflowDefinition"`
	}
	_ = json.Unmarshal(b, &v)
	raw := v.WorkflowDefinition
	switch {
	case len(raw) == 0 || string(raw) == "null":
		return nil, nil
	case raw[0] != '{':
		return nil, fmt.Errorf("subWorkflowParam.workflowDefinition %s resolved to %s, not a workflow definition (a JSON object)",
			wt.SubWorkflowParam.WorkflowDefinition, jsonKindOf(raw))
	}
	// The run's task outputs hold its registered values masked (only
	// `_secrets` keep them): a definition taken from one would hand its
	// child "***" where the value was, silently. It is refused; the value
	// itself is gone, and with it which secret it was.
	if at, ok := redactedAt(raw); ok { // defvalues.go
		return nil, fmt.Errorf("subWorkflowParam.workflowDefinition %s: %s holds \"***\" where a secret's value was (masked in the output it was read from): give the child the value under _secrets or as its input, never in its definition",
			wt.SubWorkflowParam.WorkflowDefinition, at)
	}
	def, err := r.e.parseUnregistered(raw)
	if err != nil {
		return nil, fmt.Errorf("subWorkflowParam.workflowDefinition: %w", err)
	}
	def.fromRunData = true
	if err := onlySecretsOf(r.def, def, "subWorkflowParam.workflowDefinition"); err != nil {
		return nil, err
	}
	return def, nil
}

// definitionSecrets is every secret name a definition reads: its task
// inputs, the names tasks read by name, its output, and those of its inline
// sub-workflow definitions.
func definitionSecrets(d *Definition) map[string]bool {
	names := map[string]bool{}
	var add func(d *Definition)
	add = func(d *Definition) {
		if d.outputTmpl != nil {
			for _, n := range d.outputTmpl.SecretNames() {
				names[n] = true
			}
		}
		walkTasks(d.Tasks, func(t *WorkflowTask) {
			if t.input != nil {
				for _, n := range t.input.SecretNames() {
					names[n] = true
				}
			}
			for _, n := range t.staticSecrets {
				names[n] = true
			}
			if t.subDef != nil {
				add(t.subDef)
			}
		})
	}
	add(d)
	return names
}

// jsonKindOf names the JSON kind of a value for an error message (never
// the value: it may come from run data).
func jsonKindOf(raw json.RawMessage) string {
	switch raw[0] {
	case '"':
		return "a string"
	case '[':
		return "a list"
	case 't', 'f':
		return "a boolean"
	}
	return "a number"
}

// subWorkflowDone ends a SUB_WORKFLOW task with its child's outcome, as
// Conductor's SubWorkflow task does: the child's output plus subWorkflowId;
// a child FAILED fails the task, TERMINATED cancels it (which terminates
// this run), TIMED_OUT times it out, with the reason "Sub workflow
// <name>.<version>/<id> failure reason: <child's reason>".
func (r *runState) subWorkflowDone(ctx context.Context, rec *taskRecord, child, status, reason string, childOut []byte, canRetry bool) error {
	childID := child[strings.LastIndexByte(child, '/')+1:]
	b, ok := childIDOutput(childOut, childID, childIDPut)
	if !ok {
		b, _ = childIDOutput(nil, childID, childIDPut)
	}
	if status == StatusCompleted {
		return r.complete(ctx, rec, b)
	}
	_ = r.setTaskData(rec, nil, b)
	taskStatus := TaskFailed
	switch status {
	case StatusTerminated:
		taskStatus = TaskCanceled
	case StatusTimedOut:
		taskStatus = TaskTimedOut
	}
	reason = fmt.Sprintf("Sub workflow %s failure reason: %s", child, reason)
	if canRetry && taskStatus != TaskCanceled {
		return r.retryUnlessReopened(ctx, rec, taskStatus, r.sec.Excerpt(reason, maxReasonBytes), false)
	}
	return r.failTask(ctx, rec, taskStatus, reason)
}

// retryUnlessReopened stores SUB_WORKFLOW record rec ended unsuccessfully
// (status, reason; empty as for transitionReason) and returns
// errRetrySubWorkflow: its task retries it with a new attempt. Its end is
// stored before the retry is, so its child, run again in between, can
// re-open it (reopenExecuting), as Conductor's updateAndPushParents re-opens
// a task its decider has not retried yet: then the re-open's outcome
// stands, no retry is scheduled, and nil is returned once the re-opened
// child has ended (the run goes on past it, or ends with the re-opened
// task's failure, reopenedEnded), as afterFailureSince does for a record
// its list stops on. Otherwise, from that decision on the record is not
// re-opened here (reopenSide.failing): two executions of one task's
// attempts would run its child twice.
func (r *runState) retryUnlessReopened(ctx context.Context, rec *taskRecord, status, reason string, empty bool) error {
	r.mu.Lock()
	reopens := r.side.reopens[rec.Ref]
	r.mu.Unlock()
	if err := r.transitionReason(ctx, rec, status, reason, empty); err != nil {
		return err
	}
	if reopened, err := r.decideEnded(ctx, rec, reopens); reopened {
		return err
	}
	return errRetrySubWorkflow
}

// inProgressWith stores a SUB_WORKFLOW record IN_PROGRESS with the child
// it now names (subWorkflowAttempt).
func (r *runState) inProgressWith(ctx context.Context, rec *taskRecord) error {
	if rec.Status != TaskInProgress {
		if err := r.transition(ctx, rec, TaskInProgress, ""); err != nil {
			return err
		}
	}
	return r.save(ctx)
}

// errRetrySubWorkflow: the attempt failed and its task definition retries it.
var errRetrySubWorkflow = errors.New("retry the sub-workflow")

// execSubWorkflow runs a SUB_WORKFLOW task: a child run per attempt. A
// child that FAILED or TIMED_OUT is retried as its task definition says
// (retryCount, retryDelaySeconds, retryLogic; the task-level retryCount
// overrides it), each retry a new record with a new child, as Conductor's
// DeciderService.retry does for any task; a TERMINATED child is not. The
// retry is recorded at once, SCHEDULED with its delay as
// callbackAfterSeconds and startDelayInSeconds, and starts its child once
// the delay has passed on the engine's clock, as Conductor's queue hands
// the retried task to its system task worker (retryWait).
func (r *runState) execSubWorkflow(ctx context.Context, wt *WorkflowTask, suffix string, iter int) error {
	ref := wt.TaskReferenceName + suffix
	pol := r.policy(wt)
	if r.lookup(ref) == nil {
		if err := r.subWorkflowMapperThrows(ctx, wt, ref); err != nil {
			return err // nothing of it is recorded
		}
	}
	if prev := r.lookup(ref); prev != nil && terminalTask(prev.Status) && !successfulTask(prev.Status) && !r.attemptsAgain(prev, wt, pol) {
		return r.settled(ctx, prev, wt, pol) // resume.go: its outcome stands
	}
	for {
		retry := 0
		// The retry's delay: whole seconds on its record, the wait with
		// its jitter.
		var callback int64
		var wait time.Duration
		prev := r.lookup(ref)
		if prev == nil && wt.StartDelay > 0 {
			// Its startDelay, as Conductor's SubWorkflowTaskMapper
			// sets it: callbackAfterSeconds (not
			// startDelayInSeconds), which holds the task in its
			// queue that long.
			callback = int64(wt.StartDelay)
			wait = r.testDelay(time.Duration(wt.StartDelay) * time.Second)
		}
		if prev != nil && !successfulTask(prev.Status) {
			retry = prev.RetryCount // an unfinished attempt runs on
			if prev.Status != TaskScheduled && prev.Status != TaskInProgress {
				retry++
				if r.retriedByPolicy(prev) {
					// Failed just now, or by a process that went
					// away before it stored the retry: Conductor's
					// decider schedules it with its delay then.
					base := pol
					base.jitterMs = 0
					delay := retryDelay(base, prev.RetryCount)
					callback = int64(delay / time.Second)
					wait = r.testDelay(delay + retryJitter(r.id, ref, retry, pol.jitterMs))
					r.announceRetry(prev, retry, pol.retryCount, wait)
				}
			}
		}
		err := r.subWorkflowAttempt(ctx, wt, ref, iter, retry, retry < pol.retryCount, callback, wait)
		if !errors.Is(err, errRetrySubWorkflow) {
			return err
		}
	}
}

// retriedByPolicy: prev, an attempt that ended unsuccessfully and is
// attempted again (attemptsAgain), is retried by its task's retry policy,
// with its delay (DeciderService.retry), not by a retry of the run, which
// schedules the new attempt at once (WorkflowExecutor's
// taskToBeRescheduled: callbackAfterSeconds 0).
func (r *runState) retriedByPolicy(prev *taskRecord) bool {
	r.mu.Lock()
	asked := r.retryAsked[prev.TaskID]
	r.mu.Unlock()
	return !asked && !r.keptAsIs(prev)
}

// retryWait waits, before SUB_WORKFLOW record rec (SCHEDULED, stored,
// naming no child) starts its child, for the rest of its retry's delay
// (or of its startDelay): wait when it was just scheduled; else (a
// resumed record) until its scheduledTime plus its callbackAfterSeconds
// and, for a retry, its jitter (retryJitter), as Conductor's queue holds
// the task that long, a restart or not. An update of rec that comes
// meanwhile ends the wait: the task takes it at once
// (updateBeforeStart), as Conductor's updateTask takes an update of a
// SCHEDULED task.
func (r *runState) retryWait(ctx context.Context, rec *taskRecord, wait time.Duration) error {
	r.mu.Lock()
	resumed := wait == 0 && rec.Callback > 0
	if resumed {
		wait = time.UnixMilli(rec.Scheduled + rec.Callback*1000).Sub(r.e.now())
	}
	retry, ref, wt := rec.RetryCount, rec.Ref, rec.wt
	r.mu.Unlock()
	if resumed && retry > 0 && wt != nil {
		// A retry's wait holds its jitter too, the same the process
		// that scheduled it waited for (retryJitter).
		wait += retryJitter(r.id, ref, retry, r.policy(wt).jitterMs)
	}
	if wait = r.testDelay(wait); wait <= 0 {
		return ctx.Err()
	}
	due, stop := r.e.clock.After(wait)
	defer stop()
	for {
		moved := r.signalsTaken()
		r.mu.Lock()
		sig, ok := r.pending[rec.Ref]
		r.mu.Unlock()
		if ok && (sig.TaskID == "" || sig.TaskID == rec.TaskID) && (finalUpdate(sig) || sig.Status == TaskInProgress) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-due:
			return nil
		case <-moved:
		}
	}
}

// polledForStart: SUB_WORKFLOW record rec, SCHEDULED, naming no child, is
// handed over to start its child, as Conductor's AsyncSystemTaskExecutor
// takes the task from its queue: one poll counted (pollCount 1: the task
// leaves the queue once it has its child) and its startTime set, stored
// with the write that names the child. Until then the record shows
// neither, as Conductor's stored task does while it waits in its queue.
// The task a rerun resets and starts within the rerun (rerunWF calls
// SubWorkflow.start itself, keptChild) is not polled.
func (r *runState) polledForStart(rec *taskRecord) {
	now := r.nowMillis()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, rerun := r.keptChild[rec.TaskID]; rerun || rec.Status != TaskScheduled {
		return
	}
	rec.PollCount++
	if rec.Start == 0 {
		rec.Start = now
	}
	r.touchLocked(rec)
}

// retryJitter is the backoffJitterMs part of the wait before attempt retry
// of the SUB_WORKFLOW task at ref of run runID: from 0 to maxMs ms, as
// Conductor's DeciderService.retry adds to the retry's delay
// (callbackAfterMs, which its queue keeps across a restart). It is derived
// from the attempt rather than drawn, so that a process resuming the run
// during the delay waits for the same instant the record was scheduled
// for, with nothing more stored on the record.
func retryJitter(runID, ref string, retry int, maxMs int64) time.Duration {
	if maxMs <= 0 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(runID + "\x00" + ref + "\x00" + strconv.Itoa(retry)))
	return time.Duration(h.Sum64()%uint64(maxMs+1)) * time.Millisecond
}

// subMapping is what Conductor's SubWorkflowTaskMapper works out for a
// SUB_WORKFLOW record (or, for one that starts from stored input,
// keptSubWorkflowStart reads from it): the child's definition (byName:
// found by its name, else inline), the subWorkflowParam members the
// record shows (subWorkflowExtras).
type subMapping struct {
	def    *Definition
	byName bool
	// latest: found by a name given the version 0, which the record shows
	// (SubWorkflowTaskMapper writes the version as given).
	latest bool
	extras map[string]any
	kept   *keptSubStart
}

// subWorkflowMapping works out rec's mapping: from the stored input it
// starts from (keptSubWorkflowStart), else from its subWorkflowParam.
func (r *runState) subWorkflowMapping(ctx context.Context, wt *WorkflowTask, rec *taskRecord) (*subMapping, error) {
	m := &subMapping{def: wt.subDef}
	var err error
	if m.kept, err = r.keptSubWorkflowStart(wt, rec); err != nil { // rerun.go
		return nil, err
	}
	if m.kept != nil {
		m.def = m.kept.def
	}
	if m.def == nil && wt.subDefExpr != nil {
		if m.def, err = r.subWorkflowDefinition(ctx, wt, rec); err != nil {
			return nil, err
		}
	}
	m.byName = m.def == nil || m.kept != nil && m.kept.byName
	if m.def == nil {
		name, version, given, err := r.subWorkflowName(ctx, wt, rec)
		if err != nil {
			return nil, err
		}
		m.latest = given && version == 0
		if m.def, err = r.e.findDefinition(name, version); errors.Is(err, ErrDefinitionNotFound) {
			return nil, &missingChild{name: name, version: version, err: err}
		} else if err != nil {
			return nil, err
		}
	}
	if m.kept != nil {
		m.extras = m.kept.extras
	} else if m.extras, err = r.subWorkflowExtras(ctx, wt, rec); err != nil {
		return nil, err
	}
	return m, nil
}

// missingChild: the child a SUB_WORKFLOW names by name and version has
// no definition. Conductor's SubWorkflow.start fails the task (FAILED,
// retried as its definition says) with the words of its definition
// lookup (MetadataMapperService).
type missingChild struct {
	name    string
	version int
	err     error
}

func (m *missingChild) Error() string {
	if m.version == 0 {
		// The latest (SubWorkflow.start reads a version 0 as none).
		return fmt.Sprintf("No such workflow defined. name=%s, version=null", m.name)
	}
	return fmt.Sprintf("No such workflow defined. name=%s, version=%d", m.name, m.version)
}

func (m *missingChild) Unwrap() error { return m.err }

// mappingFailure is the status a SUB_WORKFLOW task whose mapping failed
// with err ends with: FAILED for a missing child (missingChild), else
// FAILED_WITH_TERMINAL_ERROR (its definition is at fault).
func mappingFailure(err error) string {
	var mc *missingChild
	if errors.As(err, &mc) {
		return TaskFailed
	}
	return TaskFailedTerminal
}

// mapSubWorkflowRecord gives SUB_WORKFLOW record rec, mapped and never
// started (a task the decision that fails a DO_WHILE maps, recordMapped),
// the inputData and callbackAfterSeconds Conductor's SubWorkflowTaskMapper
// gives the task it creates: the child's name, version or definition,
// the subWorkflowParam members, the task's input under workflowInput
// (subWorkflowRecordInput); its startDelay. A mapping that fails leaves
// the record's input as it is: the run fails anyway.
func (r *runState) mapSubWorkflowRecord(ctx context.Context, wt *WorkflowTask, rec *taskRecord) {
	m, err := r.subWorkflowMapping(ctx, wt, rec)
	if err != nil {
		return
	}
	r.mu.Lock()
	sealed := rec.inStored
	if wt.StartDelay > 0 {
		rec.Callback = int64(wt.StartDelay)
	}
	r.mu.Unlock()
	refs, err := r.sec.Unseal(sealed, "/tasks/"+rec.TaskID+"/inputData")
	if err != nil {
		return
	}
	_ = r.setResolvedInput(rec, subWorkflowRecordInput(m, refs))
}

// subWorkflowSource is the inputData SUB_WORKFLOW record rec starts its
// child from when it is not mapped anew, as Conductor's SubWorkflow.start
// reads the child's name, version, definition, priority, taskToDomain,
// idempotency key and input from the task's inputData: a record a rerun
// reset in place (keptWrapped) starts from its own stored input; a retry
// (by its task's retry policy or a retry of the run) from the stored
// input of the attempt it retries with the task's inputParameters,
// resolved again (rec's input now), added on top, as Conductor's
// DeciderService.retry and taskToBeRescheduled copy the failed task and
// add its input evaluated again to its inputData. nil: mapped anew (a
// first attempt, or an attempt whose input was never mapped).
func (r *runState) subWorkflowSource(rec *taskRecord) []byte {
	r.mu.Lock()
	own, sealed, prevID := rec.keptWrapped, rec.inStored, rec.RetriedTaskID
	var prevSealed []byte
	if !own && prevID != "" && rec.RetryCount > 0 {
		if t := r.retriedRecordLocked(rec); t != nil { // rerun.go
			prevSealed = t.inStored
		}
	}
	r.mu.Unlock()
	if !own && prevSealed == nil {
		return nil
	}
	in, err := r.sec.Unseal(sealed, "/tasks/"+rec.TaskID+"/inputData")
	if err != nil || own {
		return in
	}
	prev, err := r.sec.Unseal(prevSealed, "/tasks/"+prevID+"/inputData")
	if err != nil {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(prev, &m) != nil || m == nil || (!hasJSON(m["subWorkflowName"]) && !hasJSON(m["subWorkflowDefinition"])) {
		return nil // never mapped: mapped anew
	}
	if !hasJSON(in) {
		in = []byte("{}")
	}
	kept, ok := keptRetriedMembers(prev, in) // rerun.go
	if !ok {
		return nil // a masked member kept: mapped anew
	}
	b, err := withMembers(in, kept)
	if err != nil {
		return nil
	}
	return b
}

// keptChildInput is the child's input a SUB_WORKFLOW record starting from
// stored input (keptSubWorkflowStart) gives its child: the workflowInput
// of that input, its stored form as it is, unless the task's input
// template reads a secret (its stored form holds the reference, never the
// value: the input is resolved again) or the stored input was masked. nil:
// the input is resolved again.
func (r *runState) keptChildInput(wt *WorkflowTask, kept *keptSubStart) []byte {
	if kept == nil {
		return nil
	}
	if tmpl, _ := r.e.inputTemplate(wt, r.policy(wt)); tmpl != nil && (tmpl.HasSecrets() || bytes.Contains(tmpl.Source(), []byte("_secrets"))) {
		return nil
	}
	in := subWorkflowInputOf(kept.record) // restart.go
	if !hasJSON(in) || bytes.Contains(in, []byte(masking.Redacted)) {
		return nil
	}
	return in
}

// shortName is Conductor's WorkflowModel.toShortString: name.version/id.
func shortName(name string, version int, id string) string {
	return fmt.Sprintf("%s.%d/%s", name, version, id)
}

// subWorkflowRecordInput is a SUB_WORKFLOW record's inputData as Conductor's
// SubWorkflowTaskMapper writes it from mapping m: the child's name and
// version (0 for a version given as 0; subWorkflowVersion null for an
// inline definition, subWorkflowDefinition that definition), the
// subWorkflowParam members wfrun shows without acting on them (extras:
// priority, subWorkflowTaskToDomain, idempotencyKey, idempotencyStrategy;
// null when absent), and the task's resolved input under workflowInput.
// in is the input's stored form (secret references, not values).
func subWorkflowRecordInput(m *subMapping, in []byte) []byte {
	def, byName, extras := m.def, m.byName, m.extras
	if len(bytes.TrimSpace(in)) == 0 {
		in = []byte("{}")
	}
	var version, inline any
	if byName && m.latest {
		version = 0
	} else if byName {
		version = def.Version
	} else {
		inline = json.RawMessage(def.raw)
	}
	doc := map[string]any{
		"subWorkflowName":         def.Name,
		"subWorkflowVersion":      version,
		"priority":                nil,
		"subWorkflowTaskToDomain": nil,
		"subWorkflowDefinition":   inline,
		"idempotencyKey":          nil,
		"idempotencyStrategy":     nil,
		"workflowInput":           json.RawMessage(in),
	}
	for k, v := range extras {
		doc[k] = v
	}
	b, err := json.Marshal(doc)
	if err != nil {
		return in // in is not JSON: stored as it was
	}
	return b
}

// subWorkflowExtras resolves the subWorkflowParam members a SUB_WORKFLOW
// record shows (priority, taskToDomain, idempotencyKey may be
// expressions; idempotencyStrategy is static), keyed as the record's
// inputData names them.
func (r *runState) subWorkflowExtras(ctx context.Context, wt *WorkflowTask, rec *taskRecord) (map[string]any, error) {
	p := wt.SubWorkflowParam
	out := map[string]any{}
	if p.IdempotencyStrategy != "" {
		out["idempotencyStrategy"] = p.IdempotencyStrategy
	}
	if wt.subExtra == nil {
		return out, nil
	}
	b, _, err := wt.subExtra.Execute(ctx, &runEnv{r: r, taskID: rec.TaskID, values: r.e.envValues}, interpolate.DeferSecrets, nil)
	if err != nil {
		return nil, fmt.Errorf("subWorkflowParam: %v", err)
	}
	var v struct {
		Priority       json.RawMessage `json:"priority"`
		TaskToDomain   json.RawMessage `json:"taskToDomain"`
		IdempotencyKey json.RawMessage `json:"idempotencyKey"`
	}
	_ = json.Unmarshal(b, &v)
	if hasJSON(v.Priority) {
		var n float64
		if json.Unmarshal(v.Priority, &n) != nil {
			var s string
			_ = json.Unmarshal(v.Priority, &s)
			f, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
			if err != nil {
				return nil, fmt.Errorf("subWorkflowParam.priority resolved to %s, not a number", jsonKindOf(v.Priority))
			}
			n = f
		}
		if n != float64(int(n)) || n < 0 || n > 99 {
			return nil, fmt.Errorf("subWorkflowParam.priority resolved to %v: want an integer from 0 to 99", n)
		}
		out["priority"] = int(n)
	}
	if hasJSON(v.TaskToDomain) && v.TaskToDomain[0] == '{' {
		var m map[string]string
		if json.Unmarshal(v.TaskToDomain, &m) == nil {
			if err := r.plainDomains(m); err != nil { // domains.go
				return nil, fmt.Errorf("subWorkflowParam.%w", err)
			}
		}
		out["subWorkflowTaskToDomain"] = v.TaskToDomain
	}
	var key string
	if json.Unmarshal(v.IdempotencyKey, &key) == nil && key != "" {
		if err := r.plainKey(key); err != nil {
			return nil, fmt.Errorf("subWorkflowParam.idempotencyKey: %w", err)
		}
		out["idempotencyKey"] = key
	}
	return out, nil
}

// markDynamic adds `_systemMetadata.dynamic: true` to the input of a child
// run from an inline definition, as Conductor's SubWorkflow.start does, so
// its tasks can tell it from a registered workflow (other members of an
// input's _systemMetadata are kept).
func markDynamic(in []byte) []byte {
	m := map[string]json.RawMessage{}
	if json.Unmarshal(orEmpty(in), &m) != nil {
		return in
	}
	meta := map[string]json.RawMessage{}
	_ = json.Unmarshal(m["_systemMetadata"], &meta)
	meta["dynamic"] = json.RawMessage("true")
	m["_systemMetadata"], _ = json.Marshal(meta)
	b, err := json.Marshal(m)
	if err != nil {
		return in
	}
	return b
}

// childConfig adds to a child run's configuration what Conductor's
// SubWorkflow.start gives it from its SUB_WORKFLOW task (extras,
// subWorkflowExtras): the parent's taskToDomain, or the subWorkflowParam's
// in its place; the subWorkflowParam's priority (a child does not inherit
// its parent's: without one it has 0); its idempotencyKey.
func (r *runState) childConfig(cfg *runConfig, extras map[string]any) {
	r.mu.Lock()
	cfg.taskToDomain = r.doc.TaskToDomain
	r.mu.Unlock()
	if raw, ok := extras["subWorkflowTaskToDomain"].(json.RawMessage); ok {
		m := map[string]string{}
		if json.Unmarshal(raw, &m) == nil {
			cfg.taskToDomain = m
		}
	}
	if p, ok := extras["priority"].(int); ok {
		cfg.priority = p
	}
	if k, ok := extras["idempotencyKey"].(string); ok {
		cfg.idempotencyKey = k
	}
}

// claimChildKey claims the subWorkflowParam's idempotency key (extras,
// subWorkflowExtras) for the child run id about to start, as its
// idempotencyStrategy says: it returns the run already holding it when the
// strategy is RETURN_EXISTING (the task then follows that run), or an error
// (the task fails with it) when the strategy refuses the start.
func (r *runState) claimChildKey(ctx context.Context, wt *WorkflowTask, workflow string, extras map[string]any, id string) (string, error) {
	key, _ := extras["idempotencyKey"].(string)
	if key == "" {
		return "", nil
	}
	return r.e.ClaimIdempotencyKey(ctx, workflow, key, wt.SubWorkflowParam.IdempotencyStrategy, id)
}

// followExisting ends a SUB_WORKFLOW task with the outcome of the run
// already started with its idempotency key (RETURN_EXISTING): the task
// records that run as its sub-workflow and waits for its end, reading the
// run store (the run may be executed by another process).
func (r *runState) followExisting(ctx context.Context, rec *taskRecord, id string, canRetry bool) error {
	r.mu.Lock()
	rec.SubWorkflowID = id
	r.touchLocked(rec)
	r.mu.Unlock()
	if err := r.inProgressWith(ctx, rec); err != nil {
		return err
	}
	for {
		doc, _, err := r.e.runs.Load(ctx, id)
		if err != nil {
			return r.failTask(ctx, rec, TaskFailed, fmt.Sprintf("sub-workflow %s: %v", id, err))
		}
		var cd runDoc
		if err := json.Unmarshal(doc, &cd); err != nil {
			return r.failTask(ctx, rec, TaskFailedTerminal, fmt.Sprintf("sub-workflow %s: damaged run document", id))
		}
		if terminalWorkflow(cd.Status) {
			if err := r.e.checkOutcome(id, &cd); err != nil { // recordseal.go
				return r.failTask(ctx, rec, TaskFailedTerminal, "sub-workflow: "+err.Error())
			}
			return r.subWorkflowDone(ctx, rec, shortName(cd.WorkflowType, cd.Version, id), cd.Status, cd.ReasonForIncompletion, cd.Output, canRetry)
		}
		if err := r.e.sleep(ctx, r.e.pollInterval); err != nil {
			return err
		}
	}
}

// childIDEdit says what childIDOutput does to a subWorkflowId member.
type childIDEdit int

const (
	// childIDPut sets it: to the child's id, null for none.
	childIDPut childIDEdit = iota
	// childIDReplace sets it as childIDPut does where the output has one.
	childIDReplace
	// childIDDrop removes it.
	childIDDrop
)

// childIDOutput is SUB_WORKFLOW output out (a JSON object; none or null:
// an empty one) with its subWorkflowId member changed as edit says, id
// the child's id. changed is false, and out returned as it is, when out
// is not a JSON object or edit changes nothing in it. A SUB_WORKFLOW
// task's output names its child there (SubWorkflow.start's
// addOutput("subWorkflowId", id)); an update replaces the member, a
// rerun drops it (finalizeRerun).
func childIDOutput(out json.RawMessage, id string, edit childIDEdit) (res json.RawMessage, changed bool) {
	var m map[string]json.RawMessage
	if len(out) > 0 && json.Unmarshal(out, &m) != nil {
		return out, false
	}
	_, has := m["subWorkflowId"]
	switch {
	case edit == childIDDrop && !has, edit == childIDReplace && !has:
		return out, false
	case edit == childIDDrop:
		delete(m, "subWorkflowId")
	default:
		if m == nil {
			m = map[string]json.RawMessage{}
		}
		m["subWorkflowId"] = json.RawMessage("null")
		if id != "" {
			m["subWorkflowId"], _ = json.Marshal(id)
		}
	}
	b, err := json.Marshal(m)
	if err != nil {
		return out, false
	}
	return b, true
}

// parentTerminatedReason is the reason of a child run terminated because
// its parent ended early with reason, as Conductor's SubWorkflow.cancel
// words it.
func parentTerminatedReason(reason string) string {
	return "Parent workflow has been terminated with reason: " + reason
}

// definitionPointer binds the sealed `_secrets` members of a stored
// definition built from run data (protectDefinition).
const definitionPointer = "/workflowDefinition"

// protectDefinition makes the stored form of a definition built from run
// data (Definition.fromRunData) pass the run's secret boundary, as its
// input does (runsecrets.Protect): its `_secrets` members sealed, bound to
// the run, so no value they hold reaches the store, whose definitions part
// is keyed by hash and never rewritten. The run executes the definition
// as it was built; a resume opens the sealed members again
// (openDefinition). A registered secret's value outside `_secrets` would
// be stored masked, and a resumed run would read "***" where the value
// was: such a definition is refused before the run starts. r.mu is not
// held: the run is not shared yet.
func (r *runState) protectDefinition() error {
	if !r.def.fromRunData {
		return nil
	}
	mem, stored, err := r.sec.Protect(r.def.raw, definitionPointer)
	if err != nil {
		return fmt.Errorf("workflow definition built at run time: %w", err)
	}
	if !equalJSON(mem, r.def.raw) { // reopen.go
		return errors.New("workflow definition built at run time holds a secret's value outside _secrets: it would be stored masked and run with \"***\" after a resume")
	}
	if !bytes.Equal(stored, r.def.raw) {
		r.doc.WorkflowDefinition, r.doc.DefinitionHash = stored, defHash(stored)
	}
	return nil
}

// sealedDefinition reports whether a stored definition holds sealed
// members (protectDefinition).
func sealedDefinition(b []byte) bool {
	return bytes.Contains(b, []byte(`"`+runsecrets.SealedPrefix))
}

// parseStored parses a stored run's definition. One built from run data
// (sealed members: protectDefinition) is parsed as it was when it was
// built, unregistered; its run opens it (openDefinition).
func (e *Engine) parseStored(b []byte) (*Definition, error) {
	if sealedDefinition(b) {
		return e.parseUnregistered(b)
	}
	return e.Parse(b)
}

// openDefinition gives a loaded run whose stored definition was built from
// run data the definition it ran: its sealed members opened (authenticated,
// bound to this run) and their values registered again. The stored form
// (r.doc.WorkflowDefinition) stays what the run writes.
func (r *runState) openDefinition() error {
	if !sealedDefinition(r.doc.WorkflowDefinition) {
		return nil
	}
	plain, err := r.sec.Unseal(r.doc.WorkflowDefinition, definitionPointer)
	if err != nil {
		return err
	}
	def, err := r.e.parseUnregistered(plain)
	if err != nil {
		return err
	}
	def.fromRunData = true
	r.def = def
	return nil
}

// storedDefinitionLocked is the definition the run writes: its stored form.
// Callers hold r.mu.
func (r *runState) storedDefinitionLocked() []byte {
	if len(r.doc.WorkflowDefinition) > 0 {
		return r.doc.WorkflowDefinition
	}
	return r.def.raw
}
