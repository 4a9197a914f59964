package engine

import (
	"context"
	"fmt"

	"github.com/wfrun/wfrun/tasks"
)

// totalTimeoutSpent is Conductor's totalTimeoutSeconds guard on a retry:
// once the task's definition's total budget has passed since its first
// attempt (of this ref) was scheduled, the failed attempt res is recorded
// and the run ends without a retry, FAILED (TIMED_OUT when the attempt
// timed out). nil when the retry may go on. An error recording the
// attempt is returned as is.
func (r *runState) totalTimeoutSpent(ctx context.Context, p taskPolicy, rec *taskRecord, res tasks.Result) error {
	if p.totalTimeout <= 0 {
		return nil
	}
	r.mu.Lock()
	first := rec.Scheduled
	for _, t := range r.tasks {
		if t.Ref == rec.Ref && t.Scheduled > 0 && t.Scheduled < first {
			first = t.Scheduled
		}
	}
	r.mu.Unlock()
	elapsed := (r.nowMillis() - first) / 1000
	if elapsed < p.totalTimeout {
		return nil
	}
	if len(res.Output) > 0 {
		_ = r.setTaskData(rec, nil, res.Output)
	}
	if err := r.transition(ctx, rec, string(res.Status), r.sec.Excerpt(res.Reason, maxReasonBytes)); err != nil {
		return err
	}
	status := StatusFailed
	if res.Status == TaskTimedOut {
		status = StatusTimedOut
	}
	return &stopError{status: status, failedRef: rec.Ref, failedTaskID: rec.TaskID, reason: fmt.Sprintf(
		"Task %s/%s exceeded total timeout of %d seconds (elapsed %d seconds across all attempts). No further retries will be attempted.",
		rec.TaskID, rec.TaskDefName, p.totalTimeout, elapsed)}
}
