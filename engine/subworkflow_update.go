package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tidwall/gjson"

	"github.com/wfrun/wfrun/engine/runstore"
)

// A SUB_WORKFLOW task completed from outside. Conductor's updateTask takes
// an update of any task by its id, a SUB_WORKFLOW task's too
// (WorkflowExecutor.updateTask sets the status and output the update
// carries and decides the workflow): the task ends with that outcome and
// its run moves on, while the child it started is left alone — RUNNING,
// executed on as a workflow of its own, and its end later changes nothing
// of the parent (SubWorkflow.execute is not called for a task that has
// ended). wfrun does the same: CompleteTask, CompleteTaskWith and
// CompleteTaskAttempt take a completion of a SUB_WORKFLOW task that is
// SCHEDULED or IN_PROGRESS, and the child, executed until then as part of
// its parent's execution, goes on as a background run of this engine
// (background.go: interrupted runs stay RUNNING and resume like any run).
//
// The record is what updateTask leaves of it: the update's outputData,
// and the update's subWorkflowId (TaskResult's, usually none: a client
// sends one of the task's own children or nothing; a run that is no child
// of the task is refused, where Conductor would follow it), which
// also replaces an outputData member subWorkflowId (TaskModel's
// setSubWorkflowId) — so a task updated by id without one no longer names
// the child it started, as in Conductor. An update by reference
// (CompleteTask; Conductor builds its TaskResult from the pending task)
// keeps the child, in the record and in its output, and the output the
// task had, the update's members put over it.
//
// An update IN_PROGRESS (CompleteTaskWith, or CompleteTask by reference,
// which keeps the task's child) leaves the task IN_PROGRESS with the
// update's output, reason and callbackAfterSeconds. Naming the task's
// child, it changes nothing else: the task ends with its child. Naming
// none, the task no longer has a child (Conductor's SubWorkflow.execute,
// finding no subWorkflowId on a task past SCHEDULED, leaves it as it is,
// and its child's end finds no child on it either): the child goes on in
// the background and the task waits for a final update,
// awaitingCompletion. Naming a child it was detached from, the task
// follows that child again (subWorkflowDetached). An update that comes
// while the task is SCHEDULED, its child not started yet, means no child
// is ever started (updateBeforeStart), as SubWorkflow.start runs for a
// SCHEDULED task only.
//
// The run ending early (terminated, timed out) terminates the child of a
// task that has not ended: the one it names, or the one its id derives
// when it names none, as Conductor's SubWorkflow.cancel does; the child of
// a task an update ended runs on (lease.go, childLeftRunning).

// subUpdate is what an update of a SUB_WORKFLOW task says beyond a
// completion (Completion.SubWorkflowID, CallbackAfterSeconds).
type subUpdate struct {
	id       string
	callback int64
}

// check refuses an update the task found cannot take: IN_PROGRESS for a
// task other than a SUB_WORKFLOW; a subWorkflowId that names no child of
// the SUB_WORKFLOW task (own: whether a stored run is one of its children,
// the one it names now or one it was detached from). An update by
// reference (u nil) is built from the pending task, as Conductor's is.
func (u *subUpdate) check(found *taskDoc, status string, own func(id string) bool) error {
	if found.TaskType != TypeSubWorkflow {
		if status == TaskInProgress {
			return fmt.Errorf("%w: status %q: want COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR", ErrBadCompletion, status)
		}
		return nil
	}
	if u != nil && u.id != "" && u.id != found.SubWorkflowID && !own(u.id) {
		return fmt.Errorf("%w: subWorkflowId %q: the task %q has no such child", ErrBadCompletion, u.id, found.ReferenceTaskName)
	}
	return nil
}

