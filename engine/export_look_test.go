package engine

import "context"

// AttemptEnded is CompleteTaskStored's look at the store while it waits
// (attemptended.go), for benchmarks.
func AttemptEnded(ctx context.Context, e *Engine, runID, taskID string, seq int) (bool, error) {
	return e.attemptEnded(ctx, runID, taskID, seq)
}
