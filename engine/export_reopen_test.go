package engine

// ReopenSignal is the stored re-open signal of run runID's record taskID
// for child, as a process handing a re-open over writes it (handOff).
func ReopenSignal(e *Engine, runID, taskID, child string) ([]byte, error) {
	return e.reopenSignal(runID, taskID, child, "")
}
