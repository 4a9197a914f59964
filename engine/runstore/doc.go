// Package runstore persists workflow run documents for the engine.
//
// A run document is the engine's JSON rendering of one execution (Conductor's
// execution shape, with `_secrets` subtrees already sealed and outputs already
// masked by the engine: a Store never sees a plaintext secret and never needs
// a key). A Store keeps two key spaces:
//
//   - primary: runs that have not reached a terminal state, rewritten after
//     every task transition (Save);
//   - archive: terminal runs in their archived form (masking.Archive applied by
//     the engine). Archive writes the archived form and deletes the primary in
//     ONE transaction, so a crash leaves either the primary record or the
//     masked archive, never an unmasked archive and never nothing.
//
// Signals are small out-of-band messages for a run ("task X was completed from
// outside", written by `wfrun task complete`). They live beside the run, not in
// it, so that a process that is rewriting the run document after every
// transition can never overwrite an external completion (no lost update): the
// runner takes (reads and deletes) pending signals and applies them itself.
//
// Backends:
//   - Bolt: one bbolt file ($WFRUN_HOME/runs.db). bbolt takes an exclusive
//     file lock for as long as a DB is open, so every operation opens the file,
//     does one transaction and closes it again, waiting up to a timeout for the
//     lock. A `wfrun run` waiting on a WAIT task and a `wfrun task complete` in
//     another process therefore both work on the same file.
//   - Redis: keys under one hash tag ({wfrun-runs}) so that the MULTI/EXEC of
//     Archive is valid on Redis Cluster too.
//   - Memory: for tests, benchmarks and embedding programs that do not need
//     durability.
package runstore
