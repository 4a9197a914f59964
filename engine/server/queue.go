package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// The task queue between the engine's SIMPLE tasks and the workers that
// poll for them. A task waits in its name's queue until a worker polls it;
// the poll makes it IN_PROGRESS in the run (engine.RemoteTask.Polled), and
// from then on the engine keeps its clocks: when a worker stays silent past
// responseTimeoutSeconds the engine times the attempt out and retries it
// under a new task id as the task definition says, and the attempt leaves
// this queue (its dispatch context ends). The queue holds no secret value:
// a task's secret references (its input's and its definition's
// runtimeMetadata) resolve when a poll takes it (engine.RemoteTask.Resolve),
// and the values go to that worker's response only.

// ErrUnknownTask: an update for a task id this server knows nothing of
// (never scheduled, or of a run no longer stored).
var ErrUnknownTask = errors.New("task is not in progress on this server")

type delivery struct {
	id        string // the task id the worker sees
	t         engine.RemoteTask
	queue     string // its queue: queueName(t.Name, t.Domain)
	scheduled time.Time
	polled    time.Time
	workerID  string
	pollCount int
	queued    bool              // waiting in pending (false: with a worker, or waiting for its callback)
	offered   bool              // offered to pollers (queued here, or put in the shared queue)
	callback  bool              // waiting for its callback (an IN_PROGRESS update's)
	gen       int               // counts IN_PROGRESS updates and resets: a callback of an earlier one is void
	ctx       context.Context   // the dispatch's: ends when the engine stops waiting
	done      chan tasks.Result // buffered 1; receives exactly one result
}

// handed is a task a poll takes, with what its worker gets: the input and
// the runtimeMetadata values resolved at this poll (transient: written in
// the poll's response, then dropped).
type handed struct {
	*delivery
	input json.RawMessage
	meta  map[string]string
}

type queue struct {
	mu      sync.Mutex
	pending map[string][]*delivery // queue name → by priority, then FIFO (enqueueLocked)
	byID    map[string]*delivery   // task id → live delivery (queued or not)
	byRef   map[string]*delivery   // run id + "/" + ref → live delivery
	wake    map[string]chan struct{}
	// arrived is closed (and replaced) when a task reaches the queue
	// (awaitArrival).
	arrived chan struct{}
	clock   engine.Clock // the engine's: callbacks and timestamps
	onPoll  func(name string, n int)
	// onOffer is told the run id of each task offered to pollers (a
	// start waiting for its run's first decision: startdecide.go).
	onOffer func(runID string)

	// shared, when set, holds the pending tasks instead of pending
	// (sharedqueue.go); stopping reports a shutdown, when the tasks of
	// this process's runs stay there for the process that takes them over.
	shared   *sharedQueue
	stopping func() bool
	// waiting reports whether a task of a run another process executes
	// still waits for a worker (engine.TaskAttemptWaiting).
	waiting func(ctx context.Context, runID, taskID string) (bool, error)
	// signalled tells the engine a signal was stored for a run by another
	// process (engine.SignalStored).
	signalled func(runID string)
	// claimCheck: how often watchClaims looks (ns; 0: defaultClaimCheck).
	claimCheck atomic.Int64
	// pollWriteWait, when set (tests), is called each time a poll's
	// answer waits for the write of the tasks it hands out (pollStored).
	pollWriteWait atomic.Pointer[func()]
	warn          func(msg string, args ...any) // the server's masked logger
	mask          func(string) string           // the server's masker (text sent to other processes)
	// maskPoll masks the task type and domain a poll names, kept and shown
	// as poll data: the poll masker (Server.pollMasker), as the worker id.
	maskPoll func(string) string
	// polled: when a worker last polled each task type and domain
	// (queuedomains.go).
	polled map[pollKey]pollInfo
	// waitingPolls counts the polls waiting now, by task type and domain.
	waitingPolls map[pollKey]int
	// limits counts what the definitions' limits need (queuelimits.go).
	limits pollLimits
}

