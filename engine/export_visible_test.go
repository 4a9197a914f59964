package engine

// WithoutEarlyWrites turns off e's early writes of runs whose task keeps
// running (visible.go), so a test that counts a run's commits counts its
// durable points only: on a loaded machine a task held off the CPU for
// visibleLooks looks is written early, one commit more than when idle.
// Call it before e starts a run.
func WithoutEarlyWrites(e *Engine) { e.vis.off = true }
