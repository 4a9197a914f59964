// Package bolt is wfrun's embedded default secret store: one bbolt file,
// $WFRUN_HOME/secrets.db, with every record sealed by store/seal
// (AES-256-GCM, the record's storage key as associated data). No plaintext
// value or metadata is ever written to the file.
//
// # Several processes, one file
//
// bbolt holds an exclusive flock for as long as a database is open, so a
// long-running `wfrun run` that kept the file open would lock out
// `wfrun secret set` in another shell. This store therefore opens the file
// only while operations are in flight: the first concurrent operation of a
// process opens it (waiting up to the lock timeout, default 5s, if another
// process holds it), later concurrent operations share that handle, and the
// last one to finish closes it. Between operations no lock is held. A lock
// that stays busy past the timeout is ErrUnavailable.
//
// # Layout
//
// The file is a store.Storage: one bucket, "records", holding the opaque
// records the store's barrier (store.Barrier) writes, keyed by their
// storage key (see store.Storage). Every record is sealed whole — value and
// metadata — with its key as associated data; only the keys (scope and
// secret names) are readable in the file. Deleting a secret or rekeying
// compacts the file into a new one that replaces it atomically, so no old
// ciphertext stays in free pages.
package bolt