func newQueue() *queue {
	return &queue{
		pending: map[string][]*delivery{}, byID: map[string]*delivery{}, byRef: map[string]*delivery{},
		wake: map[string]chan struct{}{}, polled: map[pollKey]pollInfo{}, waitingPolls: map[pollKey]int{},
	}
}

func (q *queue) now() time.Time {
	if q.clock == nil {
		return time.Now()
	}
	return q.clock.Now()
}

// wakeLocked wakes the pollers of name.
func (q *queue) wakeLocked(name string) {
	if ch, ok := q.wake[name]; ok {
		close(ch)
		delete(q.wake, name)
	}
}

func (q *queue) waitChanLocked(name string) <-chan struct{} {
	ch, ok := q.wake[name]
	if !ok {
		ch = make(chan struct{})
		q.wake[name] = ch
	}
	return ch
}

// dispatch is the engine's RemoteWorkerFunc: it queues t and waits for a
// worker's result. When ctx ends (shutdown, or the engine timed the
// attempt out) the task leaves the queue: a worker's later answer for it is
// not taken. A task with an OfferAt still to come (a retry during its
// retryDelaySeconds, engine.WithRemoteDelays) waits in the queue for its
// time, as a task called back does: no poll gets it before, an update by
// its id is taken at once.
func (q *queue) dispatch(ctx context.Context, t engine.RemoteTask) tasks.Result {
	d := &delivery{id: t.TaskID, t: t, queue: queueName(t.Name, t.Domain), scheduled: q.now(), ctx: ctx, done: make(chan tasks.Result, 1)}
	delayed := t.OfferAt.After(d.scheduled)
	q.mu.Lock()
	if delayed {
		d.callback = true
	} else if q.shared == nil {
		q.enqueueLocked(d)
		d.offered = true
	}
	q.byID[d.id] = d
	q.byRef[t.RunID+"/"+t.Ref] = d
	gen := d.gen
	if q.arrived != nil {
		close(q.arrived)
		q.arrived = nil
	}
	q.mu.Unlock()
	switch {
	case delayed:
		q.holdUntil(d, t.OfferAt, gen) // queue_delay.go
	case q.shared != nil && !q.offerShared(ctx, d):
		return tasks.Result{Status: tasks.Failed, Reason: "interrupted: " + ctx.Err().Error()}
	}
	if q.onOffer != nil {
		q.onOffer(t.RunID)
	}
	select {
	case res := <-d.done:
		if q.shared != nil {
			q.shared.remove(context.WithoutCancel(ctx), d.id, d.queue)
			q.undelay(ctx, d)
		}
		return res
	case <-ctx.Done():
		q.remove(d)
		if q.shared != nil && (q.stopping == nil || !q.stopping()) {
			q.shared.remove(context.WithoutCancel(ctx), d.id, d.queue)
			q.undelay(ctx, d)
		}
		return tasks.Result{Status: tasks.Failed, Reason: "interrupted: " + ctx.Err().Error()}
	}
}

// offerShared puts d in the shared queue, trying again while Redis fails;
// false when ctx ended first (d is then removed).
func (q *queue) offerShared(ctx context.Context, d *delivery) bool {
	worker, claimed, err := q.shared.put(ctx, d)
	for wait := 250 * time.Millisecond; err != nil; wait = min(2*wait, 5*time.Second) {
		// Redis holds the run too: the run waits for it (and stays
		// resumable if this process stops meanwhile).
		q.warnf("shared task queue: offering a task failed, trying again", "taskId", d.id, "error", err.Error(), "retryIn", wait.String())
		select {
		case <-ctx.Done():
			q.remove(d)
			return false
		case <-time.After(wait):
		}
		worker, claimed, err = q.shared.put(ctx, d)
	}
	q.mu.Lock()
	d.offered = true
	q.mu.Unlock()
	if claimed {
		// Polled from the process that executed the run before: the
		// worker still has it.
		q.mu.Lock()
		d.polled, d.workerID, d.pollCount = q.now(), worker, 1
		q.mu.Unlock()
		_ = d.t.Polled(ctx, worker)
	}
	return true
}

