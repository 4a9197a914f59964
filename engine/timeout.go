package engine

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// attemptTimeout is the cancellation cause of a task attempt that ran past
// its definition's timeoutSeconds or responseTimeoutSeconds.
type attemptTimeout struct {
	reason string
	policy string // the timeoutPolicy that applies (a response timeout retries)
}

func (a *attemptTimeout) Error() string { return a.reason }

// errWorkflowTimeout is the cancellation cause of a run past its
// definition's timeoutSeconds (timeoutPolicy TIME_OUT_WF).
type workflowTimeout struct{ reason string }

func (w *workflowTimeout) Error() string { return w.reason }

// watchAttempt cancels an attempt (with an *attemptTimeout cause) once it
// exceeds the task definition's timeoutSeconds (as the definition's
// timeoutPolicy says: RETRY and TIME_OUT_WF stop the attempt, ALERT_ONLY
// only reports) or responseTimeoutSeconds (an attempt that has not answered
// is TIMED_OUT and retried, whatever the policy: Conductor's
// isResponseTimedOut). The returned function stops the watch.
func (r *runState) watchAttempt(cancel context.CancelCauseFunc, rec *taskRecord, p taskPolicy, waits bool) func() {
	if !p.hasDef() {
		return func() {}
	}
	timeout := time.Duration(p.timeout) * time.Second
	response := time.Duration(0)
	// WAIT/HUMAN and asynchronously completed tasks are exempt from the
	// response timeout, as Conductor exempts async-complete tasks.
	if rt := p.localResponseTimeout(waits); rt > 0 {
		response = time.Duration(rt) * time.Second
	}
	totch, stopTot, total := r.watchTotal(rec, p)
	if timeout <= 0 && response <= 0 && totch == nil {
		return func() {}
	}
	start := r.e.now()
	var tch, rch <-chan time.Time
	stopT, stopR := func() {}, func() {}
	if timeout > 0 {
		tch, stopT = r.e.clock.After(timeout)
	}
	if response > 0 {
		rch, stopR = r.e.clock.After(response)
	}
	timedOut := &attemptTimeout{policy: p.timeoutPolicy,
		reason: fmt.Sprintf("Task timed out after %d seconds. Timeout configured as %d seconds. Timeout policy configured to %s", p.timeout, p.timeout, p.timeoutPolicy)}
	noResponse := &attemptTimeout{policy: TimeoutRetry,
		reason: fmt.Sprintf("responseTimeout: %d exceeded for the taskId: %s with Task Definition: %s", p.responseTimeout, rec.TaskID, p.defName)}
	done := make(chan struct{})
	go func() {
		defer stopT()
		defer stopR()
		defer stopTot()
		for tch != nil || rch != nil || totch != nil {
			select {
			case <-done:
				return
			case <-tch:
				tch = nil
			case <-rch:
				rch = nil
			case <-totch:
				totch = nil
				if total.policy != TimeoutAlertOnly {
					cancel(total)
					return
				}
				r.emit(Event{Kind: EventTask, TaskRef: rec.Ref, TaskType: rec.TaskType, TaskID: rec.TaskID, Status: TaskInProgress, Reason: total.reason})
				continue
			}
			// Conductor checks the task's timeout before its response
			// timeout: when both have passed, timeoutSeconds decides.
			if timeout > 0 && !r.e.now().Before(start.Add(timeout)) && timedOut != nil {
				if timedOut.policy != TimeoutAlertOnly {
					cancel(timedOut)
					return
				}
				r.emit(Event{Kind: EventTask, TaskRef: rec.Ref, TaskType: rec.TaskType, TaskID: rec.TaskID, Status: TaskInProgress, Reason: timedOut.reason})
				timedOut, tch = nil, nil
			}
			if response > 0 && !r.e.now().Before(start.Add(response)) {
				cancel(noResponse)
				return
			}
		}
	}()
	return func() { close(done) }
}

// attemptTimedOut returns the timeout that stopped an attempt, if any.
func attemptTimedOut(actx context.Context) *attemptTimeout {
	var at *attemptTimeout
	if errors.As(context.Cause(actx), &at) {
		return at
	}
	return nil
}