// ownChild reports whether run id is stored as a child that task taskID
// of run parent started: a child it was detached from (an update
// IN_PROGRESS naming none) may be named again, as Conductor's updateTask
// sets any subWorkflowId and the task then follows that child.
func (e *Engine) ownChild(ctx context.Context, parent, taskID, id string) bool {
	if tr, ok := e.runs.(runstore.TaskReader); ok {
		// The child's head alone: its parent members are there.
		if head, _, archived, err := tr.LoadTask(ctx, id, 0); err == nil && !archived {
			return gjson.GetBytes(head, "parentWorkflowId").Str == parent && gjson.GetBytes(head, "parentWorkflowTaskId").Str == taskID
		}
	}
	doc, _, err := e.runs.Load(ctx, id)
	if err != nil {
		return false
	}
	var d runDoc
	return json.Unmarshal(doc, &d) == nil && d.ParentWorkflowID == parent && d.ParentWorkflowTaskID == taskID
}

// Conductor's updateTask applies each update as it comes: once an update
// has ended the task, a later one finds it ended and changes nothing. A
// run takes its updates from the run store, where a later signal under
// the same key replaces an earlier one not taken yet: so each update of a
// task is stored under a key of its own, ordered by when it was stored
// (Engine.updateSignalKey), and applied in that order: an update that
// comes after a final one of the same attempt, stored or pending, is
// dropped (pendLocked). An update of a SUB_WORKFLOW task names the
// attempt it updates (by reference, the pending one, as Conductor's
// TaskResult built from the pending task names it). Updates stored through processes whose clocks
// differ are ordered by those clocks; two stored on the same nanosecond
// by two engines sharing the store, by the engines' ids.

// updateSignalPrefix prefixes the signal key of an update of a task
// (a SUB_WORKFLOW task's only, in an older wfrun): the prefix, a sequence of 20 digits, a dot, the id of
// the engine that stored it, a space, the task's reference. (Keys stored
// by an older wfrun have no dot and id: they sort before a key of the
// same sequence that has them.)
const updateSignalPrefix = "__wfrun_update "

// updateSignalKey is the run-store key of an update of task ref: its sequence is the wall-clock time it is stored (nanoseconds),
// after any this engine gave before (e.updateSeq), then the engine's id
// (e.owner), which tells apart two keys that two engines sharing the
// store gave on the same nanosecond: each update keeps a key of its own
// (a later signal under the same key would replace it), and every reader
// orders them alike. The run store gives no sequence of its own, so
// updates stored through processes whose clocks differ are ordered by
// those clocks.
func (e *Engine) updateSignalKey(ref string) string {
	for {
		last, now := e.updateSeq.Load(), time.Now().UnixNano()
		if now <= last {
			now = last + 1
		}
		if e.updateSeq.CompareAndSwap(last, now) {
			return fmt.Sprintf("%s%020d.%s %s", updateSignalPrefix, now, e.owner, ref)
		}
	}
}

// updateRef is the task reference of update signal key k (ok false: k is
// not an update's key).
func updateRef(k string) (string, bool) {
	rest, ok := strings.CutPrefix(k, updateSignalPrefix)
	if !ok || len(rest) < 22 {
		return "", false
	}
	switch rest[20] {
	case ' ':
		return rest[21:], true // stored by an older wfrun
	case '.':
		if i := strings.IndexByte(rest[21:], ' '); i > 0 {
			return rest[21+i+1:], true
		}
	}
	return "", false
}

// finalUpdate reports whether s is a final update of a task.
func finalUpdate(s signal) bool {
	switch s.Status {
	case TaskCompleted, TaskFailed, TaskFailedTerminal:
		return true
	}
	return false
}

// pendLocked puts signal s, stored under key k, in r.pending. An update
// of a task (an update key) goes under its task's reference, behind the
// updates of that task taken before it and not applied yet
// (r.queued), unless a final update of the same attempt is among them:
// it came first and stands, as Conductor ignores an update of a task
// that has ended. So each update is applied in the order stored, an
// update IN_PROGRESS (and its answer) as much as a completion.
// A signal under another key (a skip, one stored by an older wfrun under
// the task's reference) replaces the one pending there, unless it is an
// update IN_PROGRESS and a final one waits there. It reports whether s is
// kept.
func (r *runState) pendLocked(k string, s signal) bool {
	ref, update := updateRef(k)
	if !update {
		if prev, ok := r.pending[k]; ok && s.Status == TaskInProgress && finalUpdate(prev) {
			// The final completion came first: it stands, as Conductor
			// ignores an update of a task that has ended.
			return false
		}
		r.pending[k] = s
		return true
	}
	prev, ok := r.pending[ref]
	if !ok {
		r.pending[ref] = s
		return true
	}
	line := r.queued[ref]
	for _, p := range append([]signal{prev}, line...) {
		if finalUpdate(p) && (p.TaskID == "" || s.TaskID == "" || p.TaskID == s.TaskID) {
			return false
		}
	}
	if r.queued == nil {
		r.queued = map[string][]signal{}
	}
	r.queued[ref] = append(line, s)
	return true
}

