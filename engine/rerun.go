package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/masking"
)

// ErrBadRerun: a rerun request that cannot apply (a replacement input that
// is not a JSON object, a taskInput without the task to rerun from).
var ErrBadRerun = errors.New("invalid rerun request")

// RerunOptions is Conductor's RerunWorkflowRequest.
type RerunOptions struct {
	// FromTaskID is the task to rerun from: the tasks recorded before it
	// are kept. Empty: the whole run again.
	FromTaskID string
	// WorkflowInput, when set, replaces the run's input.
	WorkflowInput json.RawMessage
	// TaskInput, when set, replaces the input of the FromTaskID task
	// (instead of its inputParameters).
	TaskInput json.RawMessage
	// CorrelationID, when set, replaces the run's correlation id.
	CorrelationID string

	// ancestor: the rerun named an ancestor's id and a task of this child
	// run; the replacements are the ancestor's (restart.go).
	ancestor *ancestorEdit
	// latestDefinition: a restart on the latest definition
	// (RestartWith).
	latestDefinition bool
}

// ancestorEdit is the workflowInput and correlationId a rerun gives the run
// it named when the task it reruns from is in one of its children.
type ancestorEdit struct {
	id            string
	input         json.RawMessage
	correlationID string
}

// RerunWith runs an ended run again under the same id, as Conductor's rerun
// does: from o.FromTaskID (or from the start), with the run's input
// replaced by o.WorkflowInput and the rerun task's by o.TaskInput when
// they are given. Replacement input is run input: a
// `${workflow.secrets.x}` in it is text, never resolved (only a
// definition's inputParameters read secrets).
func (e *Engine) RerunWith(ctx context.Context, id string, o RerunOptions) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if o.FromTaskID == "" {
		return e.restartWith(ctx, id, true, "", &o)
	}
	return e.restartWith(ctx, id, false, o.FromTaskID, &o)
}

// Validate reports a request that cannot apply (ErrBadRerun).
func (o *RerunOptions) Validate() error {
	for name, v := range map[string]json.RawMessage{"workflowInput": o.WorkflowInput, "taskInput": o.TaskInput} {
		if v := bytes.TrimSpace(v); len(v) > 0 && string(v) != "null" && (v[0] != '{' || !json.Valid(v)) {
			return fmt.Errorf("%w: %s must be a JSON object", ErrBadRerun, name)
		}
	}
	if hasJSON(o.TaskInput) && o.FromTaskID == "" {
		return fmt.Errorf("%w: taskInput replaces the input of the task to rerun from: reRunFromTaskId is required with it", ErrBadRerun)
	}
	return nil
}

func hasJSON(v json.RawMessage) bool {
	v = bytes.TrimSpace(v)
	return len(v) > 0 && string(v) != "null"
}

// applyRerun puts a rerun's replacements in place before the run is stored
// again; fromRef is the exact ref of the task rerun from, prevIn its
// previous input (in-memory form), sibs the records before it reset in
// place that run again with their stored input.
func (r *runState) applyRerun(o *RerunOptions, fromRef, fromID string, prevIn []byte, child string, sibs []rerunSibling, loops []rerunLoop) error {
	if hasJSON(o.WorkflowInput) {
		// Conductor sets the input as given: no inputTemplate. A child's
		// sealed input (SUB_WORKFLOW) is replaced with it.
		if err := r.setInput(bytes.TrimSpace(o.WorkflowInput)); err != nil {
			return err
		}
		r.mu.Lock()
		r.doc.SealedInput = ""
		r.mu.Unlock()
	}
	r.mu.Lock()
	if o.CorrelationID != "" {
		r.doc.CorrelationID = o.CorrelationID
	}
	r.mu.Unlock()
	if fromRef == "" || (fromID == "" && len(sibs) == 0 && len(loops) == 0) {
		return nil
	}
	// Conductor reschedules the rerun task itself: same task id.
	kept := rerunTask{Ref: fromRef, TaskID: fromID, Child: child, Siblings: sibs, Loops: loops}
	switch {
	case fromID == "":
		// A dynamic fork's FORK, mapped again (resetInPlace): its input
		// too, and a taskInput does not apply to it.
	case hasJSON(o.TaskInput):
		kept.Input, kept.Override = append([]byte(nil), bytes.TrimSpace(o.TaskInput)...), true
	case hasJSON(prevIn):
		// Conductor keeps the rerun task's inputData (the later tasks are
		// scheduled anew, from their templates): even with a replaced
		// workflow input, the task runs again with what it had.
		kept.Input = append([]byte(nil), prevIn...)
	}
	// Kept with the rerun's commit, sealed (the input's `_secrets` leaves
	// are in clear in memory): a process that resumes the run after a
	// crash reschedules the task with the same id and input.
	plain, err := json.Marshal(kept)
	if err != nil {
		return err
	}
	sealed, err := r.sec.Seal(plain, rerunTaskPointer)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.doc.RerunTask = sealed
	r.keepRerunTaskLocked(&kept)
	rec := r.byRef[fromRef]
	r.mu.Unlock()
	if kept.Override && child == "" && rec != nil && fromID != "" && rec.TaskID == fromID {
		// Conductor's rerunWF sets the taskInput as the reset record's
		// inputData, in the rerun's write.
		return r.setTaskData(rec, kept.Input, nil)
	}
	return nil
}

