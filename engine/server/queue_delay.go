package server

import (
	"context"
	"time"
)

// holdUntil keeps d, a task the engine handed over before its OfferAt
// (engine.WithRemoteDelays: a retry during its retryDelaySeconds), from
// polls until that time on the engine's clock, then offers it, unless it
// ended, or an IN_PROGRESS update or a reset of callbacks offered it on
// its own terms meanwhile (gen). Meanwhile it is in byID and byRef, so an
// update by its id is taken at once, as Conductor's updateTask takes a
// task its queue holds with a delay; the queue's size counts it, as a
// task waiting for its callback (queueadmin.go).
func (q *queue) holdUntil(d *delivery, at time.Time, gen int) {
	if q.shared != nil {
		q.shared.delay(context.WithoutCancel(d.ctx), d.id, d.queue, at)
	}
	go q.requeueAt(d, at, gen)
}

// sleepUntil waits until at on the engine's clock; false when ctx ended
// first. The clock is read again after each timer (a test's manual clock
// may have moved while the timer was set).
func (q *queue) sleepUntil(ctx context.Context, at time.Time) bool {
	for {
		left := at.Sub(q.now())
		if left <= 0 {
			return ctx.Err() == nil
		}
		var ch <-chan time.Time
		stop := func() {}
		if q.clock != nil {
			ch, stop = q.clock.After(left)
		} else {
			t := time.NewTimer(left)
			ch, stop = t.C, func() { t.Stop() }
		}
		select {
		case <-ctx.Done():
			stop()
			return false
		case <-ch:
		}
		stop()
	}
}

// undelay drops d's entry in the shared queue's delayed set when d was
// never offered there (answered, or ended, while it waited for its
// OfferAt): the shared remove finds no task of it to drop.
func (q *queue) undelay(ctx context.Context, d *delivery) {
	q.mu.Lock()
	offered := d.offered
	q.mu.Unlock()
	if !offered {
		q.shared.c.ZRem(context.WithoutCancel(ctx), q.shared.delayedKey(d.queue), d.id)
	}
}