// dropPendingLocked removes the pending signal of ref: the next update
// queued behind it (pendLocked) becomes the pending one, and whoever
// waits for signals (signalsTaken) looks again.
func (r *runState) dropPendingLocked(ref string) {
	delete(r.pending, ref)
	line := r.queued[ref]
	if len(line) == 0 {
		return
	}
	r.pending[ref] = line[0]
	if len(line) == 1 {
		delete(r.queued, ref)
	} else {
		r.queued[ref] = line[1:]
	}
	if r.taken != nil {
		close(r.taken)
		r.taken = nil
	}
}

// signalOrder sorts the keys of a batch of signals: the updates of
// tasks after the others, in the order they were stored.
func signalOrder(keys []string) {
	sort.SliceStable(keys, func(i, j int) bool {
		_, ui := updateRef(keys[i])
		_, uj := updateRef(keys[j])
		if ui != uj {
			return uj
		}
		return ui && keys[i] < keys[j]
	})
}

// updatedSubOutput is the output an update leaves on a SUB_WORKFLOW task:
// the update's, whose subWorkflowId member, when it has one, becomes the
// update's subWorkflowId (null without one). An update by reference
// (keep) names the task's child there as Conductor's does: it starts from
// the pending task's output, where SubWorkflow.start put subWorkflowId.
func updatedSubOutput(out json.RawMessage, id string, keep bool) json.RawMessage {
	if len(out) == 0 {
		out = json.RawMessage("{}")
	}
	edit := childIDReplace
	if keep && id != "" {
		edit = childIDPut
	}
	res, _ := childIDOutput(out, id, edit)
	return res
}

// overOutput is output base (a JSON object, its in-memory form) with the
// members of update put over it; update alone when base is none or not an
// object.
func overOutput(base, update json.RawMessage) json.RawMessage {
	m := map[string]json.RawMessage{}
	if len(base) == 0 || json.Unmarshal(base, &m) != nil {
		return update
	}
	u := map[string]json.RawMessage{}
	if len(update) > 0 && json.Unmarshal(update, &u) != nil {
		return update
	}
	for k, v := range u {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return update
	}
	return b
}

// subWorkflowProgress applies an update IN_PROGRESS to SUB_WORKFLOW record
// rec: the update's output, reason, callbackAfterSeconds and subWorkflowId
// (none: the task awaits a final update).
func (r *runState) subWorkflowProgress(ctx context.Context, rec *taskRecord, sig *signal) error {
	reason := r.sec.Excerpt(sig.Reason, maxReasonBytes)
	if err := r.takeSubUpdate(rec, sig, sig.SubWorkflowID == "", func() {
		rec.Reason, rec.EmptyReasonAt = reason, ""
		if reason == "" && sig.EmptyReason {
			rec.EmptyReasonAt = rec.Status // "" as given, not none
		}
	}); err != nil {
		return err
	}
	if err := r.save(ctx); err != nil {
		return err
	}
	r.answerUpdate(ctx, sig.Answer) // exec.go
	r.emit(Event{Kind: EventTask, TaskRef: rec.Ref, TaskType: rec.TaskType, TaskID: rec.TaskID, Status: TaskInProgress, Reason: UpdatedInProgress})
	return nil
}

