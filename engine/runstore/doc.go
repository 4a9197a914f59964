// Package runstore persists workflow runs for the engine.
//
// A run's stored parts are the engine's JSON (Conductor's execution shape,
// with `_secrets` subtrees already sealed and outputs already masked by the
// engine: a Store never sees a plaintext secret and never needs a key). A
// Store keeps:
//
//   - primary records: runs that have not ended, stored by parts — the head
//     (the run's scalar members), input, output, variables, the task
//     definitions the run keeps (written when they change, not with every
//     write), a test run's mocks (written once), one record per task keyed
//     by its seq, the run's log (entries keyed by position, each written
//     once by the write that appends it: what only grows while the run
//     runs) and the name (hash) of its definition. A write
//     (Commit) carries what changed since the previous one, never the whole
//     run; Assemble gives the one document back, the same on every backend;
//   - definitions, once each, under their hash, shared by every run of them;
//   - the archive: ended runs in their archived form (masking applied by the
//     engine). Archive writes the archived form and deletes the primary
//     record in ONE transaction, so a crash leaves either the primary record
//     or the masked archive, never an unmasked archive and never nothing.
//     Once a run is archived, Commit refuses it (ErrArchived, checked in
//     the commit's own transaction): a late write of another process
//     cannot create a primary record beside the archive. Archive refuses
//     a run archived already with no primary record (ErrArchived too): a
//     late archive of another process cannot replace the end recorded
//     first. Restore makes the run primary again;
//   - signals: small out-of-band messages for a run ("task X was completed
//     from outside", written by `wfrun task complete`; "terminate"). They
//     live beside the run, not in it, so a process writing the run can never
//     overwrite them (no lost update): the runner takes (reads and deletes)
//     pending signals and applies them itself. A caller waiting for the
//     runner's answer to its signal waits in an answer slot of its own
//     (slots.go, PutSlot/TakeSlot): written in one step unless the other
//     side marked it, never for an archived run, and removed with the run
//     by Archive (but an answer not taken yet, which stays for its caller
//     until taken or the run deleted) and Delete; a signal is not written
//     for an archived run;
//   - leases (Leaser): which process executes a run, with its pid, host and
//     heartbeat; `wfrun serve` processes sharing one store use them to run
//     each run in one process and to take over the runs of one that died.
//     A heartbeat is RenewLease, which never leases an archived run again.
//
// Backends:
//   - Bolt: one bbolt file ($WFRUN_HOME/runs.db). bbolt holds an exclusive
//     file lock while a DB is open. The file stays open while this process
//     uses it (no open/mmap/close per operation) and is handed over when
//     another process asks for it: a process that finds the file locked
//     touches runs.db.want and polls; the holder notices (after each
//     operation and every few milliseconds) and closes the file for a
//     moment; a holder also closes it after WithIdleRelease without use.
//     So a `wfrun run` and a `wfrun task complete` or a second `wfrun run`
//     share the file, each waiting at most for the other's transaction.
//     Concurrent writers in one process share transactions (group commit:
//     one caller commits what the others queued meanwhile), so throughput
//     rises with concurrency. A writer alone never waits; with several,
//     the committing caller waits for the writers of the previous batch at
//     most half a commit's time (see groupCommit).
//     A primary record's parts are keys "id NUL tag" of one bucket, the
//     summary among them, so that a lone run's write dirties about one
//     leaf page (its newest task, head and summary are neighbours). The
//     writes of a group commit of several runs are appended to a journal
//     instead (boltjournal.go): neighbouring entries, so the pages a
//     commit writes grow with its bytes, not with one leaf per run; the
//     journal is folded into the parts in one transaction when it is full
//     or a writer is alone again; an entry that does not decode is moved,
//     as it is, to bucket "damaged" (keyed by its run) and the rest is
//     folded, and Load of that run is ErrDamagedEntry naming the file, the
//     run and the key, the other runs unaffected. An archived document is
//     kept deflated in a bucket of its own (boltarchive.go), so archiving
//     a run writes its document, not the documents archived beside it. An entry whose header
//     (which holds the run id) is damaged is kept under no run; Damaged
//     lists every kept entry with one line naming the file, the key, and
//     the run or why the run is unknown. Records of the earlier layouts (a bucket
//     per run; whole documents) are read as they are and moved by the
//     run's next write.
//   - Redis: a hash per primary record, keys under one hash tag
//     ({wfrun-runs}) so that Commit's and Archive's MULTI/EXEC and the lease
//     scripts are valid on Redis Cluster too; a lease is a key with a TTL,
//     and each lease owner keeps a short-lived presence key (presence.go).
//     Concurrent writes share round trips: the group commit sends the
//     Commits and Archives queued meanwhile in one MULTI/EXEC, each write's
//     result read from its own commands. A Commit is a script in it (sent
//     by its hash) that writes nothing when the run is archived, and so is
//     an Archive.
//   - Memory: for tests, benchmarks and embedding programs that do not need
//     durability.
//
// All three run one conformance suite (store_test.go) and report what they
// wrote (StatsReporter: commits and bytes).
package runstore
