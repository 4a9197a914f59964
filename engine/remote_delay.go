package engine

import (
	"context"
	"time"
)

// A remote task that must wait before a worker may take it — a retry
// during its retryDelaySeconds (with its backoff and jitter), a first
// attempt during its startDelay — is, in Conductor, a task in its queue
// with a delay: a poll does not get it before the delay has passed, but
// an update by its task id (POST /api/tasks, from a worker or a client)
// completes or fails it at once. Under WithRemoteDelays the engine
// reproduces that: it hands such a task to the RemoteWorkerFunc as soon as
// the task is scheduled, with RemoteTask.OfferAt set, and the
// RemoteWorkerFunc keeps it from polls until then while taking an answer
// for it at once. Without the option the engine waits the delay itself and
// hands the task over afterwards (a RemoteWorkerFunc that knows nothing of
// OfferAt is never given a task early).

// WithRemoteDelays says the RemoteWorkerFunc honours RemoteTask.OfferAt:
// it hands the task to no worker's poll before that time, and takes an
// answer for it (by its task id) at any time.
func WithRemoteDelays() Option { return func(e *Engine) { e.remoteDelays = true } }

type offerAtKey struct{}

// withOfferAt hands the time a remote attempt may be polled from to
// remoteTask (zero: at once).
func withOfferAt(ctx context.Context, at time.Time) context.Context {
	if at.IsZero() {
		return ctx
	}
	return context.WithValue(ctx, offerAtKey{}, at)
}

// offerAtOf is the time withOfferAt set on ctx (zero: none).
func offerAtOf(ctx context.Context) time.Time {
	at, _ := ctx.Value(offerAtKey{}).(time.Time)
	return at
}

// resumedOfferAt is the OfferAt of a remote retry resumed while it waited
// for its delay (its record SCHEDULED with callbackAfterSeconds, never
// polled): the rest of the delay from its scheduling, as Conductor's queue
// keeps a delayed task's time across a restart. Zero when none is left.
func (r *runState) resumedOfferAt(rec *taskRecord) time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rec.Status != TaskScheduled || rec.RetryCount == 0 || rec.Callback <= 0 || rec.PollCount > 0 || rec.Start != 0 || rec.Scheduled == 0 {
		return time.Time{}
	}
	at := time.UnixMilli(rec.Scheduled).Add(time.Duration(rec.Callback) * time.Second)
	if !at.After(r.e.now()) {
		return time.Time{}
	}
	return at
}
