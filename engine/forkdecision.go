package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// A fork's first decision is one write. Conductor's ForkJoinTaskMapper and
// ForkJoinDynamicTaskMapper map a fork into the FORK (COMPLETED), the first
// task of every branch (a nested fork, a SWITCH with its case's first task)
// and the JOIN (IN_PROGRESS), and WorkflowExecutor.decide stores them
// together before a worker can poll any of them. wfrun's branches schedule
// their first records from goroutines, taking turns (forkpasses.go), and the
// fork records its JOIN once every branch has; so that nobody sees — and no
// branch acts on — a part of that decision:
//
//   - from the FORK's record (begin) until its JOIN is recorded, the run is
//     not written: a save (a task's end, the FORK's own completion) is
//     noted and made when the decision closes; an early write for readers
//     (visible.go) is skipped, so a reader sees the run as it was before;
//   - a task scheduled then that waits outside the decider (a worker task,
//     WAIT, HTTP, a SUB_WORKFLOW's child) starts only once the decision is
//     closed (begin waits): a branch's first task that fails at once fails
//     the run after the other branches' first tasks and the JOIN exist, and
//     they are cancelled with it, as in Conductor. Synchronous tasks run in
//     the pass after (forkpasses.go), after the JOIN already.
//
// Decisions of nested forks open while the enclosing one is open and close
// before it (the nested JOIN comes first); the run counts them.
type forkDecision struct {
	open    int           // decisions open
	closed  chan struct{} // closed when open drops to 0
	saveDue bool          // a write was asked for while open
}

// openDecisionLocked opens a fork's decision (begin, as it records the
// FORK). Callers hold r.mu.
func (r *runState) openDecisionLocked(rec *taskRecord) {
	if r.decision.open == 0 {
		r.decision.closed = make(chan struct{})
	}
	r.decision.open++
	rec.opensDecision = true
}

// takeDecision reports whether rec's begin opened a decision, which the
// caller now closes (closeDecision), once.
func (r *runState) takeDecision(rec *taskRecord) bool {
	if rec == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	held := rec.opensDecision
	rec.opensDecision = false
	return held
}

// closeDecision closes a decision; closing the last one makes the write
// asked for meanwhile.
func (r *runState) closeDecision(ctx context.Context) error {
	r.mu.Lock()
	r.decision.open--
	due := false
	if r.decision.open == 0 {
		close(r.decision.closed)
		r.decision.closed = nil
		due, r.decision.saveDue = r.decision.saveDue, false
	}
	r.mu.Unlock()
	if due {
		return r.save(ctx)
	}
	return nil
}

// reportedWriteKey marks the context of a write whose outcome is reported
// outside the run: an API call's answer (a variables update, a pause), a
// worker's acknowledgement. Such a write is never deferred to a decision's
// close, which a crash could forestall.
type reportedWriteKey struct{}

// withReportedWrite marks ctx's writes as reported (reportedWriteKey).
func withReportedWrite(ctx context.Context) context.Context {
	return context.WithValue(ctx, reportedWriteKey{}, true)
}

// errWriteSkipped: lockForWrite did not lock, and the write is not made
// now (its condition is false, or it is due at the decision's close).
var errWriteSkipped = errors.New("write skipped")

// lockForWrite takes saveMu and r.mu for a write (returning nil with both
// held) or returns errWriteSkipped (neither held) when only is false or the
// write is deferred to an open decision's close. A reported write
// (withReportedWrite) waits for the decision to close instead, up to
// deadline.
func (r *runState) lockForWrite(ctx context.Context, deadline time.Duration, only func() bool) error {
	var expired <-chan time.Time
	for {
		r.saveMu.Lock()
		r.mu.Lock()
		if only != nil && !only() {
			r.mu.Unlock()
			r.saveMu.Unlock()
			return errWriteSkipped
		}
		if r.decision.open == 0 {
			return nil
		}
		if ctx.Value(reportedWriteKey{}) == nil {
			r.decision.saveDue = true
			r.mu.Unlock()
			r.saveMu.Unlock()
			return errWriteSkipped
		}
		closed := r.decision.closed
		r.mu.Unlock()
		r.saveMu.Unlock()
		if expired == nil {
			t := time.NewTimer(deadline)
			defer t.Stop()
			expired = t.C
		}
		select {
		case <-closed:
		case <-expired:
			return fmt.Errorf("save run %s: a fork's decision was still open after %s", r.id, deadline)
		case <-ctx.Done():
			return fmt.Errorf("save run %s: %w", r.id, context.Cause(ctx))
		}
	}
}

// awaitDecision returns once no decision is open (or ctx ends).
func (r *runState) awaitDecision(ctx context.Context) error {
	r.mu.Lock()
	ch := r.decision.closed
	r.mu.Unlock()
	if ch == nil {
		return nil
	}
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// startsAfterDecision: a task of type typ does its work outside the
// decider (a worker, a timer, a child run, a call), so it starts only once
// the decision that scheduled it is written. Operators and synchronous
// tasks are the decider's own work.
func startsAfterDecision(typ string) bool {
	switch typ {
	case TypeJoin, TypeExclusiveJoin:
		return false
	}
	return !executedByDecider[typ] && !mappedWithFirstTask[typ]
}

// decisionCloser returns a function that closes the decision once (when
// held); later calls return nil.
func (r *runState) decisionCloser(held bool) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		if !held {
			return nil
		}
		held = false
		return r.closeDecision(ctx)
	}
}

// orElse is err, or else (when err is nil) alt: the first error of a path
// that must run both.
func orElse(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}