// resetInPlace: the record of the task a rerun starts from stays in the
// run, reset (resetForRerunLocked), as Conductor's rerunWF resets it. Not
// a dynamic fork's FORK record: Conductor's finalizeRerun drops it and
// maps the fork again (a new FORK record, new branches).
func resetInPlace(from *taskRecord) bool {
	return from.wt == nil || from.wt.Type != TypeForkJoinDynamic
}

// remappedForkLocked replaces from, a dynamic fork's FORK record a rerun
// starts from, by a new record of it (a new task id, its seq, SCHEDULED,
// scheduled now), as Conductor's finalizeRerun removes that record and
// maps the fork again; the executor takes the new record over, resolving
// its input and mapping the branches (fork.go). Callers hold r.mu.
func (r *runState) remappedForkLocked(from *taskRecord) *taskRecord {
	t := &taskRecord{TaskID: taskIDAtTag(from.Seq, r.tag), Ref: from.Ref, BaseRef: from.BaseRef, TaskType: from.TaskType, TaskDefName: from.TaskDefName,
		Status: TaskScheduled, Iteration: from.Iteration, Seq: from.Seq, Scheduled: r.nowMillis(),
		Domain: from.Domain, IsolationGroupID: from.IsolationGroupID, ExecutionNameSpace: from.ExecutionNameSpace, wt: from.wt}
	r.touchLocked(t)
	return t
}

// resetForRerunLocked resets the record of the task a rerun starts from
// as Conductor's rerunWF does, in the write that stores the run RUNNING
// again: SCHEDULED, scheduled now, no start nor end time, its output
// cleared, no poll counted; its task id, seq, retryCount, retriedTaskId,
// input and reasonForIncompletion stay (Conductor does not reset the
// reason: it stays while the task is scheduled and polled, until its next
// update, heldReason). The executor takes the record over as an
// unfinished one (beginRecord). Callers hold r.mu.
func (r *runState) resetForRerunLocked(t *taskRecord) {
	t.Status, t.Scheduled, t.Start, t.End = TaskScheduled, r.nowMillis(), 0, 0
	t.outMem, t.outStored = nil, nil
	t.PollCount, t.Callback, t.WaitUntil, t.Awaiting = 0, 0, 0, false
	t.heldReason = t.Reason != ""
	r.touchLocked(t)
}

// loopOutputAt sets the output's iteration of the DO_WHILE record t, which
// a rerun reopened at the iteration of the task it reruns from (t's
// Iteration), to that iteration, as the loop shows it while it runs: a
// resumed loop goes on from there (resumeLoop reads it), not from the
// iteration it had reached.
func (r *runState) loopOutputAt(t *taskRecord) error {
	r.mu.Lock()
	out, n := t.outMem, t.Iteration
	r.mu.Unlock()
	var m map[string]json.RawMessage
	if json.Unmarshal(out, &m) != nil || m == nil {
		return nil
	}
	var at int
	if json.Unmarshal(m["iteration"], &at) != nil || at == n {
		return nil
	}
	m["iteration"] = json.RawMessage(strconv.Itoa(n))
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return r.setTaskData(t, nil, b)
}

// rerunTaskPointer binds a run's sealed rerunTask.
const rerunTaskPointer = "/rerunTask"

// rerunTask is what a rerun keeps of the task it starts from until that
// task's attempt ends: its id (its record's, reset in place), and the
// input it runs with (the rerun's taskInput when Override, else its
// previous input), which a resumed run gives the unfinished record rather
// than resolving its template again. A SUB_WORKFLOW task rerun in place
// keeps its record (and id) and gets the id of its new child, Child,
// chosen by the rerun (kept until the task names it): its previous child
// holds the id derived from the record (subworkflowchild.go). Siblings
// are the records before it that the rerun reset in place
// (resetSiblingLocked) and run again with their stored input, as
// Conductor's scheduled tasks do (replacementInput): the note stays until
// their attempts have ended too. TaskID is empty when the task rerun from
// is a dynamic fork's FORK, mapped again under a new id.
type rerunTask struct {
	Ref      string          `json:"ref"`
	TaskID   string          `json:"taskId"`
	Input    json.RawMessage `json:"input,omitempty"`
	Override bool            `json:"override,omitempty"`
	Child    string          `json:"child,omitempty"`
	Siblings []rerunSibling  `json:"siblings,omitempty"`
	Loops    []rerunLoop     `json:"loops,omitempty"`
}

