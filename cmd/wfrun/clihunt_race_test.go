//go:build race

package main

// Under the race detector a run costs several times more: the hunt runs a
// half of its workflows.
func init() { chRaceScale = 2 }