func (q *queue) remove(d *delivery) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.removeLocked(d)
}

func (q *queue) removeLocked(d *delivery) {
	q.unqueueLocked(d)
	q.releaseLocked(d)
	if q.byID[d.id] == d {
		delete(q.byID, d.id)
	}
	if q.byRef[d.t.RunID+"/"+d.t.Ref] == d {
		delete(q.byRef, d.t.RunID+"/"+d.t.Ref)
	}
}

func (q *queue) unqueueLocked(d *delivery) {
	if !d.queued {
		return
	}
	d.queued = false
	list := q.pending[d.queue]
	for i, x := range list {
		if x == d {
			q.pending[d.queue] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
}

// poll takes up to count tasks of type name in domain ("": the tasks
// without a domain), highest priority first, waiting up to wait for the
// first. Both ctx (the request) and stop (the server's shutdown) end the
// wait. Each task taken is IN_PROGRESS in its run before poll returns it.
func (q *queue) poll(ctx, stop context.Context, name, domain, workerID string, count int, wait time.Duration) []handed {
	if count < 1 {
		count = 1
	}
	done := q.polling(ctx, name, domain, workerID) // queuedomains.go
	defer done()
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	qn := queueName(name, domain)
	if q.shared != nil {
		return q.pollShared(ctx, stop, deadline.C, name, qn, workerID, count, wait)
	}
	for {
		q.mu.Lock()
		now := q.now()
		out, held := q.takeLocked(qn, count, now) // queuelimits.go
		if len(out) > 0 {
			for _, d := range out {
				d.queued = false
				d.polled, d.workerID = now, workerID
				d.pollCount++
			}
			q.mu.Unlock()
			got := make([]handed, 0, len(out))
			for _, d := range out {
				h, ok := q.handOut(d)
				if !ok {
					continue
				}
				// The run's own context: the poll request may end first.
				_ = d.t.Polled(d.ctx, workerID)
				got = append(got, h)
			}
			q.pollStored(ctx, got)
			if len(got) > 0 {
				if q.onPoll != nil {
					q.onPoll(name, len(got))
				}
				return got
			}
			continue // every task taken failed at hand-off: wait on
		}
		ch := q.waitChanLocked(qn)
		q.mu.Unlock()
		if wait <= 0 || stop.Err() != nil {
			return nil
		}
		var recheck <-chan time.Time
		stopRecheck := func() bool { return false }
		if held {
			// Held back by their limits: a window moving on wakes nobody.
			t := time.NewTimer(limitRecheck)
			recheck, stopRecheck = t.C, t.Stop
		}
		select {
		case <-ch:
		case <-recheck:
		case <-deadline.C:
			stopRecheck()
			return nil
		case <-ctx.Done():
			stopRecheck()
			return nil
		case <-stop.Done():
			stopRecheck()
			return nil
		}
		stopRecheck()
	}
}

// pollStored returns once the tasks a poll hands out are stored
// IN_PROGRESS, polled by the worker (engine.RemoteTask.Flush), as
// Conductor's poll stores each task before it answers: a client reading
// the run once the worker has its task sees it polled. The attempt's
// watcher writes a poll off the poll's path; a write that fails leaves
// the task polled in the run, written with its next change, and the
// answer is given.
func (q *queue) pollStored(ctx context.Context, got []handed) {
	if len(got) == 0 {
		return
	}
	if f := q.pollWriteWait.Load(); f != nil {
		(*f)()
	}
	for _, h := range got {
		_ = h.t.Flush(ctx)
	}
}

// handOut resolves what the worker taking d gets, now (engine.RemoteTask.
// Resolve: as the run's principal, audited, registered with the run's
// masker). When that fails the attempt fails with the reason (a missing,
// expired or forbidden secret) and the worker gets nothing for it; an
// attempt that ended meanwhile is for no worker.
func (q *queue) handOut(d *delivery) (handed, bool) {
	input, meta, err := d.t.Resolve(d.ctx)
	if err == nil {
		return handed{delivery: d, input: input, meta: meta}, true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.byID[d.id] != d || errors.Is(err, engine.ErrNotWaiting) || d.ctx.Err() != nil {
		q.removeLocked(d)
		return handed{}, false
	}
	q.removeLocked(d)
	d.done <- tasks.Result{Status: tasks.FailedTerminal, Reason: err.Error()}
	return handed{}, false
}

// workerResult is a worker's answer in Conductor's TaskResult terms.
type workerResult struct {
	Status string          `json:"status"`
	Output json.RawMessage `json:"outputData"`
	// Reason is nil when the update gives none (Conductor's null), and
	// "" when it gives the empty text, which Conductor keeps apart.
	Reason       *string `json:"reasonForIncompletion"`
	CallbackSecs int64   `json:"callbackAfterSeconds"`
	// pending: an update by reference, which keeps the task's
	// reasonForIncompletion (Conductor's TaskResult made from the
	// pending task), not Reason.
	pending bool
}

// reason is the reasonForIncompletion the update gives task d, and for
// an empty one whether it is the empty text given as such (Conductor's
// "") rather than none (null).
func (res workerResult) reason(d *delivery) (string, bool) {
	if res.pending {
		return d.t.Reason(), d.t.EmptyReason()
	}
	return res.reasonText()
}

// reasonText is the update's own reasonForIncompletion: its text, and
// whether an empty one was given as such.
func (res workerResult) reasonText() (string, bool) {
	if res.Reason == nil {
		return "", false
	}
	return *res.Reason, *res.Reason == ""
}

// complete hands a worker's result for task id to the waiting engine and
// returns once the engine has stored it (engine.RemoteTask.Stored): an
// error wrapping engine.ErrNotStored means it is not kept, and the worker
// sends it again. An IN_PROGRESS result puts the task back in the queue,
// SCHEDULED, as Conductor does: at once, or after its callbackAfterSeconds.
func (q *queue) complete(ctx context.Context, id string, res workerResult) error {
	q.mu.Lock()
	d, ok := q.byID[id]
	if !ok {
		q.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownTask, id)
	}
	return q.deliverLocked(ctx, d, res)
}

// completeRef is complete by run id and task reference.
func (q *queue) completeRef(ctx context.Context, runID, ref string, res workerResult) (string, error) {
	q.mu.Lock()
	d, ok := q.byRef[runID+"/"+ref]
	if !ok {
		q.mu.Unlock()
		return "", fmt.Errorf("%w: run %s has no task %q waiting for a worker", ErrUnknownTask, runID, ref)
	}
	return d.id, q.deliverLocked(ctx, d, res)
}

// queueArrivalWait bounds how long an update of a task this process
// executes waits for the task's worker call to reach the queue: the run
// records the task SCHEDULED (and may be written, so a client sees it)
// before its worker call is queued, and Conductor takes an update of a
// SCHEDULED task, queued when it was scheduled.
const queueArrivalWait = 2 * time.Second

// awaitArrival waits, up to queueArrivalWait, until found reports true: it
// is asked at once and again each time a task reaches the queue. It reports
// found's last answer. The one wait for a task that is on its way to the
// queue: an update by id (completeWhenQueued) and a completion by
// reference (awaitQueuedRef) use it.
func (q *queue) awaitArrival(ctx context.Context, found func() bool) bool {
	var deadline <-chan time.Time
	for {
		q.mu.Lock()
		if q.arrived == nil {
			q.arrived = make(chan struct{})
		}
		arrived := q.arrived // taken before found looks: no arrival is missed
		q.mu.Unlock()
		if found() {
			return true
		}
		if deadline == nil {
			t := time.NewTimer(queueArrivalWait)
			defer t.Stop()
			deadline = t.C
		}
		select {
		case <-arrived:
		case <-ctx.Done():
			return false
		case <-deadline:
			return false
		}
	}
}

// completeWhenQueued is complete for a task whose worker call may not have
// reached the queue yet: it waits up to queueArrivalWait for it
// (awaitArrival), then reports ErrUnknownTask.
func (q *queue) completeWhenQueued(ctx context.Context, id string, res workerResult) error {
	var err error
	q.awaitArrival(ctx, func() bool {
		err = q.complete(ctx, id, res)
		return !errors.Is(err, ErrUnknownTask)
	})
	return err
}

// deliverLocked is called with q.mu held and releases it.
func (q *queue) deliverLocked(ctx context.Context, d *delivery, res workerResult) error {
	var r tasks.Result
	switch res.Status {
	case "COMPLETED":
		// The update's reason stays on the completed task, as
		// Conductor's updateTask sets it whatever the status.
		r = tasks.Result{Status: tasks.Completed, Output: res.Output}
		r.Reason, r.EmptyReason = res.reason(d)
	case "FAILED", "FAILED_WITH_TERMINAL_ERROR":
		// The reason as the update gives it, none when it gives none,
		// "" when it gives "": Conductor's updateTask stores the
		// TaskResult's.
		r = tasks.Result{Status: tasks.Failed, Output: res.Output}
		if res.Status == "FAILED_WITH_TERMINAL_ERROR" {
			r.Status = tasks.FailedTerminal
		}
		r.Reason, r.EmptyReason = res.reason(d)
	case "IN_PROGRESS", "SCHEDULED":
		if o := res.Output; len(o) > 0 && string(o) != "null" && o[0] != '{' {
			q.mu.Unlock()
			return errors.New("outputData must be a JSON object")
		}
		callback := time.Duration(max(res.CallbackSecs, 0)) * time.Second
		wasQueued, wasCallback := d.queued, d.callback
		q.unqueueLocked(d)
		d.gen++
		gen := d.gen
		d.callback = callback > 0
		q.mu.Unlock()
		reason, empty := res.reason(d)
		if err := d.t.ProgressReason(ctx, callback, res.Output, reason, empty); err != nil {
			// Not taken (a bad outputData, or not stored): the task is
			// where it was, with its worker or in the queue.
			q.mu.Lock()
			if d.gen == gen && q.byID[d.id] == d {
				d.gen--
				d.callback = wasCallback
				if wasQueued && !d.queued && q.shared == nil {
					q.enqueueLocked(d)
				}
			}
			q.mu.Unlock()
			return err
		}
		if callback > 0 {
			if q.shared != nil {
				q.shared.delay(context.WithoutCancel(d.ctx), d.id, d.queue, q.now().Add(callback))
			}
			go q.requeueAfter(d, callback, gen)
		} else {
			q.requeue(d)
		}
		return nil
	default:
		q.mu.Unlock()
		// The status is the worker's text, not quoted: a worker that mixes
		// up its fields may put there the secret value it was handed.
		return errors.New("status: want COMPLETED, FAILED, FAILED_WITH_TERMINAL_ERROR or IN_PROGRESS")
	}
	if len(r.Output) > 0 && string(r.Output) != "null" && r.Output[0] != '{' {
		q.mu.Unlock()
		return errors.New("outputData must be a JSON object")
	}
	if string(r.Output) == "null" {
		r.Output = nil
	}
	q.removeLocked(d)
	d.done <- r
	q.mu.Unlock()
	return d.t.Stored(ctx)
}

// requeueAfter offers d again once its callback time has passed on the
// engine's clock, unless it ended meanwhile.
func (q *queue) requeueAfter(d *delivery, after time.Duration, gen int) {
	q.requeueAt(d, q.now().Add(after), gen)
}

// requeueAt offers d again at time at on the engine's clock, unless it
// ended or was offered again (another gen) meanwhile.
func (q *queue) requeueAt(d *delivery, at time.Time, gen int) {
	if !q.sleepUntil(d.ctx, at) {
		return
	}
	q.mu.Lock()
	current := d.gen == gen
	if current {
		d.callback = false
	}
	q.mu.Unlock()
	if current {
		q.requeue(d)
	}
}

// resetCallbacks offers at once the tasks of run id that wait for their
// callback (Conductor's resetCallbacksForWorkflow); their records' callback
// goes back to 0. It returns how many it reset.
func (q *queue) resetCallbacks(runID string) int {
	q.mu.Lock()
	var reset []*delivery
	for _, d := range q.byID {
		if d.t.RunID == runID && d.callback && !d.queued {
			d.gen++
			d.callback = false
			reset = append(reset, d)
		}
	}
	q.mu.Unlock()
	for _, d := range reset {
		_ = d.t.Progress(d.ctx, 0)
		q.requeue(d)
	}
	return len(reset)
}

// requeue offers d again (or for the first time, when it waited for its
// OfferAt), unless it ended meanwhile.
func (q *queue) requeue(d *delivery) {
	if q.shared != nil {
		q.mu.Lock()
		live, offered := q.byID[d.id] == d, d.offered
		q.mu.Unlock()
		switch {
		case live && !offered:
			q.offerShared(d.ctx, d)
		case live:
			q.shared.requeue(context.WithoutCancel(d.ctx), d.id, d.queue)
		}
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.byID[d.id] == d && !d.queued {
		q.enqueueLocked(d)
		d.offered = true
	}
}

// pendingCount reports the tasks waiting in queue qn for a poll.
func (q *queue) pendingCount(qn string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending[qn])
}

// kindOf returns the task name and domain of task id waiting for a worker.
func (q *queue) kindOf(id string) (name, domain string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d, ok := q.byID[id]
	if !ok {
		return "", "", false
	}
	return d.t.Name, d.t.Domain, true
}

// runOf returns the run of task id waiting for a worker; "" when this
// process's queue does not hold it.
func (q *queue) runOf(id string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	if d, ok := q.byID[id]; ok {
		return d.t.RunID
	}
	return ""
}

// offeredRef reports whether task ref of run runID has been offered to
// pollers (it may have been polled since), or waits in the queue for its
// time (OfferAt).
func (q *queue) offeredRef(runID, ref string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	d, ok := q.byRef[runID+"/"+ref]
	return ok && (d.offered || d.callback)
}

// nameOfRef returns the task name of the task ref of run waiting for a worker.
func (q *queue) nameOfRef(runID, ref string) (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d, ok := q.byRef[runID+"/"+ref]
	if !ok {
		return "", false
	}
	return d.t.Name, true
}

// pollShared is poll over the shared queue: tasks of this process's runs
// are handed out as they are locally; a task of another process's run is
// handed out with what its owner resolves for this claim (handOverFrom).
func (q *queue) pollShared(ctx, stop context.Context, deadline <-chan time.Time, name, qn, workerID string, count int, wait time.Duration) []handed {
	// Offers are announced over pub/sub; a missed announcement costs at
	// most this long.
	recheck := time.NewTicker(250 * time.Millisecond)
	defer recheck.Stop()
	noted := q.now()
	for {
		if now := q.now(); now.Sub(noted) >= pollNoteEvery {
			// Still waiting: other processes see a worker polling here.
			q.notePoll(ctx, name, domainOf(qn, name), workerID)
			noted = now
		}
		q.mu.Lock()
		ch := q.waitChanLocked(qn)
		q.mu.Unlock()
		got, err := q.shared.take(ctx, qn, workerID, count, q.now())
		if err == nil && len(got) > 0 {
			now := q.now()
			out := make([]handed, 0, len(got))
			var others []claimed // of runs other processes execute
			for _, c := range got {
				q.mu.Lock()
				d := q.byID[c.id]
				if c.owner == q.shared.self && d != nil {
					d.polled, d.workerID = now, workerID
					d.pollCount++
				}
				q.mu.Unlock()
				if c.owner == q.shared.self {
					if d == nil {
						// Its attempt ended meanwhile (its run too, maybe).
						q.shared.forget(context.WithoutCancel(ctx), c.id, qn)
						continue
					}
					h, ok := q.handOut(d)
					if !ok {
						// Failed at hand-off (its dispatch drops it) or ended.
						q.shared.forget(context.WithoutCancel(ctx), c.id, qn)
						continue
					}
					_ = d.t.Polled(d.ctx, workerID)
					q.pollStored(ctx, []handed{h})
					out = append(out, h)
					continue
				}
				if q.waiting != nil {
					// A run terminated, timed out or failed in another
					// process (or whose owner died) leaves no task for a
					// worker.
					live, err := q.waiting(ctx, c.task.Task.RunID, c.id)
					if err != nil {
						q.shared.requeue(context.WithoutCancel(ctx), c.id, qn)
						continue
					}
					if !live {
						q.shared.forget(context.WithoutCancel(ctx), c.id, qn)
						continue
					}
				}
				others = append(others, c)
			}
			out = append(out, q.handOverFrom(ctx, qn, workerID, now, others)...)
			if len(out) > 0 {
				if q.onPoll != nil {
					q.onPoll(name, len(out))
				}
				return out
			}
		}
		if wait <= 0 || stop.Err() != nil {
			return nil
		}
		select {
		case <-ch:
		case <-recheck.C:
		case <-deadline:
			return nil
		case <-ctx.Done():
			return nil
		case <-stop.Done():
			return nil
		}
	}
}

// told handles a message of another process about a task of this one's
// runs: a worker polled it there, reported IN_PROGRESS there, or answered
// there (the answer waits in the run store).
func (q *queue) told(kind, id, arg string) {
	switch kind {
	case "handoff":
		token, worker, _ := strings.Cut(arg, " ")
		go q.handOffTo(id, token, worker)
	case "polled":
		q.mu.Lock()
		d := q.byID[id]
		if d != nil {
			d.polled, d.workerID = q.now(), arg
			d.pollCount++
		}
		q.mu.Unlock()
		if d != nil {
			// In order with the "progress" messages that may follow (Polled
			// does not wait for the store).
			_ = d.t.Polled(d.ctx, arg)
		}
	case "progress":
		q.progressTold(id, arg) // sharedprogress.go
	case "resetcallbacks": // id is a run's
		go q.resetCallbacks(id) // it writes to the run store
	case "signal": // id is a run's: a signal for it waits in the run store
		if q.signalled != nil {
			q.signalled(id)
		}
	case "answered":
		q.mu.Lock()
		d := q.byID[id]
		q.mu.Unlock()
		if d != nil {
			d.t.Nudge()
		}
	}
}

// defaultClaimCheck is how often a process looks in the shared queue for
// claims of its tasks it was not told of.
const defaultClaimCheck = time.Second

// watchClaims learns of the polls of this process's tasks from the claims
// recorded in Redis, every claimCheck until ctx ends: a "polled" notice
// lost on pub/sub (a reconnection) would otherwise leave a claimed task
// SCHEDULED here, its response timeout never started, and a worker that
// died with it would hold the run for ever.
func (q *queue) watchClaims(ctx context.Context) {
	for {
		every := time.Duration(q.claimCheck.Load())
		if every <= 0 {
			every = defaultClaimCheck
		}
		t := time.NewTimer(every)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		q.checkClaims(ctx)
	}
}

// checkClaims applies each recorded claim of a live task of this process
// that is newer than the last poll it applied (at the claim's time).
func (q *queue) checkClaims(ctx context.Context) {
	q.mu.Lock()
	ids := make([]string, 0, len(q.byID))
	for id := range q.byID {
		ids = append(ids, id)
	}
	q.mu.Unlock()
	if len(ids) == 0 {
		return
	}
	found, missing, err := q.shared.claims(ctx, ids)
	if err != nil {
		return // Redis is away: looked at again next time
	}
	q.reoffer(ctx, missing)
	for id, c := range found {
		q.mu.Lock()
		d := q.byID[id]
		if d == nil || (!d.polled.IsZero() && !c.at.After(d.polled)) {
			q.mu.Unlock()
			continue
		}
		d.polled, d.workerID = c.at, c.worker
		d.pollCount++
		q.mu.Unlock()
		_ = d.t.PolledAt(d.ctx, c.worker, c.at)
	}
}

// wakeName wakes the pollers of queue qn (a task was offered elsewhere).
func (q *queue) wakeName(qn string) {
	q.mu.Lock()
	q.wakeLocked(qn)
	q.mu.Unlock()
}
