// Package testkit holds small helpers that the tests of several packages
// share (engine/server, tasks/worker, cmd/wfrun): a buffer that concurrent
// loggers can write to while a test reads it, and a one-line HTTP call.
// It is for tests only; nothing outside a _test.go file imports it.
package testkit
