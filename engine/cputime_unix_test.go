//go:build unix

package engine

import "syscall"

// cpuNanos is the CPU time (user + system) this process has used. On a
// shared, loaded machine, benchmarks report it per operation beside the
// wall time, which also counts the time spent waiting for a core.
func cpuNanos() int64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}
