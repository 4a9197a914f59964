//go:build race

package worker_test

// Under the race detector a workflow costs several times more: the
// generated hunt runs half of its workflows per seed.
func init() { lhwRaceScale = 2 }
