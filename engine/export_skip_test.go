package engine

// SetSkipRecorded makes e call f with each skip SkipTask records itself,
// once the SKIPPED record is in the run and before it is written (the
// runner's own take of a skip is not told). Call it before e starts a run.
func SetSkipRecorded(e *Engine, f func(runID, ref string)) { e.skipRecorded = f }