// takeSubUpdate puts on SUB_WORKFLOW record rec what update sig sets
// (updatedSubOutput, subWorkflowId, callbackAfterSeconds), awaiting as
// said, and what more sets, in one change: no write in between shows
// part of it.
func (r *runState) takeSubUpdate(rec *taskRecord, sig *signal, awaiting bool, more func()) error {
	out := sig.Output
	if sig.KeepChild {
		// By reference: Conductor's TaskResult starts from the pending
		// task's outputData and puts the update's members over it.
		r.mu.Lock()
		base := rec.outMem
		r.mu.Unlock()
		out = overOutput(base, out)
	}
	gen := r.sec.Generation()
	mem, stored, err := r.sec.Protect(updatedSubOutput(out, sig.SubWorkflowID, sig.KeepChild), "/tasks/"+rec.TaskID+"/outputData")
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.rx.producedLocked(gen)
	rec.outMem, rec.outStored = mem, stored
	rec.SubWorkflowID, rec.Callback, rec.Awaiting = sig.SubWorkflowID, sig.Callback, awaiting
	if more != nil {
		more()
	}
	r.touchLocked(rec)
	return nil
}

// subWorkflowDetached carries SUB_WORKFLOW record rec on while no child
// run is executed as part of it. Updated IN_PROGRESS naming no child, it
// waits for a final update (Conductor's SubWorkflow.execute finds no
// child on it and leaves it as it is). Updated IN_PROGRESS naming one of
// its children (one it was detached from: Conductor's updateTask sets any
// subWorkflowId, and the task then ends with that child, as
// SubWorkflow.execute reads it), it follows that child in the run store
// until the child ends or another update comes. When its run ends early
// meanwhile, the child it names, or the one its id derives when it names
// none, is terminated, as Conductor's SubWorkflow.cancel does for a task
// that has not ended.
func (r *runState) subWorkflowDetached(ctx context.Context, rec *taskRecord, canRetry bool) error {
	for {
		r.mu.Lock()
		child := rec.SubWorkflowID
		r.mu.Unlock()
		var sig *signal
		var ended bool
		var err error
		if child == "" {
			sig, err = r.awaitSubWorkflowUpdate(ctx, rec)
		} else {
			sig, ended, err = r.followChild(ctx, rec, child, canRetry)
		}
		switch {
		case ended:
			return err
		case err != nil:
			return r.cancelDetached(ctx, rec, err)
		case sig != nil:
			return r.subWorkflowUpdated(ctx, rec, sig, canRetry)
		}
	}
}

// cancelDetached terminates, when rec's run ends early (err: ctx ended),
// the child rec names or, naming none, the child its id derives (when
// stored as its child): Conductor's SubWorkflow.cancel.
func (r *runState) cancelDetached(ctx context.Context, rec *taskRecord, err error) error {
	reason, ending := parentEnding(ctx)
	if !ending {
		return err
	}
	bg := context.WithoutCancel(ctx)
	r.mu.Lock()
	id := rec.SubWorkflowID
	if id == "" {
		id = subWorkflowRunID(r.id, rec.TaskID, rec.RetryCount)
	}
	r.mu.Unlock()
	if !r.e.ownChild(bg, r.id, rec.TaskID, id) {
		return err
	}
	terr := r.e.terminate(bg, id, parentTerminatedReason(reason), nil)
	if terr != nil && !errors.Is(terr, ErrNotRunning) {
		return errors.Join(err, terr)
	}
	return err
}

// awaitSubWorkflowUpdate waits for the final update of SUB_WORKFLOW record
// rec, which has no child (subWorkflowProgress), applying the updates
// IN_PROGRESS that come before it. It returns nil after an update
// IN_PROGRESS that names a child: rec follows it (subWorkflowDetached).
func (r *runState) awaitSubWorkflowUpdate(ctx context.Context, rec *taskRecord) (*signal, error) {
	r.emit(Event{Kind: EventWaiting, TaskRef: rec.Ref, TaskType: rec.TaskType, TaskID: rec.TaskID, Status: TaskInProgress, Reason: "external completion"})
	for {
		moved := r.signalsTaken()
		if sig, ok := r.takePending(rec.Ref); ok && (sig.TaskID == "" || sig.TaskID == rec.TaskID) {
			if sig.Status != TaskInProgress {
				return &sig, nil
			}
			if err := r.subWorkflowProgress(ctx, rec, &sig); err != nil {
				return nil, err
			}
			if sig.SubWorkflowID != "" {
				return nil, nil
			}
			continue
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-moved:
		}
	}
}

