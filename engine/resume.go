package engine

import "context"

// What the replay does with an attempt that ended unsuccessfully.
//
// The executor replays the definition over the recorded tasks (doc.go).
// When it reaches a task whose latest attempt ended unsuccessfully
// (FAILED, FAILED_WITH_TERMINAL_ERROR, TIMED_OUT, CANCELED), that outcome
// was already decided by the run, as Conductor's decider decides a
// pending task once: the run retries it when the task's retry policy
// gives another attempt (the process went away during the retry delay,
// say); otherwise the outcome stands — a permissive task stays as it is
// and the run goes on past it (its JOIN or its end fails it, as it would
// have without the interruption), any other task ends the run as its
// failure did. A resume never turns that outcome into a new attempt.
//
// An explicit retry of the run (Retry, Restart from the failed tasks, a
// rerun of a SUB_WORKFLOW task, the retry of a re-opened parent's failed
// sibling) is different: Conductor's retry schedules a new attempt of
// every failed, timed-out or cancelled task at once, whatever its retry
// count. wfrun's replay schedules those attempts as it reaches them, so
// the retry marks the attempts it asks to run again (retryAsked, sealed in
// the run's head with what a re-opened run keeps, reopenKept.Retry): a
// process that goes away before the replay reached them leaves them
// marked, and the resumed run still retries them.

// attemptsAgain reports whether prev, the latest attempt of wt found
// ended unsuccessfully when the replay reaches it, is followed by a new
// attempt: a retry asked for one, or the task's retry policy gives one
// (pol, as execLeaf and execSubWorkflow retry an attempt).
func (r *runState) attemptsAgain(prev *taskRecord, wt *WorkflowTask, pol taskPolicy) bool {
	if r.keptAsIs(prev) {
		return true // a re-opened run's kept record: begin keeps it (reopen.go)
	}
	r.mu.Lock()
	asked := r.retryAsked[prev.TaskID]
	r.mu.Unlock()
	if asked {
		return true
	}
	if prev.Status != TaskFailed && prev.Status != TaskTimedOut {
		return false // FAILED_WITH_TERMINAL_ERROR and CANCELED are not retried
	}
	if prev.Status == TaskTimedOut && pol.timeoutPolicy == TimeoutWorkflow {
		return false // the attempt's timeout ended the run (execLeaf)
	}
	return !builtIn(wt.Type) && prev.RetryCount < pol.retryCount
}

// settled is the replay of prev's outcome when no attempt follows it
// (attemptsAgain false): nil when the run goes on past it, else the run's
// end, as the failure decided it. Nothing is run or recorded again.
func (r *runState) settled(ctx context.Context, prev *taskRecord, wt *WorkflowTask, pol taskPolicy) error {
	notifyScheduled(ctx, "") // a replayed record, for the enclosing fork (fork.go)
	if prev.wt == nil {
		prev.wt = wt // as begin sets it: the run executes, no lock
	}
	if wt.Optional {
		return nil // its failure does not fail the run
	}
	if prev.Status == TaskTimedOut && pol.timeoutPolicy == TimeoutWorkflow {
		return &stopError{status: StatusTimedOut, reason: prev.Reason, failedRef: prev.Ref, failedTaskID: prev.TaskID}
	}
	return r.afterFailure(ctx, prev, prev.Status, prev.Reason)
}

// settledOperator is the replay of an operator (SWITCH, DECISION, FORK,
// DO_WHILE) whose latest record ended unsuccessfully: such a task is never
// retried (a retry of the run schedules it anew: retainForRetryLocked
// drops the record), so its outcome stands (settled) and nothing of it
// runs again. ok is false when the record did not end so.
func (r *runState) settledOperator(ctx context.Context, wt *WorkflowTask, ref string) (ok bool, err error) {
	prev := r.lookup(ref)
	if prev == nil || !terminalTask(prev.Status) || successfulTask(prev.Status) || r.keptAsIs(prev) {
		return false, nil
	}
	return true, r.settled(ctx, prev, wt, r.policy(wt))
}

// markRetryLocked records the attempts a retry of the run asks to run
// again: the latest attempt of each task that ended unsuccessfully and is
// retried as a new attempt (retriedAsNewAttempt), in place of those an
// earlier retry asked for. Callers hold r.mu.
func (r *runState) markRetryLocked() {
	r.retryAsked = nil
	for _, t := range r.tasks {
		if r.byRef[t.Ref] == t && retriedAsNewAttempt(t) {
			if r.retryAsked == nil {
				r.retryAsked = map[string]bool{}
			}
			r.retryAsked[t.TaskID] = true
		}
	}
}

// retryIDsLocked lists the marked attempts (markRetryLocked) that are
// still their task's latest, in the run's order: an attempt that a later
// one superseded is not asked about again. Callers hold r.mu.
func retryIDsLocked(r *runState) []string {
	var ids []string
	for _, t := range r.tasks {
		if r.retryAsked[t.TaskID] && r.byRef[t.Ref] == t {
			ids = append(ids, t.TaskID)
		}
	}
	return ids
}
