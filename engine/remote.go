package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/wfrun/wfrun/runsecrets"
)

// A SIMPLE task handed to remote workers (WithRemoteWorker) follows
// Conductor's task life: SCHEDULED until a worker polls it, IN_PROGRESS from
// the poll, and its clocks run from there, as Conductor's DeciderService
// checks them (checkTaskTimeout, checkTaskPollTimeout, isResponseTimedOut):
//
//   - timeoutSeconds from the first poll of the attempt, with the
//     definition's timeoutPolicy (ALERT_ONLY reports, RETRY times the
//     attempt out, TIME_OUT_WF times the workflow out);
//   - pollTimeoutSeconds while SCHEDULED, from the attempt's scheduling
//     (plus a worker's callbackAfterSeconds), with the same policy;
//   - responseTimeoutSeconds while IN_PROGRESS, from the poll or the
//     worker's last IN_PROGRESS update: the attempt is TIMED_OUT whatever
//     the policy.
//
// A timed-out attempt ends like any attempt the engine times out itself
// (execLeaf): retried as the definition says (retryCount, retryDelaySeconds,
// retryLogic) under a new task id with retriedTaskId, and when the retries
// are spent the workflow is TIMED_OUT, unless the task is optional. The
// RemoteWorkerFunc sees its context cancelled; whatever the worker says
// later about that attempt is not taken.

// remoteAttempt watches one attempt of a remote SIMPLE task.
type remoteAttempt struct {
	r      *runState
	rec    *taskRecord
	p      taskPolicy
	cancel context.CancelCauseFunc

	mu        sync.Mutex
	scheduled time.Time
	started   time.Time // first poll (zero: never polled)
	updated   time.Time // last poll or IN_PROGRESS update
	polled    bool      // IN_PROGRESS (false: SCHEDULED, waiting for a poll)
	callback  time.Duration
	alerted   map[string]bool // ALERT_ONLY reports already given
	ended     bool            // the attempt is over: Polled and Progress change nothing
	kick      chan struct{}
	done      chan struct{}
	// store asks the watcher to store the record (a poll made it
	// IN_PROGRESS): off the poll's path, and finished before the attempt
	// ends (stop waits for the watcher), so no write follows the run's end.
	store  chan struct{}
	exited chan struct{}
	// writes counts the watcher's writes against what was asked of it
	// (Flush waits for the write of what it finds asked).
	writes attemptWrites
	ctx    context.Context
	nudge  chan struct{} // an answer is waiting in the run store (Nudge)
	// outcome is the write of the attempt's end, awaited by the handler
	// that brought the worker's answer (Stored, remote_stored.go).
	outcome *attemptOutcome
}

type attemptCancelKey struct{}

// withAttemptCancel hands an attempt's cancel function to the code that
// runs it (remoteTask watches a remote attempt's clocks itself).
func withAttemptCancel(ctx context.Context, cancel context.CancelCauseFunc) context.Context {
	return context.WithValue(ctx, attemptCancelKey{}, cancel)
}

// remoteResponseTimeout is the response timeout of a remote task: the
// definition's, or TaskDef's default (3600 s) when the task has none, so a
// worker that died with a task never holds a run for ever.
func remoteResponseTimeout(p taskPolicy) int64 {
	if !p.hasDef() {
		return 3600
	}
	return p.responseTimeout
}

// watchRemote starts the clocks of a remote attempt that was just handed
// to the workers (SCHEDULED). The returned stop ends the watch.
func (r *runState) watchRemote(ctx context.Context, rec *taskRecord, p taskPolicy) (*remoteAttempt, func()) {
	cancel, _ := ctx.Value(attemptCancelKey{}).(context.CancelCauseFunc)
	scheduled := r.e.now()
	if at := offerAtOf(ctx); at.After(scheduled) {
		// Its poll timeout runs from when it may be polled.
		scheduled = at
	}
	a := &remoteAttempt{r: r, rec: rec, p: p, cancel: cancel, scheduled: scheduled,
		alerted: map[string]bool{}, kick: make(chan struct{}, 1), done: make(chan struct{}),
		store: make(chan struct{}, 1), exited: make(chan struct{}), ctx: ctx, nudge: make(chan struct{}, 1),
		outcome: newAttemptOutcome()}
	end := func() {
		a.mu.Lock()
		a.ended = true
		a.mu.Unlock()
	}
	if cancel == nil {
		a.store = nil // Polled and Progress store the record themselves
		return a, end
	}
	go a.watch()
	var once sync.Once
	return a, func() {
		end()
		once.Do(func() { close(a.done) })
		<-a.exited
	}
}

