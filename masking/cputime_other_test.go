//go:build !unix

package masking

func cpuNanos() int64 { return 0 }
