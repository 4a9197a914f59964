// Package redistest starts a real, private redis-server for tests.
//
// Each call to Start launches its own redis-server on a free loopback port
// with its working directory under t.TempDir(), no persistence and no
// configuration file, and stops it when the test ends. Tests therefore never
// touch a system Redis. When redis-server is not on PATH the test is skipped
// locally and fails when the environment variable CI is "true", so CI cannot
// silently lose its Redis coverage.
package redistest
