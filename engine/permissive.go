package engine

import (
	"fmt"
	"strings"
)

// permissiveFailures is why a run that would complete fails instead: the
// permissive (and not optional) tasks whose latest attempt ended
// unsuccessfully, as Conductor's decider reports them ("Task <id> failed
// with status: <S> and reason: '<reason>'", joined by ". "). "" when none.
func (r *runState) permissiveFailures() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	latest := map[string]*taskRecord{}
	var order []string
	for _, t := range r.tasks {
		if t.wt == nil || !t.wt.Permissive || t.wt.Optional {
			continue
		}
		prev, seen := latest[t.Ref]
		if !seen {
			order = append(order, t.Ref)
		}
		if !seen || t.RetryCount >= prev.RetryCount {
			latest[t.Ref] = t
		}
	}
	var msgs []string
	for _, ref := range order {
		t := latest[ref]
		if terminalTask(t.Status) && !successfulTask(t.Status) {
			msgs = append(msgs, taskFailedReasonGiven(t.TaskID, t.Status, t.Reason, t.emptyReason()))
		}
	}
	return strings.Join(msgs, ". ")
}

// joinFailure is why a JOIN fails, as Conductor's Join decides once its
// tasks have ended: a task it joins on that did not succeed and is not
// optional (a permissive one lets the others end first). Its reason joins
// the failed tasks' reasons. "" when the JOIN completes. cancelled: every
// such task that is not optional was CANCELED (a sub-workflow the user
// terminated, say): Join then ends CANCELED, not FAILED, and the run is
// TERMINATED.
func (r *runState) joinFailure(joinOn []string, suffix string) (reason string, cancelled bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	failed, other := false, false
	var reasons []string
	for _, ref := range joinOn {
		t := r.byRef[ref+suffix]
		if t == nil || successfulTask(t.Status) {
			continue
		}
		if t.wt == nil || !t.wt.Optional {
			failed = true
			other = other || (terminalTask(t.Status) && t.Status != TaskCanceled)
		}
		if t.Reason != "" {
			reasons = append(reasons, t.Reason)
		}
	}
	if !failed {
		return "", false
	}
	return strings.Join(reasons, " "), !other
}

// terminalTask: the task has ended (successfully or not).
func terminalTask(s string) bool {
	switch s {
	case TaskScheduled, TaskInProgress:
		return false
	}
	return true
}

// taskFailedReason is the reason a run fails for a task that failed with
// status, as Conductor's DeciderService words it: "Task <id> failed with
// status: <status> and reason: '<reason>'", a task without a reason
// giving 'null' (Java's String.format of its null reasonForIncompletion).
func taskFailedReason(taskID, status, reason string) string {
	return taskFailedReasonGiven(taskID, status, reason, false)
}

// taskFailedReasonGiven is taskFailedReason with empty saying whether an
// empty reason is the empty text given as such (Conductor's ""): then
// the reason shows as ”.
func taskFailedReasonGiven(taskID, status, reason string, empty bool) string {
	if reason == "" && !empty {
		reason = "null"
	}
	return fmt.Sprintf("Task %s failed with status: %s and reason: '%s'", taskID, status, reason)
}