// rerunLoop is a DO_WHILE that completed and holds the task a rerun starts
// from: it stays COMPLETED, and the rest of its iteration Iteration (the
// rerun task's) runs once more (replayRerunIteration). A retry notes the
// same of a COMPLETED DO_WHILE holding a failed task it retries
// (completedLoopsHoldingFailuresLocked).
type rerunLoop struct {
	TaskID    string `json:"taskId"`
	Iteration int    `json:"iteration"`
}

// rerunSibling is a record a rerun reset in place that runs with its
// stored input, which the record holds: the note names the record only,
// since the head it lives in is written with every save while the note
// stays, and the record is written when it changes. A leaf or control
// task's is its record's own input, which the executor, taking the record
// over, writes back; a SUB_WORKFLOW's, its child's input, is the
// workflowInput of its record's input, which stays as it is until the
// child's start writes it again (keptWrapped). Input: a SUB_WORKFLOW's
// child input, as a note an earlier wfrun wrote holds it (the executor
// writes it as the record's input then).
type rerunSibling struct {
	TaskID string          `json:"taskId"`
	Input  json.RawMessage `json:"input,omitempty"`
}

func (r *runState) keepRerunTaskLocked(k *rerunTask) {
	r.keptID, r.keptChild = map[string]string{k.Ref: k.TaskID}, nil
	switch {
	case k.TaskID == "":
		r.keptID = nil
	case k.Child != "":
		// Its record stays: no new record takes the id.
		r.keptID, r.keptChild = nil, map[string]string{k.TaskID: k.Child}
	}
	r.keptLoops = nil
	for _, l := range k.Loops {
		r.keepLoopIterationLocked(l)
	}
	r.keptSibs = nil
	for _, s := range k.Siblings {
		if r.keptSibs == nil {
			r.keptSibs = map[string][]byte{}
		}
		r.keptSibs[s.TaskID] = s.Input
	}
	r.inputOverride, r.keptInput = nil, nil
	switch {
	case k.TaskID == "":
	case k.Override:
		r.inputOverride = map[string][]byte{k.Ref: k.Input}
	case hasJSON(k.Input):
		r.keptInput = map[string][]byte{k.Ref: k.Input}
	}
}

// openRerunTask restores, on resume, what a rerun kept of its task (its
// sealed rerunTask): authenticated, bound to this run.
func (r *runState) openRerunTask(sealed string) error {
	plain, err := r.sec.Open(sealed, rerunTaskPointer)
	if err != nil {
		return fmt.Errorf("rerunTask: %w", err)
	}
	var k rerunTask
	if err := json.Unmarshal(plain, &k); err != nil || k.Ref == "" || (k.TaskID == "" && len(k.Siblings) == 0 && len(k.Loops) == 0) {
		return fmt.Errorf("rerunTask: damaged")
	}
	r.mu.Lock()
	r.keepRerunTaskLocked(&k)
	r.mu.Unlock()
	return nil
}

// keepRerunReason: on load, the record a rerun reset in place (its note
// still in the run's head) and an unfinished retry keep their
// reasonForIncompletion until the task's next update, as in the process
// that scheduled them (heldReason). What the note holds of records whose
// attempt has ended since (the note stays while a sibling's runs) is let
// go.
func (r *runState) keepRerunReason() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range r.tasks {
		if t != nil && t.RetriedTaskID != "" && t.Reason != "" && (t.Status == TaskScheduled || t.Status == TaskInProgress) {
			t.heldReason = true
		}
	}
	for ref, id := range r.keptID {
		t := r.byRef[ref]
		if t != nil && t.TaskID == id && (t.Status == TaskScheduled || t.Status == TaskInProgress) {
			t.heldReason = t.Reason != ""
		} else if t != nil && t.TaskID == id {
			delete(r.keptID, ref)
		}
	}
	if len(r.keptSibs) == 0 {
		return
	}
	unfinished := map[string]bool{}
	for _, t := range r.tasks {
		if !terminalTask(t.Status) {
			unfinished[t.TaskID] = true
		}
	}
	for id := range r.keptSibs {
		if !unfinished[id] {
			delete(r.keptSibs, id)
		}
	}
}

// rerunNoteServedLocked: nothing the rerun's note keeps is still to be
// used (the rerun task's id and child, the siblings' stored input): it
// leaves the run's head with the next write. Callers hold r.mu.
func (r *runState) rerunNoteServedLocked() {
	if len(r.keptID) == 0 && len(r.keptChild) == 0 && len(r.keptSibs) == 0 && len(r.keptLoops) == 0 {
		r.doc.RerunTask = ""
	}
}

