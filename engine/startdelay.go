package engine

// A task record's startDelayInSeconds. Conductor's SimpleTaskMapper sets a
// worker task's to its workflow task's startDelay; DeciderService.retry
// sets a retry's to the retry's delay, 0 included; a retry of the run
// (WorkflowExecutor's taskToBeRescheduled) copies the attempt it retries,
// this member with it. A record stores it when it is not 0 (StartDelay),
// and a 0 only where a reader of a record storing none would show another
// value (ZeroDelay): serve's records.go shows a worker task's startDelay
// then.

// shownStartDelay is the startDelayInSeconds of record t, an attempt of
// workflow task wt: the one it stores, else a worker task's startDelay,
// else 0.
func (e *Engine) shownStartDelay(t *taskRecord, wt *WorkflowTask) int64 {
	if t.StartDelay != 0 || t.ZeroDelay {
		return t.StartDelay
	}
	if wt != nil && e.IsWorkerTask(t.TaskType, t.TaskDefName) {
		return int64(wt.StartDelay)
	}
	return 0
}

// setRetryStartDelay sets the startDelayInSeconds of retry record t, an
// attempt of workflow task wt, to delay.
func (e *Engine) setRetryStartDelay(t *taskRecord, wt *WorkflowTask, delay int64) {
	t.StartDelay, t.ZeroDelay = delay, false
	t.ZeroDelay = delay == 0 && e.shownStartDelay(t, wt) != 0
}
