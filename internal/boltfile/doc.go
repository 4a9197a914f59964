// Package boltfile opens bbolt files defensively.
//
// bbolt maps its file into memory and trusts what it finds there: a
// truncated file makes the process die of SIGBUS when a page past the end
// is touched, and a damaged page makes bbolt panic. Open checks the file's
// size and its two meta pages before bbolt maps it, and View and Update run
// transactions with memory faults turned into panics and panics turned into
// errors, so a damaged file is one clear error naming the file and the way
// to recover, never a crash.
package boltfile
