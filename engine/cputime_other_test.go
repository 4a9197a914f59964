//go:build !unix

package engine

func cpuNanos() int64 { return 0 }