// takeKeptIDLocked returns (once) the id a rerun keeps for the task ref:
// a run an earlier wfrun reran holds no record of the task until it is
// scheduled again, which gets that id.
func (r *runState) takeKeptIDLocked(ref string) string {
	id, ok := r.keptID[ref]
	if ok {
		delete(r.keptID, ref)
		// The task is scheduled again: its record now carries the id
		// and the input (the next write stores both).
		r.rerunNoteServedLocked()
	}
	return id
}

// heldByRecordLocked: the id a rerun keeps for ref is its record's, reset
// in place: a record added for ref (a retry of it) gets an id of its own.
func (r *runState) heldByRecordLocked(ref string) bool {
	rec := r.byRef[ref]
	return rec != nil && rec.TaskID == r.keptID[ref]
}

// rerunAttemptEndedLocked: the attempt of the task a rerun reset in place
// ended (its end is written at once). Until then a process resuming the
// run after a crash gives the unfinished record the rerun's input again
// from the rerun's note (the sealed rerunTask); now the note has served
// and leaves the run's head with that write. Callers hold r.mu.
func (r *runState) rerunAttemptEndedLocked(t *taskRecord) {
	if id, ok := r.keptID[t.Ref]; ok && id == t.TaskID {
		delete(r.keptID, t.Ref)
		r.rerunNoteServedLocked()
	}
	// Its taskInput (or kept input) was that attempt's: a retry of it
	// copies that attempt's input and evaluates its template over it
	// (retryInput), as Conductor's retry() does.
	delete(r.inputOverride, t.Ref)
	delete(r.keptInput, t.Ref)
	if _, ok := r.keptSibs[t.TaskID]; ok {
		delete(r.keptSibs, t.TaskID)
		r.rerunNoteServedLocked()
	}
}

// takeRerunChildLocked: the SUB_WORKFLOW task a rerun reran in place names its
// new child, a stored run: the rerun's note (which chose the child's id)
// leaves the run's head with the write that names it, and the task keeps
// its startTime 0. Callers hold r.mu.
func (r *runState) takeRerunChildLocked(rec *taskRecord) {
	if _, ok := r.keptChild[rec.TaskID]; ok {
		// Conductor's rerunWF resets the task's startTime to 0 and starts
		// its child directly (SubWorkflow.start), which sets none: the
		// task shows startTime 0 while IN_PROGRESS and once it ends.
		rec.noStart = true
		delete(r.keptChild, rec.TaskID)
		r.rerunNoteServedLocked()
	}
}

// replacementInput is the rerun's taskInput for ref, if any, else the
// previous input a rerun keeps for its task, or the stored input of a
// record before it that the rerun reset in place (Conductor's scheduled
// task runs with the inputData it has), when that can be given again
// as it was: the template reads no secret (the kept form holds references,
// never values, and a reference in data must stay text) and nothing in it
// was masked. Otherwise the input is built from the template again.
func (r *runState) replacementInput(ref string, tmpl *interpolate.Template) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ov := r.inputOverride[ref]; ov != nil {
		return ov
	}
	prev := r.keptInput[ref]
	var wrapped *taskRecord
	if t := r.byRef[ref]; prev != nil && t != nil && t.TaskType == TypeSubWorkflow && r.keptChild[t.TaskID] != "" {
		// The SUB_WORKFLOW task rerun in place: its record keeps its
		// input as it is too, so that its new child starts from its
		// stored name and version (keptSubWorkflowStart).
		t.keptWrapped, wrapped = false, t
	}
	if t := r.byRef[ref]; prev == nil && t != nil && !terminalTask(t.Status) {
		t.keptWrapped = false
		if in, ok := r.keptSibs[t.TaskID]; ok {
			if prev = in; prev == nil {
				prev = t.inMem // its stored input (rerunSibling)
				if t.TaskType == TypeSubWorkflow {
					prev, wrapped = subWorkflowInputOf(prev), t
				}
			}
		}
	}
	if prev == nil {
		return nil
	}
	if tmpl != nil && (tmpl.HasSecrets() || bytes.Contains(tmpl.Source(), []byte("_secrets"))) {
		return nil
	}
	if bytes.Contains(prev, []byte(masking.Redacted)) {
		return nil
	}
	if wrapped != nil {
		// The record keeps its input as it is, the child's within
		// (rerunSibling): the executor starts the child with that.
		wrapped.keptWrapped = true
	}
	return prev
}

// keptWrapped: the SUB_WORKFLOW record rec runs with the child's input
// its stored input holds under workflowInput, which stays as it is
// (replacementInput), rather than with an input of its own.
func (r *runState) keptWrapped(rec *taskRecord) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return rec.keptWrapped
}

// resetSiblingForRerun: t, a task recorded before the task from a rerun
// starts from that ended unsuccessfully (another fork branch's), is reset
// in place by the rerun, as Conductor's finalizeRerun resets every such
// record but those of the rerun task's ref, rather than dropped and
// scheduled anew: a leaf task, a SUB_WORKFLOW (its child cleared), a
// DO_WHILE, a JOIN, a TERMINATE that failed and the other control tasks.
func resetSiblingForRerun(t, from *taskRecord) bool {
	return t.Ref != from.Ref && !successfulTask(t.Status) && terminalTask(t.Status)
}

