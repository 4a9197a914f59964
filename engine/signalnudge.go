package engine

import "context"

// The process executing a run takes the signals stored for it (terminate,
// pause, resume, skip, re-open) when its lease keeper looks, about once a
// second. A process that stores one for a run another process may execute
// also tells the processes sharing the store (WithSignalNotify: a serve
// process publishes it over Redis), and the one executing the run takes
// its signals at once (SignalStored). A notice lost on the way costs that
// second, never the signal: the stored signal stays the guarantee.

// WithSignalNotify sets fn, called once the engine has stored a signal for
// run runID that the process executing the run applies: a terminate,
// pause, resume, skip or sub-workflow re-open. fn tells the processes
// sharing the run store (their engines' SignalStored), so the executor
// applies it at once; it must not block for long.
func WithSignalNotify(fn func(ctx context.Context, runID string)) Option {
	return func(e *Engine) { e.signalNotify = fn }
}

// WithWritten sets fn, called after each write of a run this engine
// executes is stored: a caller waiting for what a read of the run shows
// (a server's answer that claims a state stored) looks again. It must not
// block.
func WithWritten(fn func(runID string)) Option {
	return func(e *Engine) { e.written = fn }
}

// SignalStored tells the engine that a signal was just stored for run
// runID: when the engine executes that run, its lease keeper takes the
// run's signals now rather than at its next look. Nothing happens
// otherwise.
func (e *Engine) SignalStored(runID string) {
	if r := e.executing(runID); r != nil {
		r.pokeLease()
	}
}

// signalStored is called after e stored a signal for run id: this engine's
// own executor of the run (if any) takes it now, and WithSignalNotify's
// function tells the others.
func (e *Engine) signalStored(ctx context.Context, id string) {
	e.SignalStored(id)
	if e.signalNotify != nil {
		e.signalNotify(context.WithoutCancel(ctx), id)
	}
}

// pokeChan is the channel that wakes the run's lease keeper.
func (r *runState) pokeChan() chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.lease.poke == nil {
		r.lease.poke = make(chan struct{}, 1)
	}
	return r.lease.poke
}

// pokeLease wakes the run's lease keeper to take its signals now.
func (r *runState) pokeLease() {
	select {
	case r.pokeChan() <- struct{}{}:
	default: // a wake-up is already pending
	}
}