// followChild follows child, the run SUB_WORKFLOW record rec names
// without executing it, in the run store: when it ends, rec ends with its
// outcome (ended, with subWorkflowDone's error); a final update of rec
// comes back as sig; after an update IN_PROGRESS (applied) it returns
// nothing, rec naming the child the update named, or none.
func (r *runState) followChild(ctx context.Context, rec *taskRecord, child string, canRetry bool) (sig *signal, ended bool, err error) {
	for {
		moved := r.signalsTaken()
		if s, ok := r.takePending(rec.Ref); ok && (s.TaskID == "" || s.TaskID == rec.TaskID) {
			if s.Status != TaskInProgress {
				return &s, false, nil
			}
			return nil, false, r.subWorkflowProgress(ctx, rec, &s)
		}
		if doc, _, lerr := r.e.runs.Load(ctx, child); lerr == nil {
			var cd runDoc
			if json.Unmarshal(doc, &cd) == nil && terminalWorkflow(cd.Status) {
				if err := r.e.checkOutcome(child, &cd); err != nil { // recordseal.go
					return nil, true, r.failTask(ctx, rec, TaskFailedTerminal, "sub-workflow: "+err.Error())
				}
				return nil, true, r.subWorkflowDone(ctx, rec, shortName(cd.WorkflowType, cd.Version, child), cd.Status, cd.ReasonForIncompletion, cd.Output, canRetry)
			}
		}
		// The store is looked at again after pollInterval of real time
		// (not the engine's clock: no deadline of the run's).
		tick := time.NewTimer(r.e.pollInterval)
		select {
		case <-ctx.Done():
			tick.Stop()
			return nil, false, ctx.Err()
		case <-moved:
		case <-tick.C:
		}
		tick.Stop()
	}
}

// updateBeforeStart takes an update of SUB_WORKFLOW record rec, SCHEDULED
// and naming no child yet, that came before its child is started: then
// the child is never started, as Conductor's SubWorkflow.start is not
// called for a task an update moved past SCHEDULED. Final, it ends the
// task; IN_PROGRESS, the task waits for a final update
// (subWorkflowDetached). The run's signals are read from the store here:
// the update may have been stored a moment ago.
func (r *runState) updateBeforeStart(ctx context.Context, rec *taskRecord, canRetry bool) (bool, error) {
	_ = r.takeSignals(ctx)
	r.mu.Lock()
	sig, ok := r.pending[rec.Ref]
	ok = ok && (sig.TaskID == "" || sig.TaskID == rec.TaskID) && (finalUpdate(sig) || sig.Status == TaskInProgress)
	if ok {
		r.dropPendingLocked(rec.Ref)
	}
	r.mu.Unlock()
	if !ok {
		return false, nil
	}
	if sig.Status != TaskInProgress {
		return true, r.subWorkflowUpdated(ctx, rec, &sig, canRetry)
	}
	if err := r.transition(ctx, rec, TaskInProgress, ""); err != nil {
		return true, err
	}
	if err := r.subWorkflowProgress(ctx, rec, &sig); err != nil {
		return true, err
	}
	return true, r.subWorkflowDetached(ctx, rec, canRetry)
}

// childRun is the execution of a SUB_WORKFLOW task's child.
type childRun struct {
	mu       sync.Mutex
	detached bool
	res      *Result
	err      error
	done     chan struct{}
}