func (a *remoteAttempt) watch() {
	defer close(a.exited)
	over := false
	for {
		var next time.Duration
		var at time.Time
		if !over {
			next, at, over = a.check()
		}
		if over {
			// Cancelled: only a pending write is left to do.
			select {
			case <-a.done:
				return
			case <-a.store:
				a.write()
				continue
			}
		}
		var ch <-chan time.Time
		stop := func() {}
		if next > 0 {
			ch, stop = a.r.e.clock.After(next)
			if a.r.e.now().Sub(at) >= 10*time.Millisecond {
				// The clock moved on while the timer was set (a test's
				// ManualClock.Advance): look again.
				stop()
				continue
			}
		}
		select {
		case <-a.done:
			stop()
			return
		case <-a.kick:
		case <-a.store:
			a.write()
		case <-ch:
		}
		stop()
	}
}

// attemptWrites: asked is the number of writes asked of the watcher,
// written the number its last write covers; wrote is closed (and
// replaced) at each write, err the last write's error.
type attemptWrites struct {
	mu             sync.Mutex
	asked, written uint64
	wrote          chan struct{}
	err            error
}

// write is the watcher's write of the record: it covers every change
// asked before it starts.
func (a *remoteAttempt) write() {
	w := &a.writes
	w.mu.Lock()
	target := w.asked
	w.mu.Unlock()
	err := a.r.save(a.ctx)
	w.mu.Lock()
	w.written, w.err = target, err
	if w.wrote != nil {
		close(w.wrote)
		w.wrote = nil
	}
	w.mu.Unlock()
}

