package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// The task queue between the engine's SIMPLE tasks and the workers that
// poll for them. A task waits in its name's queue until a worker polls it;
// it then belongs to that worker until it answers or its response timeout
// passes, when it goes back to the head of the queue under a new task id
// (the late worker's update is refused, so no result is taken twice).
// The resolved input lives only here, in memory, until the task is done.

// DefaultResponseTimeout applies to tasks whose task definition sets no
// responseTimeoutSeconds (Conductor's default is one hour).
const DefaultResponseTimeout = time.Hour

// ErrUnknownTask: an update for a task id that is not waiting for a result
// (never polled, already answered, or reassigned after its response timeout).
var ErrUnknownTask = errors.New("task is not in progress on this server")

type delivery struct {
	id        string // the task id the worker sees
	attempt   int    // reassignments so far
	t         engine.RemoteTask
	timeout   time.Duration
	scheduled time.Time
	polled    time.Time
	workerID  string
	pollCount int
	deadline  time.Time
	done      chan tasks.Result // buffered 1; receives exactly one result
}

type queue struct {
	mu       sync.Mutex
	pending  map[string][]*delivery // task name → FIFO
	inflight map[string]*delivery   // task id → polled task
	byRef    map[string]*delivery   // run id + "/" + ref → current delivery
	wake     map[string]chan struct{}
	timeouts func(name string) time.Duration
	now      func() time.Time
	onPoll   func(name string, n int)
}

func newQueue(now func() time.Time, timeouts func(string) time.Duration) *queue {
	return &queue{
		pending: map[string][]*delivery{}, inflight: map[string]*delivery{}, byRef: map[string]*delivery{},
		wake: map[string]chan struct{}{}, timeouts: timeouts, now: now,
	}
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
// worker's result. When ctx ends (shutdown) the task leaves the queue and
// the engine leaves it IN_PROGRESS in the stored run (resumable).
func (q *queue) dispatch(ctx context.Context, t engine.RemoteTask) tasks.Result {
	d := &delivery{id: t.TaskID, t: t, timeout: q.timeouts(t.Name), scheduled: q.now(), done: make(chan tasks.Result, 1)}
	q.mu.Lock()
	q.pending[t.Name] = append(q.pending[t.Name], d)
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
	list := q.pending[d.t.Name]
	for i, x := range list {
		if x == d {
			q.pending[d.t.Name] = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	delete(q.inflight, d.id)
	if q.byRef[d.t.RunID+"/"+d.t.Ref] == d {
		delete(q.byRef, d.t.RunID+"/"+d.t.Ref)
	}
}

// poll takes up to count tasks of name, waiting up to wait for the first.
// Both ctx (the request) and stop (the server's shutdown) end the wait.
func (q *queue) poll(ctx, stop context.Context, name, workerID string, count int, wait time.Duration) []*delivery {
	if count < 1 {
		count = 1
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	for {
		q.mu.Lock()
		q.reassignLocked()
		list := q.pending[name]
		if len(list) > 0 {
			n := min(count, len(list))
			out := append([]*delivery(nil), list[:n]...)
			q.pending[name] = list[n:]
			now := q.now()
			for _, d := range out {
				d.polled, d.workerID, d.deadline = now, workerID, now.Add(d.timeout)
				d.pollCount++
				q.inflight[d.id] = d
			}
			q.mu.Unlock()
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

// reassignLocked puts every polled task past its response timeout back at
// the head of its queue under a new id.
func (q *queue) reassignLocked() {
	now := q.now()
	for id, d := range q.inflight {
		if now.Before(d.deadline) {
			continue
		}
		delete(q.inflight, id)
		d.attempt++
		d.id = d.t.TaskID + "-r" + strconv.Itoa(d.attempt)
		d.workerID = ""
		q.pending[d.t.Name] = append([]*delivery{d}, q.pending[d.t.Name]...)
		q.wakeLocked(d.t.Name)
	}
}

// sweep runs reassignLocked until ctx ends, so timed-out tasks are offered
// again even when no worker of their name is polling.
func (q *queue) sweep(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			q.mu.Lock()
			q.reassignLocked()
			q.mu.Unlock()
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
// IN_PROGRESS result keeps the task with the worker (a new response
// timeout), or with callbackAfterSeconds puts it back in the queue then.
func (q *queue) complete(id string, res workerResult) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.reassignLocked()
	d, ok := q.inflight[id]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownTask, id)
	}
	return q.deliverLocked(d, res)
}

// completeRef is complete by run id and task reference.
func (q *queue) completeRef(runID, ref string, res workerResult) (string, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d, ok := q.byRef[runID+"/"+ref]
	if !ok {
		return "", fmt.Errorf("%w: run %s has no task %q waiting for a worker", ErrUnknownTask, runID, ref)
	}
	id := d.id
	return id, q.deliverLocked(d, res)
}

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
		if res.CallbackSecs > 0 {
			delete(q.inflight, d.id)
			go func() {
				time.Sleep(time.Duration(res.CallbackSecs) * time.Second)
				q.mu.Lock()
				defer q.mu.Unlock()
				if q.byRef[d.t.RunID+"/"+d.t.Ref] == d {
					q.pending[d.t.Name] = append(q.pending[d.t.Name], d)
					q.wakeLocked(d.t.Name)
				}
			}()
		} else {
			d.deadline = q.now().Add(d.timeout)
		}
		return nil
	default:
		return fmt.Errorf("status %q: want COMPLETED, FAILED, FAILED_WITH_TERMINAL_ERROR or IN_PROGRESS", res.Status)
	}
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

// nameOf returns the task name of a polled task id.
func (q *queue) nameOf(id string) (string, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	d, ok := q.inflight[id]
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