// resetSiblingNotedLocked resets t in place (resetSiblingLocked) and
// returns sibs and subs with t added where it belongs: sibs when it runs
// again with its stored input (keptSibling), subs when it is a
// SUB_WORKFLOW (its child's id leaves its output). Callers hold r.mu.
func (r *runState) resetSiblingNotedLocked(t *taskRecord, sibs []rerunSibling, subs []*taskRecord) ([]rerunSibling, []*taskRecord) {
	r.resetSiblingLocked(t)
	if s, ok := keptSibling(t); ok {
		sibs = append(sibs, s)
	}
	if t.TaskType == TypeSubWorkflow {
		subs = append(subs, t)
	}
	return sibs, subs
}

// keptSibling: t, a record resetSiblingLocked reset (or the DO_WHILE a
// rerun reopens), runs again with the input it has (replacementInput),
// as Conductor's finalizeRerun leaves a reset record's inputData as it is:
// a leaf task, a control task (a DO_WHILE, a JOIN: what it does reads its
// definition, as Conductor's DoWhile and Join do, and its joinOn; a
// SWITCH or DECISION, whose case is evaluated on that kept input, not on
// a rerun's new workflowInput; a FORK; an EXCLUSIVE_JOIN) or a
// SUB_WORKFLOW (its child's input, the record's workflowInput) with an
// input. One whose template reads a secret, or whose stored input was
// masked, is resolved again (its stored input never holds the value).
// Callers hold r.mu.
func keptSibling(t *taskRecord) (rerunSibling, bool) {
	if t.TaskType != TypeSubWorkflow {
		return rerunSibling{TaskID: t.TaskID}, hasJSON(t.inMem)
	}
	return rerunSibling{TaskID: t.TaskID}, hasJSON(subWorkflowInputOf(t.inMem))
}

// resetSiblingLocked resets t (resetSiblingForRerun) as Conductor's
// finalizeRerun does, in the rerun's write: SCHEDULED (IN_PROGRESS for a
// JOIN, a DO_WHILE and a system task Conductor runs synchronously),
// started now, no end time, no reason; its task id, seq, retryCount,
// scheduled time, input and output stay, but a SUB_WORKFLOW's child: it
// names none (nor does its output), and starts a new one
// (subworkflowchild.go). The executor takes the record over (beginRecord;
// a DO_WHILE goes on at its iteration). Callers hold r.mu.
func (r *runState) resetSiblingLocked(t *taskRecord) {
	t.Status = TaskScheduled
	if syncSystemTask[t.TaskType] || t.TaskType == TypeJoin || t.TaskType == TypeDoWhile {
		t.Status = TaskInProgress
	}
	if t.TaskType == TypeSubWorkflow {
		t.SubWorkflowID = ""
	}
	t.Start, t.End, t.Reason = r.nowMillis(), 0, ""
	t.Callback, t.WaitUntil, t.Awaiting = 0, 0, false
	r.touchLocked(t)
}

// dropChildOutput removes subWorkflowId from the output of the
// SUB_WORKFLOW record t that a rerun reset in place, as Conductor's
// finalizeRerun does; the rest of the output stays.
func (r *runState) dropChildOutput(t *taskRecord) error {
	r.mu.Lock()
	out := t.outMem
	r.mu.Unlock()
	var m map[string]json.RawMessage
	if json.Unmarshal(out, &m) != nil || m == nil {
		return nil
	}
	if _, ok := m["subWorkflowId"]; !ok {
		return nil
	}
	delete(m, "subWorkflowId")
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return r.setTaskData(t, nil, b)
}

// syncSystemTask: the system task types Conductor starts at once rather
// than from a queue (WorkflowSystemTask.isAsync false); its finalizeRerun
// resets them IN_PROGRESS.
var syncSystemTask = map[string]bool{
	TypeSetVariable: true, TypeLambda: true, "INLINE": true, "JSON_JQ_TRANSFORM": true,
	TypeEvent: true, TypeHuman: true, "NOOP": true, TypeTerminate: true,
	TypeSwitch: true, TypeDecision: true, TypeFork: true, TypeExclusiveJoin: true,
}

// keptSubStart is what the stored input of a SUB_WORKFLOW record a rerun
// reset in place, or of the attempt a retry follows, names of its child
// (keptSubWorkflowStart).
type keptSubStart struct {
	def    *Definition
	byName bool
	extras map[string]any
	// record is the inputData the record starts its child with
	// (subWorkflowSource), written as its input.
	record []byte
}

