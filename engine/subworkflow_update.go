package engine

import (
	"context"
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
// The record keeps the id of the child it started.

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
// completion of rec arrives (taken: the child goes on in the background).
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
			Reason: "completed by an update; its sub-workflow " + child.id + " runs on"})
		return nil, &sig, nil
	}
}

// subWorkflowUpdated ends SUB_WORKFLOW record rec with the completion sig
// taken by runChild: COMPLETED with its output; FAILED retried as a failed
// child would be (canRetry); FAILED_WITH_TERMINAL_ERROR failed for good.
func (r *runState) subWorkflowUpdated(ctx context.Context, rec *taskRecord, sig *signal, canRetry bool) error {
	if sig.Status == TaskCompleted {
		return r.complete(ctx, rec, sig.Output)
	}
	if len(sig.Output) > 0 {
		_ = r.setTaskData(rec, nil, sig.Output)
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
