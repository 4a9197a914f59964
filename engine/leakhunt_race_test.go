//go:build race

package engine_test

// Under the race detector a run costs several times more: the generated
// hunt runs a fifth of its seeds.
func init() { lhRaceScale = 5 }