// keptSubWorkflowStart: the SUB_WORKFLOW record rec a rerun reset in place
// (keptWrapped), or a retry of an attempt, starts its new child as the
// stored input it starts from (subWorkflowSource) names it, as
// Conductor's SubWorkflow.start reads the child's name, version,
// definition, priority, taskToDomain and idempotency key from the task's
// inputData: not from subWorkflowParam again, whose expressions may read
// a workflow input a rerun replaced, and whose latest version may have
// changed. nil: resolved again, as for a task scheduled anew (not such a
// record, a subWorkflowParam reading a secret, or a masked value in the
// stored input).
func (r *runState) keptSubWorkflowStart(wt *WorkflowTask, rec *taskRecord) (*keptSubStart, error) {
	for _, tmpl := range []*interpolate.Template{wt.subParams, wt.subDefExpr, wt.subExtra} {
		if tmpl != nil && (tmpl.HasSecrets() || bytes.Contains(tmpl.Source(), []byte("_secrets"))) {
			return nil, nil
		}
	}
	stored := r.subWorkflowSource(rec) // subworkflow.go
	if stored == nil || bytes.Contains(stored, []byte(masking.Redacted)) {
		return nil, nil
	}
	var err error
	var v struct {
		Name           string          `json:"subWorkflowName"`
		Version        json.RawMessage `json:"subWorkflowVersion"`
		Definition     json.RawMessage `json:"subWorkflowDefinition"`
		Priority       json.RawMessage `json:"priority"`
		TaskToDomain   json.RawMessage `json:"subWorkflowTaskToDomain"`
		IdempotencyKey json.RawMessage `json:"idempotencyKey"`
	}
	if json.Unmarshal(stored, &v) != nil {
		return nil, nil
	}
	k := &keptSubStart{def: wt.subDef, extras: map[string]any{}, record: stored}
	switch {
	case k.def != nil:
	case hasJSON(v.Definition) && v.Definition[0] == '{':
		if k.def, err = r.e.parseUnregistered(v.Definition); err != nil {
			return nil, fmt.Errorf("subWorkflowDefinition: %w", err)
		}
		k.def.fromRunData = true
		if err := onlySecretsOf(r.def, k.def, "subWorkflowDefinition"); err != nil {
			return nil, err
		}
	case v.Name == "":
		return nil, nil // stored without its child's name: resolved again
	default:
		// Conductor's SubWorkflow.start: a version of 0 (or none) is
		// the latest.
		var version float64
		_ = json.Unmarshal(v.Version, &version)
		if k.def, err = r.e.findDefinition(v.Name, int(version)); err != nil {
			return nil, err
		}
		k.byName = true
	}
	if p := wt.SubWorkflowParam.IdempotencyStrategy; p != "" {
		k.extras["idempotencyStrategy"] = p
	}
	var n float64
	if json.Unmarshal(v.Priority, &n) == nil && hasJSON(v.Priority) {
		k.extras["priority"] = int(n)
	}
	if hasJSON(v.TaskToDomain) && v.TaskToDomain[0] == '{' {
		k.extras["subWorkflowTaskToDomain"] = v.TaskToDomain
	}
	var key string
	if json.Unmarshal(v.IdempotencyKey, &key) == nil && key != "" {
		k.extras["idempotencyKey"] = key
	}
	return k, nil
}

// keepLoopIterationLocked adds l's iteration to the ones of its loop
// whose rest runs again (keptLoops), kept ascending and once each.
// Callers hold r.mu.
func (r *runState) keepLoopIterationLocked(l rerunLoop) {
	if l.Iteration <= 0 {
		return
	}
	if r.keptLoops == nil {
		r.keptLoops = map[string][]int{}
	}
	its := r.keptLoops[l.TaskID]
	i := sort.SearchInts(its, l.Iteration)
	if i < len(its) && its[i] == l.Iteration {
		return
	}
	r.keptLoops[l.TaskID] = slices.Insert(its, i, l.Iteration)
}

// rerunIterationOf is the first iteration of the COMPLETED DO_WHILE
// record rec whose rest a rerun runs again (rerunLoop): 0 when none. Two
// SUB_WORKFLOW tasks re-opened at once in two of its iterations have
// each its iteration's rest run, one after the other.
func (r *runState) rerunIterationOf(rec *taskRecord) int {
	if rec == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec.Status != TaskCompleted && rec.Status != TaskCompletedWithErrors {
		return 0
	}
	if its := r.keptLoops[rec.TaskID]; len(its) > 0 {
		return its[0]
	}
	return 0
}