// Flush returns once what the engine was told of the task so far (a
// poll: Polled, PolledAt) is stored, as Conductor's poll stores the task
// IN_PROGRESS before it answers: the watcher of the attempt writes a poll
// off the poll's path, and an answer that shows the task polled waits for
// that write. It returns at once when nothing is left to write, or when
// the attempt ended (its end is written with it); the error is the
// write's.
func (t RemoteTask) Flush(ctx context.Context) error {
	a := t.att
	if a == nil || a.store == nil {
		return nil // Polled stored it itself
	}
	w := &a.writes
	w.mu.Lock()
	target := w.asked
	for w.written < target {
		if w.wrote == nil {
			w.wrote = make(chan struct{})
		}
		wrote := w.wrote
		w.mu.Unlock()
		select {
		case <-wrote:
		case <-a.exited:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
		w.mu.Lock()
	}
	err := w.err
	w.mu.Unlock()
	return err
}

// persist stores the record now (no watcher) or has the watcher store it.
func (a *remoteAttempt) persist(ctx context.Context) error {
	if a.store == nil {
		return a.r.save(ctx)
	}
	a.writes.mu.Lock()
	a.writes.asked++
	a.writes.mu.Unlock()
	select {
	case a.store <- struct{}{}:
	default: // a write is already due
	}
	return nil
}

// check applies the clocks at the engine's now, in Conductor's order. It
// returns the time to the next deadline (0: none) from now, or over when
// the attempt was cancelled.
func (a *remoteAttempt) check() (next time.Duration, now time.Time, over bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now = a.r.e.now()
	soonest := time.Duration(0)
	due := func(at time.Time) bool {
		if !now.Before(at) {
			return true
		}
		if d := at.Sub(now); soonest == 0 || d < soonest {
			soonest = d
		}
		return false
	}
	p := a.p
	if p.timeout > 0 && !a.started.IsZero() && !a.alerted["timeout"] {
		limit := time.Duration(p.timeout) * time.Second
		if due(a.started.Add(limit)) {
			reason := fmt.Sprintf("Task timed out after %d seconds. Timeout configured as %d seconds. Timeout policy configured to %s",
				int64(now.Sub(a.started)/time.Second), p.timeout, p.timeoutPolicy)
			if a.policyLocked("timeout", reason) {
				return 0, now, true
			}
		}
	}
	if p.pollTimeout > 0 && !a.polled && !a.alerted["poll"] {
		limit := time.Duration(p.pollTimeout)*time.Second + a.callback
		if due(a.scheduled.Add(limit)) {
			reason := fmt.Sprintf("Task poll timed out after %d seconds. Poll timeout configured as %d seconds. Timeout policy configured to %s",
				int64(now.Sub(a.scheduled)/time.Second), p.pollTimeout, p.timeoutPolicy)
			if a.policyLocked("poll", reason) {
				return 0, now, true
			}
		}
	}
	if rt := remoteResponseTimeout(p); rt > 0 && a.polled {
		if due(a.updated.Add(time.Duration(rt)*time.Second + a.callback)) {
			a.cancel(&attemptTimeout{policy: TimeoutRetry,
				reason: fmt.Sprintf("responseTimeout: %d exceeded for the taskId: %s with Task Definition: %s", rt, a.rec.TaskID, p.defName)})
			return 0, now, true
		}
	}
	return soonest, now, false
}

// policyLocked applies the timeout policy of the definition; it reports
// whether the attempt was cancelled.
func (a *remoteAttempt) policyLocked(which, reason string) bool {
	if a.p.timeoutPolicy == TimeoutAlertOnly {
		a.alerted[which] = true
		status := TaskScheduled
		if a.polled {
			status = TaskInProgress
		}
		a.r.emit(Event{Kind: EventTask, TaskRef: a.rec.Ref, TaskType: a.rec.TaskType, TaskID: a.rec.TaskID, Status: status, Reason: reason})
		return false
	}
	a.cancel(&attemptTimeout{policy: a.p.timeoutPolicy, reason: reason})
	return true
}

func (a *remoteAttempt) poke() {
	select {
	case a.kick <- struct{}{}:
	default:
	}
}

// Polled tells the engine that a worker took the task: the record becomes
// IN_PROGRESS (stored as Conductor stores a poll, by the attempt's watcher
// so the poll does not wait for the write) and its
// timeoutSeconds and responseTimeoutSeconds clocks start. Call it for every
// poll that hands the task out.
func (t RemoteTask) Polled(ctx context.Context, workerID string) error {
	return t.PolledAt(ctx, workerID, time.Time{})
}

// PolledAt is Polled for a poll made at a known earlier time (another
// process's claim, learnt late): the clocks run from at, never from later
// than now, and a later poll or update already seen is kept.
func (t RemoteTask) PolledAt(ctx context.Context, workerID string, at time.Time) error {
	a := t.att
	if a == nil {
		return nil
	}
	now := a.r.e.now()
	if at.IsZero() || at.After(now) {
		at = now
	}
	// Under a.mu, so the attempt cannot end (and its record change)
	// between the check and the transition.
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ended {
		return nil
	}
	first := a.started.IsZero()
	if first {
		a.started = at
	}
	if at.After(a.updated) || !a.polled {
		a.updated = at
	}
	handedOut := !a.polled // a poll took it (not a notice of a poll already seen)
	a.polled = true
	a.poke()
	var worker string
	if handedOut {
		worker = a.r.cutWorkerID(workerID)
	}
	a.r.mu.Lock()
	if first {
		a.rec.Start = 0 // the first poll starts the attempt (Conductor's startTime)
	}
	if handedOut {
		// Conductor's poll: the worker's id and one more poll on the
		// Task, its callbackAfterSeconds reset (a retry's delay has
		// passed; its startDelayInSeconds stays).
		a.rec.WorkerID = worker
		a.rec.PollCount++
		a.rec.Callback = 0
	}
	// A poll leaves reasonForIncompletion as it is (an IN_PROGRESS
	// update's, which Conductor's poll does not touch); a rerun's kept
	// reason is transition's to keep.
	var reason string
	var empty bool
	if !a.rec.heldReason {
		reason, empty = a.rec.Reason, a.rec.emptyReason()
	}
	a.r.mu.Unlock()
	if err := a.r.transitionReason(ctx, a.rec, TaskInProgress, reason, empty); err != nil {
		return err
	}
	return a.persist(ctx)
}

// maxWorkerID bounds the worker id a record keeps (a poll's workerid
// parameter is the worker's to choose).
const maxWorkerID = 256

// cutWorkerID is the worker id a record keeps: masked whole with the run's
// values, then cut (a worker id is any text; it may quote a value), and
// masked again with values registered later (formTaskWorker).
func (r *runState) cutWorkerID(id string) string {
	return r.sec.Excerpt(id, maxWorkerID)
}

// Progress puts the task back to SCHEDULED with callbackAfter as its
// callbackAfterSeconds, its output and reasonForIncompletion as they are
// (Conductor's resetCallbacks); see ProgressOutput.
func (t RemoteTask) Progress(ctx context.Context, callbackAfter time.Duration) error {
	return t.progress(ctx, callbackAfter, nil, givenReason{}, true)
}

// ProgressOutput tells the engine that the worker holding the task
// reported IN_PROGRESS: the task goes back to SCHEDULED (Conductor's
// updateTask), to be offered again once callbackAfter has passed (at once
// without one), and the record keeps callbackAfterSeconds; its response
// and poll timeouts are extended by it. output is the outputData the
// worker sent (a JSON object; nil: none), which becomes the record's
// output as Conductor stores it, masked and sealed like any task output;
// reason the update's reasonForIncompletion, which the record keeps as
// Conductor's updateTask sets it ("": none), masked and cut like any
// reason. The update is written before ProgressOutput returns
// (remote_stored.go): an error wrapping ErrNotStored leaves the attempt as
// it was, and the worker sends the update again.
func (t RemoteTask) ProgressOutput(ctx context.Context, callbackAfter time.Duration, output json.RawMessage, reason string) error {
	return t.progress(ctx, callbackAfter, output, givenReason{text: reason}, false)
}

// ProgressReason is ProgressOutput with emptyReason saying whether an
// empty reason is the empty text the update gave (Conductor's
// reasonForIncompletion "", kept apart from none, null).
func (t RemoteTask) ProgressReason(ctx context.Context, callbackAfter time.Duration, output json.RawMessage, reason string, emptyReason bool) error {
	return t.progress(ctx, callbackAfter, output, givenReason{text: reason, empty: emptyReason && reason == ""}, false)
}

// Reason is the attempt's reasonForIncompletion as its record holds it
// now ("" without an attempt): what an update by reference keeps, as
// Conductor's TaskResult made from the pending task carries it.
func (t RemoteTask) Reason() string {
	a := t.att
	if a == nil {
		return ""
	}
	a.r.mu.Lock()
	defer a.r.mu.Unlock()
	return a.rec.Reason
}

// EmptyReason reports whether the attempt's reasonForIncompletion is the
// empty text an update gave (Conductor's "") rather than none (null).
func (t RemoteTask) EmptyReason() bool {
	a := t.att
	if a == nil {
		return false
	}
	a.r.mu.Lock()
	defer a.r.mu.Unlock()
	return a.rec.emptyReason()
}

// progress is Progress (keep: the record's reason stays) and
// ProgressOutput.
func (t RemoteTask) progress(ctx context.Context, callbackAfter time.Duration, output json.RawMessage, given givenReason, keep bool) error {
	a := t.att
	if a == nil {
		return nil
	}
	now := a.r.e.now()
	// a.mu is held to the end of the write: no poll, clock or end of the
	// attempt comes between the update and its undoing if the write fails.
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.ended {
		return nil
	}
	type before struct {
		updated           time.Time
		callback          time.Duration
		polled            bool
		recCallback       int64
		status, reason    string
		emptyReasonAt     string
		outMem, outStored []byte
	}
	r, rec := a.r, a.rec
	r.mu.Lock()
	was := before{a.updated, a.callback, a.polled, rec.Callback, rec.Status, rec.Reason, rec.EmptyReasonAt, rec.outMem, rec.outStored}
	r.mu.Unlock()
	if len(output) > 0 && string(output) != "null" {
		if err := r.setTaskData(rec, nil, output); err != nil {
			return fmt.Errorf("outputData: %w", err)
		}
	}
	a.updated, a.callback = now, callbackAfter
	// Back in the queue, SCHEDULED, as Conductor puts a worker task
	// updated IN_PROGRESS: pollable again after the callback (at once
	// without one).
	a.polled = false
	reason, empty := given.text, given.empty
	if !keep {
		reason = r.sec.Excerpt(reason, maxReasonBytes)
	}
	r.mu.Lock()
	rec.Callback = int64(max(callbackAfter, 0) / time.Second)
	if keep {
		if !rec.heldReason {
			reason, empty = rec.Reason, rec.emptyReason() // else transition keeps a rerun's
		}
	} else {
		rec.heldReason = false // the worker's update sets the reason
	}
	r.mu.Unlock()
	err := r.transitionReason(ctx, rec, TaskScheduled, reason, empty)
	if err == nil {
		err = r.save(withReportedWrite(ctx)) // the worker's answer (forkdecision.go)
	}
	if err == nil {
		a.poke()
		return nil
	}
	// Not stored: the attempt is as the store holds it.
	a.updated, a.callback, a.polled = was.updated, was.callback, was.polled
	r.mu.Lock()
	rec.Callback, rec.Status, rec.Reason, rec.EmptyReasonAt = was.recCallback, was.status, was.reason, was.emptyReasonAt
	rec.outMem, rec.outStored = was.outMem, was.outStored
	r.touchLocked(rec)
	r.mu.Unlock()
	r.emit(Event{Kind: EventTask, TaskRef: rec.Ref, TaskType: rec.TaskType, TaskID: rec.TaskID, Status: was.status,
		Reason: "the worker's IN_PROGRESS update was not stored"})
	return fmt.Errorf("%w: IN_PROGRESS update of task %s: %w", ErrNotStored, rec.TaskID, err)
}

// CompleteTaskAttempt is CompleteTask for the attempt with task id taskID
// of a task handed to remote workers: the answer is taken only while that
// attempt is the one waiting, never by a retry that replaced it (a worker
// answering late, through another process sharing the run store).
func (e *Engine) CompleteTaskAttempt(ctx context.Context, runID, taskID, status string, output json.RawMessage) (string, error) {
	return e.completeTask(ctx, runID, status, output, idMatch(taskID))
}

// Nudge tells the engine that an answer for this attempt was just stored in
// the run store (CompleteTaskAttempt through another process): it is taken
// now rather than at the next look at the store.
func (t RemoteTask) Nudge() {
	if t.att == nil {
		return
	}
	select {
	case t.att.nudge <- struct{}{}:
	default:
	}
}

// nudged is the channel Nudge signals (nil without an attempt: never).
func (a *remoteAttempt) nudged() <-chan struct{} {
	if a == nil {
		return nil
	}
	return a.nudge
}

// Clock returns the engine's clock (servers time their queues with it).
func (e *Engine) Clock() Clock { return e.clock }

// Transit returns the sealer, over the engine's keyring, of what leaves
// the process outside a run's record (serve processes sharing a task queue
// seal with it the tasks they offer and the values a task's owner hands to
// the poll of another process): the server reaches secrets through the
// boundary, never the keyring itself.
func (e *Engine) Transit() *runsecrets.Transit {
	t, _ := runsecrets.NewTransit(e.keyring) // New always sets a keyring
	return t
}
