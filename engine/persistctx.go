package engine

import (
	"context"
	"sync"
	"time"
)

// persistDeadline bounds one write to the run store.
const persistDeadline = 30 * time.Second

// persistCtx is the context of one write to the run store: the values of
// the run's context, none of its cancellation (an interrupted run still
// writes its last state), and a deadline of its own. Its timer starts only
// when a store asks for Done: the memory and bolt stores never do, so a
// save does not arm and stop a timer per task. It is what
// context.WithTimeout(context.WithoutCancel(ctx), d) gives, lazily.
type persistCtx struct {
	parent   context.Context // without cancellation
	deadline time.Time

	mu    sync.Mutex
	done  chan struct{}
	timer *time.Timer
	err   error
}

// newPersistCtx returns the write's context; its stop releases it (stops
// its timer, if one started).
func newPersistCtx(ctx context.Context, d time.Duration) *persistCtx {
	return &persistCtx{parent: context.WithoutCancel(ctx), deadline: time.Now().Add(d)}
}

func (c *persistCtx) Deadline() (time.Time, bool) { return c.deadline, true }

func (c *persistCtx) Value(key any) any { return c.parent.Value(key) }

func (c *persistCtx) Done() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done == nil {
		c.done = make(chan struct{})
		if c.err != nil {
			close(c.done)
		} else if d := time.Until(c.deadline); d <= 0 {
			c.expireLocked()
		} else {
			c.timer = time.AfterFunc(d, c.expire)
		}
	}
	return c.done
}

// Err is DeadlineExceeded once the deadline has passed, whether or not
// Done was asked for (and Done is then closed: Err and Done agree).
func (c *persistCtx) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err == nil && !time.Now().Before(c.deadline) {
		c.expireLocked()
	}
	return c.err
}

func (c *persistCtx) expire() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.expireLocked()
}

func (c *persistCtx) expireLocked() {
	if c.err != nil {
		return
	}
	c.err = context.DeadlineExceeded
	if c.done != nil {
		close(c.done)
	}
}

// stop releases the timer. The context ends as at its deadline, as a
// cancelled context.WithTimeout does, for anything that kept it.
func (c *persistCtx) stop() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.err == nil {
		c.err = context.Canceled
		if c.done != nil {
			close(c.done)
		}
	}
}
