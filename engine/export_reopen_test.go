package engine

import "context"

// ReopenSignal is the stored re-open signal of run runID's record taskID
// for child, as a process handing a re-open over writes it (handOff).
func ReopenSignal(e *Engine, runID, taskID, child string) ([]byte, error) {
	return e.reopenSignal(context.Background(), runID, taskID, child, "")
}

// RestartInPlace retries ended run id in place and stores it RUNNING
// with this engine's lease, as a restart does before it hands the re-open
// of its parent over (what a restart whose process died then leaves).
func RestartInPlace(e *Engine, id string) error {
	ctx := context.Background()
	er, err := e.loadEnded(ctx, id)
	if err != nil {
		return err
	}
	c, err := e.prepareRestart(ctx, er, false, "", nil)
	if err != nil {
		return err
	}
	return c.restoreRestarted(ctx)
}

// HoldUnsuccessful sets, in run runID that this engine executes, the
// record taskID's status to status in memory only: the state a Conductor
// parent keeps while PAUSED (its decider does not turn an optional task's
// failure into COMPLETED_WITH_ERRORS then), which wfrun's own executor
// reaches only for a moment. False when no such run or record is here.
func HoldUnsuccessful(e *Engine, runID, taskID, status string) bool {
	r := e.executing(runID)
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.recordLocked(taskID)
	if rec == nil {
		return false
	}
	rec.Status = status
	return true
}
