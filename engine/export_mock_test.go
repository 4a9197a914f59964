package engine

// SetTestPassLimit lowers the pass limit of test t (Conductor's MAX_LOOPS,
// 20 000) for a test of the limit that does not take 20 000 passes.
func SetTestPassLimit(t *Test, n int) {
	t.gate.mu.Lock()
	t.gate.limit = n
	t.gate.mu.Unlock()
}
