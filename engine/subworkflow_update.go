package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
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
// sends the task's own child or nothing, any other id is refused), which
// also replaces an outputData member subWorkflowId (TaskModel's
// setSubWorkflowId) — so a task updated by id without one no longer names
// the child it started, as in Conductor. An update by reference
// (CompleteTask; Conductor builds its TaskResult from the pending task)
// keeps the child, in the record and in its output.
//
// An update IN_PROGRESS (CompleteTaskWith) leaves the task IN_PROGRESS
// with the update's output, reason and callbackAfterSeconds. Naming the
// task's child, it changes nothing else: the task ends with its child.
// Naming none, the task no longer has a child (Conductor's
// SubWorkflow.execute, finding no subWorkflowId on a task past SCHEDULED,
// leaves it as it is, and its child's end finds no child on it either):
// the child goes on in the background and the task waits for a final
// update, awaitingCompletion.

// subUpdate is what an update of a SUB_WORKFLOW task says beyond a
// completion (Completion.SubWorkflowID, CallbackAfterSeconds).
type subUpdate struct {
	id       string
	callback int64
}

// check refuses an update the task found cannot take: IN_PROGRESS for a
// task other than a SUB_WORKFLOW; a subWorkflowId other than the
// SUB_WORKFLOW task's own child.
func (u *subUpdate) check(found *taskDoc, status string) error {
	if u == nil || found.TaskType != TypeSubWorkflow {
		if status == TaskInProgress {
			return fmt.Errorf("%w: status %q: want COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR", ErrBadCompletion, status)
		}
		return nil
	}
	if u.id != "" && u.id != found.SubWorkflowID {
		return fmt.Errorf("%w: subWorkflowId %q: the task %q has no such child", ErrBadCompletion, u.id, found.ReferenceTaskName)
	}
	return nil
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
	m := map[string]json.RawMessage{}
	if json.Unmarshal(out, &m) != nil {
		return out
	}
	if _, ok := m["subWorkflowId"]; !ok && !(keep && id != "") {
		return out
	}
	m["subWorkflowId"] = json.RawMessage("null")
	if id != "" {
		m["subWorkflowId"], _ = json.Marshal(id)
	}
	b, err := json.Marshal(m)
	if err != nil {
		return out
	}
	return b
}

// subWorkflowProgress applies an update IN_PROGRESS to SUB_WORKFLOW record
// rec: the update's output, reason, callbackAfterSeconds and subWorkflowId
// (none: the task awaits a final update).
func (r *runState) subWorkflowProgress(ctx context.Context, rec *taskRecord, sig *signal) error {
	reason := r.sec.Excerpt(sig.Reason, maxReasonBytes)
	if err := r.takeSubUpdate(rec, sig, sig.SubWorkflowID == "", func() { rec.Reason = reason }); err != nil {
		return err
	}
	return r.save(ctx)
}

// takeSubUpdate puts on SUB_WORKFLOW record rec what update sig sets
// (updatedSubOutput, subWorkflowId, callbackAfterSeconds), awaiting as
// said, and what more sets, in one change: no write in between shows
// part of it.
func (r *runState) takeSubUpdate(rec *taskRecord, sig *signal, awaiting bool, more func()) error {
	gen := r.sec.Generation()
	mem, stored, err := r.sec.Protect(updatedSubOutput(sig.Output, sig.SubWorkflowID, sig.KeepChild), "/tasks/"+rec.TaskID+"/outputData")
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

// awaitSubWorkflowUpdate waits for the final update of SUB_WORKFLOW record
// rec, which has no child any more (subWorkflowProgress), applying the
// updates IN_PROGRESS that come before it.
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
			continue
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-moved:
		}
	}
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
		if sig.Status == TaskInProgress && sig.SubWorkflowID != "" {
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
			// The task has no child any more: the caller waits for its
			// final update (awaitSubWorkflowUpdate).
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
	if sig.Status == TaskCompleted {
		return r.transition(ctx, rec, TaskCompleted, "")
	}
	reason := sig.Reason
	if reason == "" {
		reason = "the task was updated " + sig.Status
	}
	if canRetry && sig.Status == TaskFailed {
		if err := r.transition(ctx, rec, TaskFailed, r.sec.Excerpt(reason, maxReasonBytes)); err != nil {
			return err
		}
		return errRetrySubWorkflow
	}
	return r.failTask(ctx, rec, sig.Status, reason)
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