// watchWorkflow enforces the definition's timeoutSeconds from the run's
// creation, or from its last retry or resume (lastRetriedTime, Conductor's
// checkWorkflowTimeout): TIME_OUT_WF cancels the run (cause
// *workflowTimeout); ALERT_ONLY (Conductor's default) only reports it. A
// PAUSED run is not timed out: Conductor's decider no longer looks at it,
// and its resume counts the timeout again from then (resumeWorkflow sets
// lastRetriedTime).
func (r *runState) watchWorkflow(cancel context.CancelCauseFunc) func() {
	if r.def.TimeoutSeconds <= 0 {
		return func() {}
	}
	policy := r.def.TimeoutPolicy
	if policy == "" {
		policy = TimeoutAlertOnly
	}
	// base is the time the timeout counts from, and, while the run is
	// PAUSED, what closes when it is resumed.
	base := func() (from int64, unpaused <-chan struct{}) {
		r.mu.Lock()
		defer r.mu.Unlock()
		from = r.doc.CreateTime
		if r.doc.LastRetriedTime > 0 {
			from = r.doc.LastRetriedTime // a retried or resumed run's timeout counts from then
		}
		if r.doc.Status == StatusPaused {
			if r.unpaused == nil {
				r.unpaused = make(chan struct{})
			}
			unpaused = r.unpaused
		}
		return from, unpaused
	}
	done := make(chan struct{})
	go func() {
		from, _ := base()
		for {
			deadline := time.UnixMilli(from).Add(time.Duration(r.def.TimeoutSeconds) * time.Second)
			ch, stop := r.e.clock.After(deadline.Sub(r.e.now()))
			select {
			case <-done:
				stop()
				return
			case <-ch:
			}
			stop()
			now, unpaused := base()
			if unpaused != nil {
				select {
				case <-done:
					return
				case <-unpaused:
				}
				from, _ = base()
				continue
			}
			if now != from {
				from = now // resumed or retried since: counted from then
				continue
			}
			elapsed := (r.nowMillis() - from) / 1000
			reason := fmt.Sprintf("Workflow timed out after %d seconds. Timeout configured as %d seconds. Timeout policy configured to %s",
				elapsed, r.def.TimeoutSeconds, policy)
			if policy == TimeoutAlertOnly {
				r.emit(Event{Kind: EventWorkflow, Status: StatusRunning, Reason: reason})
				return
			}
			cancel(&workflowTimeout{reason: reason})
			return
		}
	}()
	return func() { close(done) }
}

// watchTotal is the timer of a task definition's totalTimeoutSeconds for
// an attempt: it fires when the budget, counted from the first attempt of
// the task's ref, is spent (Conductor's checkTotalTimeout), with the
// timeout the attempt then ends with (the definition's timeoutPolicy). A
// nil channel when there is no budget.
func (r *runState) watchTotal(rec *taskRecord, p taskPolicy) (<-chan time.Time, func(), *attemptTimeout) {
	if p.totalTimeout <= 0 {
		return nil, func() {}, nil
	}
	r.mu.Lock()
	first := rec.Scheduled
	for _, t := range r.tasks {
		if t.Ref == rec.Ref && t.Scheduled > 0 && t.Scheduled < first {
			first = t.Scheduled
		}
	}
	r.mu.Unlock()
	budget := time.Duration(p.totalTimeout) * time.Second
	ch, stop := r.e.clock.After(time.UnixMilli(first).Add(budget).Sub(r.e.now()))
	elapsed := p.totalTimeout
	if d := (r.nowMillis() - first) / 1000; d > elapsed {
		elapsed = d
	}
	return ch, stop, &attemptTimeout{policy: p.timeoutPolicy, reason: fmt.Sprintf(
		"Task %s/%s exceeded total timeout of %d seconds (elapsed %d seconds across all attempts including retry delays). Timeout policy: %s",
		p.defName, rec.TaskID, p.totalTimeout, elapsed, p.timeoutPolicy)}
}
