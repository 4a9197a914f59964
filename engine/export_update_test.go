package engine

// SetUpdateSeq sets the last sequence e's updateSignalKey gave
// (subworkflow_update.go): its next key of an update takes n+1 unless its
// wall clock is past that.
func SetUpdateSeq(e *Engine, n int64) { e.updateSeq.Store(n) }

// EngineID is e's id, the tie-breaker of its updates' keys.
func EngineID(e *Engine) string { return e.owner }
