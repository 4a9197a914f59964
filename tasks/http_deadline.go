package tasks

import (
	"container/heap"
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// callDeadlines bounds HTTP calls in time (connectionTimeOut + readTimeOut)
// the way context.WithTimeout does, without a runtime timer per call. It
// serves the calls whose client has a RoundTripper wfrun cannot reach the
// connections of; an *http.Transport's calls get the timeouts at the
// connection instead (http_conn.go).
//
// context.WithTimeout arms and stops a timer for every call, and arming one
// that is due before every other timer of the process wakes the network
// poller: on a loopback call that was a large part of the task's own cost.
// Here the pending calls sit in a heap by deadline under one timer, armed for
// the earliest of them. A call whose deadline is later than the one the
// timer is armed for (every call, when they share a timeout) touches no
// timer; when the timer fires, it cancels the calls that are due and is armed
// again for the next one. The timer is left armed when calls end early, so
// a steady stream of calls re-arms it about once per timeout.
type callDeadlines struct {
	mu    sync.Mutex
	calls deadlineHeap
	timer *time.Timer
	armed time.Time // when timer fires; zero when it is not armed
}

// callCtx is the context of one call: the task's context (its values and
// its cancellation) with a deadline. Err reports context.DeadlineExceeded,
// and context.Cause the same, once the deadline has passed, as for
// context.WithTimeout.
type callCtx struct {
	context.Context // context.WithCancelCause of the task's context
	cancel          context.CancelCauseFunc
	deadline        time.Time
	expired         atomic.Bool
	registered      bool // in callDeadlines.calls at start (set before, never changed)
	idx             int  // in callDeadlines.calls; -1 when not there (callDeadlines.mu)
}

func (c *callCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *callCtx) Err() error {
	err := c.Context.Err()
	if err != nil && c.expired.Load() {
		return context.DeadlineExceeded
	}
	return err
}

// expire cancels the call for its deadline (unless it already ended).
func (c *callCtx) expire() {
	if c.Context.Err() == nil {
		c.expired.Store(true)
		c.cancel(context.DeadlineExceeded)
	}
}

// start returns the context of a call that must end within timeout, and
// registers it; end must be called when the call is over.
func (d *callDeadlines) start(parent context.Context, timeout time.Duration) *callCtx {
	c := &callCtx{deadline: time.Now().Add(timeout), idx: -1}
	c.Context, c.cancel = context.WithCancelCause(parent)
	if pd, ok := parent.Deadline(); ok && !pd.After(c.deadline) {
		// The task's own deadline comes first and ends the call.
		c.deadline = pd
		return c
	}
	c.registered = true
	d.mu.Lock()
	heap.Push(&d.calls, c)
	if d.armed.IsZero() || c.deadline.Before(d.armed) {
		d.armLocked(c.deadline)
	}
	d.mu.Unlock()
	return c
}

// end releases a call's context (its deadline no longer applies).
func (d *callDeadlines) end(c *callCtx) {
	if c.registered {
		d.mu.Lock()
		if c.idx >= 0 {
			heap.Remove(&d.calls, c.idx)
		}
		d.mu.Unlock()
	}
	c.cancel(context.Canceled)
}

func (d *callDeadlines) armLocked(at time.Time) {
	d.armed = at
	if d.timer == nil {
		d.timer = time.AfterFunc(time.Until(at), d.fire)
		return
	}
	d.timer.Reset(time.Until(at))
}

// fire cancels the calls that are due and arms the timer for the next one.
// An extra firing (a Reset racing with one under way) finds nothing due.
func (d *callDeadlines) fire() {
	now := time.Now()
	var due []*callCtx
	d.mu.Lock()
	for len(d.calls) > 0 && !d.calls[0].deadline.After(now) {
		due = append(due, heap.Pop(&d.calls).(*callCtx))
	}
	d.armed = time.Time{}
	if len(d.calls) > 0 {
		d.armLocked(d.calls[0].deadline)
	}
	d.mu.Unlock()
	for _, c := range due {
		c.expire()
	}
}

// deadlineHeap orders pending calls by deadline (container/heap).
type deadlineHeap []*callCtx

func (h deadlineHeap) Len() int           { return len(h) }
func (h deadlineHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h deadlineHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}
func (h *deadlineHeap) Push(x any) {
	c := x.(*callCtx)
	c.idx = len(*h)
	*h = append(*h, c)
}
func (h *deadlineHeap) Pop() any {
	old := *h
	c := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	c.idx = -1
	return c
}