// replayRerunIteration runs the rest of iteration n of the DO_WHILE wt,
// whose record rec a rerun left COMPLETED (rerunLoop): the iteration's
// tasks that stand are skipped, the rerun task and the ones after it run,
// and the loop's record, output and condition are left as they are, as
// Conductor's decider schedules each next task of the iteration and,
// after its last one, nothing of the loop, which it finds recorded. The
// run then goes on past the loop (a difference: Conductor's decider finds
// no task to schedule after it and the run stays RUNNING). A failure in
// the iteration is the run's, the loop staying COMPLETED, as retry()
// fails the workflow on it. The rerun's note names the loop until the
// rest has run.
//
// A permissive task failing in the iteration does not stop it: no
// DoWhile.execute judges the iteration (the loop stays COMPLETED), and
// Conductor's decider schedules the task's next one (getNextTask), as in
// the rest of an iteration whose loop has failed already (loopbeside.go:
// goesOn, scheduleLoopSuccessor); the run fails at its end on it
// (permissiveFailures), once nothing is left to schedule. Inside a loop
// that judges its own iteration, the failure goes up to it as before.
func (r *runState) replayRerunIteration(ctx context.Context, wt *WorkflowTask, suffix string, rec *taskRecord, n int) error {
	outer := enclosingLoop(ctx)
	ictx := ctx
	if outer == nil {
		ictx = context.WithValue(context.WithValue(ctx, loopKey{}, wt), besideIterKey{}, failedIter(wt))
	}
	err := r.execList(ictx, wt.LoopOver, suffix+"__"+strconv.Itoa(n), n)
	if errors.Is(err, ErrInterrupted) || ctx.Err() != nil {
		return err
	}
	var failed *iterationFailed
	if errors.As(err, &failed) && outer == nil {
		// The iteration stopped at a permissive task's failure: its
		// successor's mapper threw, or was a TERMINATE (executed), which
		// the decider's next decision ends the run on.
		switch {
		case failed.thrown != nil:
			err = failed.thrown
		case failed.terminated:
			err = r.afterTerminateSuccessor(nil, failed.then)
		case failed.then != nil:
			err = failed.then
		default:
			err = nil
		}
	}
	r.mu.Lock()
	if its, ok := r.keptLoops[rec.TaskID]; ok {
		if i := sort.SearchInts(its, n); i < len(its) && its[i] == n {
			its = slices.Delete(its, i, i+1)
		}
		if len(its) == 0 {
			delete(r.keptLoops, rec.TaskID)
			r.rerunNoteServedLocked()
		} else {
			r.keptLoops[rec.TaskID] = its
		}
	}
	r.mu.Unlock()
	return err
}

// retriedWithItsInput: a retry of a task of this type starts from the
// input of the attempt it retries (retryInput). A SUB_WORKFLOW's retry
// names its child from its own parameters (subworkflow.go); the control
// tasks are not retried as new attempts.
func retriedWithItsInput(typ string) bool {
	switch typ {
	case TypeSubWorkflow, TypeJoin, TypeExclusiveJoin, TypeDoWhile, TypeSwitch, TypeDecision, TypeForkJoin, TypeForkJoinDynamic, TypeFork:
		return false
	}
	return true
}

// retryInput is the input of rec, an attempt that retries another (its
// retriedTaskId), as Conductor's DeciderService.retry and its retry of a
// run build it: a copy of the retried attempt's inputData with the task's
// inputParameters evaluated again put over it (raw and transient: that
// evaluation, stored and transient forms; transient nil: a remote task's
// input whose secrets resolve at hand-off, rec.later, which gets the kept
// members too). The members only the retried input has are kept (a
// rerun's taskInput's, say); when one of them holds a masked value the
// retry's input is the evaluation alone, resolved again through the
// secret boundary, so that a worker is never handed "***".
func (r *runState) retryInput(rec *taskRecord, raw, transient []byte) ([]byte, []byte) {
	r.mu.Lock()
	var prev []byte
	if t := r.retriedRecordLocked(rec); t != nil {
		prev = t.inMem
	}
	r.mu.Unlock()
	kept, ok := keptRetriedMembers(prev, raw)
	if !ok || len(kept) == 0 {
		return raw, transient
	}
	nr, err := withMembers(raw, kept)
	if err != nil {
		return raw, transient
	}
	if transient == nil {
		if rec.later == nil {
			return raw, transient
		}
		doc, err := appendKeptMembers(rec.later.d.Doc, kept)
		if err != nil {
			return raw, transient
		}
		rec.later.d.Doc = doc
		return nr, nil
	}
	nt, err := withMembers(transient, kept)
	if err != nil {
		return raw, transient
	}
	return nr, nt
}

// retriedRecordLocked is the record of the attempt rec retries: the one it
// was created from, or, for a record of a previous process, the latest
// record of the run with its retriedTaskId, looked for once. nil: none
// (not a retry, or an attempt the run no longer holds). Callers hold r.mu.
func (r *runState) retriedRecordLocked(rec *taskRecord) *taskRecord {
	if rec.retried != nil || rec.RetriedTaskID == "" {
		return rec.retried
	}
	for i := len(r.tasks) - 1; i >= 0; i-- {
		if t := r.tasks[i]; t != nil && t != rec && t.TaskID == rec.RetriedTaskID {
			rec.retried = t
			return t
		}
	}
	return nil
}

