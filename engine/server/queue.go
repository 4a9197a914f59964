package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
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
// this queue (its dispatch context ends). The resolved input lives only
// here, in memory, until the task is done.

// ErrUnknownTask: an update for a task id this server knows nothing of
// (never scheduled, or of a run no longer stored).
var ErrUnknownTask = errors.New("task is not in progress on this server")

type delivery struct {
	id        string // the task id the worker sees
	t         engine.RemoteTask
	scheduled time.Time
	polled    time.Time
	workerID  string
	pollCount int
	queued    bool              // waiting in pending (false: with a worker, or waiting for its callback)
	ctx       context.Context   // the dispatch's: ends when the engine stops waiting
	done      chan tasks.Result // buffered 1; receives exactly one result
}

type queue struct {
	mu      sync.Mutex
	pending map[string][]*delivery // task name → FIFO
	byID    map[string]*delivery   // task id → live delivery (queued or not)
	byRef   map[string]*delivery   // run id + "/" + ref → live delivery
	wake    map[string]chan struct{}
	clock   engine.Clock // the engine's: callbacks and timestamps
	onPoll  func(name string, n int)
}

func newQueue() *queue {
	return &queue{
		pending: map[string][]*delivery{}, byID: map[string]*delivery{}, byRef: map[string]*delivery{},
		wake: map[string]chan struct{}{},
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
// not taken.
func (q *queue) dispatch(ctx context.Context, t engine.RemoteTask) tasks.Result {
	d := &delivery{id: t.TaskID, t: t, scheduled: q.now(), queued: true, ctx: ctx, done: make(chan tasks.Result, 1)}
	q.mu.Lock()
	q.pending[t.Name] = append(q.pending[t.Name], d)
	q.byID[d.id] = d
	q.byRef[t.RunID+"/"+t.Ref] = d
	q.wakeLocked(t.Name)
	q.mu.Unlock()
	select {
	case res := <-d.done:
		return res
	case <-ctx.Done():
		q.remove(d)
		return tasks.Result{Status: tasks.Failed, Reason: "interrupted: " + ctx.Err().Error()}
	}
}

func (q *queue) remove(d *delivery) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.removeLocked(d)
}

func (q *queue) removeLocked(d *delivery) {
	q.unqueueLocked(d)
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
	list := q.pending[d.t.Name]
	for i, x := range list {
		if x == d {
			q.pending[d.t.Name] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
}

// poll takes up to count tasks of name, waiting up to wait for the first.
// Both ctx (the request) and stop (the server's shutdown) end the wait.
// Each task taken is IN_PROGRESS in its run before poll returns it.
func (q *queue) poll(ctx, stop context.Context, name, workerID string, count int, wait time.Duration) []*delivery {
	if count < 1 {
		count = 1
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		q.mu.Lock()
		list := q.pending[name]
		if len(list) > 0 {
			n := min(count, len(list))
			out := append([]*delivery(nil), list[:n]...)
			q.pending[name] = list[n:]
			now := q.now()
			for _, d := range out {
				d.queued = false
				d.polled, d.workerID = now, workerID
				d.pollCount++
			}
			q.mu.Unlock()
			for _, d := range out {
				// The run's own context: the poll request may end first.
				_ = d.t.Polled(d.ctx, workerID)
			}
			if q.onPoll != nil {
				q.onPoll(name, len(out))
			}
			return out
		}
		ch := q.waitChanLocked(name)
		q.mu.Unlock()
		if wait <= 0 || stop.Err() != nil {
			return nil
		}
		select {
		case <-ch:
		case <-deadline.C:
			return nil
		case <-ctx.Done():
			return nil
		case <-stop.Done():
			return nil
		}
	}
}

// workerResult is a worker's answer in Conductor's TaskResult terms.
type workerResult struct {
	Status       string          `json:"status"`
	Output       json.RawMessage `json:"outputData"`
	Reason       string          `json:"reasonForIncompletion"`
	CallbackSecs int64           `json:"callbackAfterSeconds"`
}

// complete hands a worker's result for task id to the waiting engine. An
// IN_PROGRESS result keeps the task with the worker (its response timeout
// starts again), or with callbackAfterSeconds puts it back in the queue
// then (SCHEDULED meanwhile, as Conductor does).
func (q *queue) complete(id string, res workerResult) error {
	q.mu.Lock()
	d, ok := q.byID[id]
	if !ok {
		q.mu.Unlock()
		return fmt.Errorf("%w: %s", ErrUnknownTask, id)
	}
	return q.deliverLocked(d, res)
}

// completeRef is complete by run id and task reference.
func (q *queue) completeRef(runID, ref string, res workerResult) (string, error) {
	q.mu.Lock()
	d, ok := q.byRef[runID+"/"+ref]
	if !ok {
		q.mu.Unlock()
		return "", fmt.Errorf("%w: run %s has no task %q waiting for a worker", ErrUnknownTask, runID, ref)
	}
	return d.id, q.deliverLocked(d, res)
}

// deliverLocked is called with q.mu held and releases it.
func (q *queue) deliverLocked(d *delivery, res workerResult) error {
	var r tasks.Result
	switch res.Status {
	case "COMPLETED":
		r = tasks.Result{Status: tasks.Completed, Output: res.Output}
	case "FAILED":
		r = tasks.Result{Status: tasks.Failed, Output: res.Output, Reason: orDefault(res.Reason, "worker reported FAILED")}
	case "FAILED_WITH_TERMINAL_ERROR":
		r = tasks.Result{Status: tasks.FailedTerminal, Output: res.Output, Reason: orDefault(res.Reason, "worker reported FAILED_WITH_TERMINAL_ERROR")}
	case "IN_PROGRESS", "SCHEDULED":
		callback := time.Duration(max(res.CallbackSecs, 0)) * time.Second
		q.unqueueLocked(d)
		q.mu.Unlock()
		if err := d.t.Progress(d.ctx, callback); err != nil {
			return err
		}
		if callback > 0 {
			go q.requeueAfter(d, callback)
		}
		return nil
	default:
		q.mu.Unlock()
		return fmt.Errorf("status %q: want COMPLETED, FAILED, FAILED_WITH_TERMINAL_ERROR or IN_PROGRESS", res.Status)
	}
	defer q.mu.Unlock()
	if len(r.Output) > 0 && string(r.Output) != "null" && r.Output[0] != '{' {
		return errors.New("outputData must be a JSON object")
	}
	if string(r.Output) == "null" {
		r.Output = nil
	}
	q.removeLocked(d)
	d.done <- r
	return nil
}

// requeueAfter offers d again once its callback time has passed on the
// engine's clock, unless it ended meanwhile.
func (q *queue) requeueAfter(d *delivery, after time.Duration) {
	var ch <-chan time.Time
	stop := func() {}
	if q.clock != nil {
		ch, stop = q.clock.After(after)
	} else {
		t := time.NewTimer(after)
		ch, stop = t.C, func() { t.Stop() }
	}
	defer stop()
	select {
	case <-d.ctx.Done():
		return
	case <-ch:
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.byID[d.id] == d && !d.queued {
		d.queued = true
		q.pending[d.t.Name] = append(q.pending[d.t.Name], d)
		q.wakeLocked(d.t.Name)
	}
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// pendingCount reports queued (not polled) tasks per name.
func (q *queue) pendingCount(name string) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending[name])
}

// nameOf returns the task name of a live task id.
func (q *queue) nameOf(id string) (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d, ok := q.byID[id]
	if !ok {
		return "", false
	}
	return d.t.Name, true
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