// runChild executes child, the run of SUB_WORKFLOW record rec, until it
// ends (its result and error, as child.execute gives them), or until a
// completion of rec arrives (taken: the child goes on in the background;
// taken IN_PROGRESS, applied already, leaves rec waiting for a final
// update).
// The child is interrupted with its parent (ctx, and its cause) while it
// is attached.
func (r *runState) runChild(ctx context.Context, child *runState, rec *taskRecord) (res *Result, taken *signal, err error) {
	cctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	attached := context.AfterFunc(ctx, func() { cancel(context.Cause(ctx)) })
	c := &childRun{done: make(chan struct{})}
	go func() {
		res, err := child.execute(cctx)
		c.mu.Lock()
		c.res, c.err = res, err
		detached := c.detached
		c.mu.Unlock()
		close(c.done)
		if detached && err != nil && cctx.Err() == nil {
			// Nobody waits for this run's result: say why it stopped.
			child.emit(Event{Kind: EventWorkflow, Status: StatusRunning,
				Reason: child.sec.Text(fmt.Sprintf("stopped: %v; continue with: wfrun resume %s", err, child.id))})
		}
	}()
	ended := func() (*Result, *signal, error) {
		<-c.done
		attached()
		cancel(nil)
		return c.res, nil, c.err
	}
	for {
		// The run's lease keeper takes its signals from the store (about
		// once a second, at once when a signal is stored: signalnudge.go);
		// the parent waits for it rather than asking the store itself.
		moved := r.signalsTaken()
		sig, ok := r.takePending(rec.Ref)
		if !ok || (sig.TaskID != "" && sig.TaskID != rec.TaskID) {
			// None, or one for an earlier attempt.
			select {
			case <-c.done:
				return ended()
			case <-moved:
			}
			continue
		}
		r.mu.Lock()
		current := rec.SubWorkflowID
		r.mu.Unlock()
		if sig.Status == TaskInProgress && sig.SubWorkflowID != "" && sig.SubWorkflowID == current {
			// It names its child (subUpdate.check): the task follows it.
			if err := r.subWorkflowProgress(ctx, rec, &sig); err != nil {
				cancel(err)
				<-c.done
				attached()
				return nil, nil, err
			}
			continue
		}
		if !attached() {
			// The parent is ending: so is its child, attached until now.
			return ended()
		}
		c.mu.Lock()
		select {
		case <-c.done:
			// The child ended first: its outcome stands, the update
			// changes nothing of an ended task.
			c.mu.Unlock()
			cancel(nil)
			return c.res, nil, c.err
		default:
		}
		c.detached = true
		c.mu.Unlock()
		r.e.adoptBackground(child.id, func() { cancel(context.Canceled) }, c.done)
		r.emit(Event{Kind: EventTask, TaskRef: rec.Ref, TaskType: rec.TaskType, TaskID: rec.TaskID, Status: sig.Status,
			Reason: "updated; its sub-workflow " + child.id + " runs on"})
		if sig.Status == TaskInProgress {
			// The task has no child any more, or names another of its
			// children: the caller waits for its final update, or
			// follows that child (subWorkflowDetached).
			if err := r.subWorkflowProgress(ctx, rec, &sig); err != nil {
				return nil, nil, err
			}
		}
		return nil, &sig, nil
	}
}

// subWorkflowUpdated ends SUB_WORKFLOW record rec with the completion sig
// taken by runChild: COMPLETED with its output; FAILED retried as a failed
// child would be (canRetry); FAILED_WITH_TERMINAL_ERROR failed for good.
func (r *runState) subWorkflowUpdated(ctx context.Context, rec *taskRecord, sig *signal, canRetry bool) error {
	if err := r.takeSubUpdate(rec, sig, false, nil); err != nil {
		return r.failTask(ctx, rec, TaskFailedTerminal, "output: "+err.Error())
	}
	// The update's reason whatever the status, as Conductor's updateTask
	// sets the TaskResult's on the task: an update by reference keeps the
	// pending task's (TaskResult(pending)); one by id carries its own,
	// "" kept apart from none (null).
	reason := r.sec.Excerpt(sig.Reason, maxReasonBytes)
	empty := sig.EmptyReason && reason == ""
	if sig.Status == TaskCompleted {
		return r.transitionReason(ctx, rec, TaskCompleted, reason, empty)
	}
	if canRetry && sig.Status == TaskFailed {
		return r.retryUnlessReopened(ctx, rec, TaskFailed, reason, empty)
	}
	return r.failTaskReason(ctx, rec, sig.Status, reason, empty)
}

// adoptBackground counts the execution of run id, which ends when done is
// closed, among the engine's background runs (background.go): WaitStarted
// waits for it, and interrupts it through cancel.
func (e *Engine) adoptBackground(id string, cancel func(), done <-chan struct{}) {
	b := &e.bg
	stop := context.AfterFunc(b.enter(id), cancel)
	go func() {
		<-done
		stop()
		b.leave(id)
	}()
}