// keptRetriedMembers is what a retry keeps of the input of the attempt it
// retries (prev) under the task's inputParameters evaluated again (fresh),
// as Conductor's retry copies the attempt's inputData and puts the new
// evaluation over it: prev's members fresh lacks. ok false: the retry's
// input is the evaluation alone (prev or fresh is no JSON object, or a
// kept member holds a masked value, which a worker or a child workflow
// must never be handed).
func keptRetriedMembers(prev, fresh []byte) (kept map[string]json.RawMessage, ok bool) {
	var old, again map[string]json.RawMessage
	if json.Unmarshal(prev, &old) != nil || len(old) == 0 || json.Unmarshal(fresh, &again) != nil {
		return nil, false
	}
	for k, v := range old {
		if _, ok := again[k]; ok {
			continue
		}
		if bytes.Contains(v, []byte(masking.Redacted)) {
			return nil, false
		}
		if kept == nil {
			kept = map[string]json.RawMessage{}
		}
		kept[k] = v
	}
	return kept, true
}

// withMembers is the JSON object doc with the members of kept added.
func withMembers(doc []byte, kept map[string]json.RawMessage) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(doc, &m); err != nil {
		return nil, err
	}
	if m == nil {
		m = map[string]json.RawMessage{}
	}
	for k, v := range kept {
		m[k] = v
	}
	return json.Marshal(m)
}

// appendKeptMembers is the JSON object doc with the members of kept (names
// doc lacks) written before its closing brace: what doc holds keeps its
// offsets (a deferred input's secret references, remote_handoff.go).
func appendKeptMembers(doc []byte, kept map[string]json.RawMessage) ([]byte, error) {
	d := bytes.TrimRight(doc, " \t\r\n")
	end := len(d) - 1
	if end < 1 || d[end] != '}' {
		return nil, errors.New("input is no JSON object")
	}
	keys := make([]string, 0, len(kept))
	for k := range kept {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := append([]byte(nil), d[:end]...)
	empty := len(bytes.TrimSpace(bytes.TrimLeft(bytes.TrimSpace(out), "{"))) == 0
	for _, k := range keys {
		if !empty {
			out = append(out, ',')
		}
		empty = false
		name, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		out = append(append(append(out, name...), ':'), kept[k]...)
	}
	return append(out, '}'), nil
}

// reopenedInCompletedLoops notes, for a run re-opened under a child that
// runs again (reopen.go), the COMPLETED DO_WHILE records holding a
// SUB_WORKFLOW record it re-opens (ids), each with the iteration holding
// it. Conductor's updateAndPushParents sets the task IN_PROGRESS and the
// run RUNNING and leaves the loop as it is; once the child ends, the
// decider finds the task's next ones and the loop recorded
// (dedupAndAddTasks) and goes on from there. Without the note the replay
// took the loop as done and never reached the task, which stayed
// IN_PROGRESS until the run's end cancelled it. The note is the rerun's
// (rerunLoop), sealed with the re-open's write, so a process resuming the
// run goes through that iteration once more too (replayRerunIteration).
// Callers hold r.mu.
func (r *runState) reopenedInCompletedLoopsLocked(ids map[string]bool) error {
	ref, loops := r.completedLoopsHoldingLocked(func(t *taskRecord) bool { return ids[t.TaskID] })
	if len(loops) == 0 {
		return nil
	}
	k := rerunTask{Ref: ref}
	if r.doc.RerunTask != "" {
		// What the run's note keeps still (a rerun of it that has not
		// served yet) stays; the loops are added to it.
		plain, err := r.sec.Open(r.doc.RerunTask, rerunTaskPointer)
		if err != nil {
			return fmt.Errorf("rerunTask: %w", err)
		}
		if err := json.Unmarshal(plain, &k); err != nil || k.Ref == "" {
			return fmt.Errorf("rerunTask: damaged")
		}
	}
	for _, l := range loops {
		r.keepLoopIterationLocked(l)
	}
	// The loops' iterations still to go through: one the note named
	// whose rest has run since is left out. A loop holding re-opened
	// tasks in several iterations is named once for each.
	k.Loops = k.Loops[:0]
	for id, its := range r.keptLoops {
		for _, n := range its {
			k.Loops = append(k.Loops, rerunLoop{TaskID: id, Iteration: n})
		}
	}
	sort.Slice(k.Loops, func(i, j int) bool {
		if k.Loops[i].TaskID != k.Loops[j].TaskID {
			return k.Loops[i].TaskID < k.Loops[j].TaskID
		}
		return k.Loops[i].Iteration < k.Loops[j].Iteration
	})
	plain, err := json.Marshal(k)
	if err != nil {
		return err
	}
	sealed, err := r.sec.Seal(plain, rerunTaskPointer)
	if err != nil {
		return err
	}
	r.doc.RerunTask = sealed
	return nil
}
