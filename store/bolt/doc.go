// Package bolt is wfrun's embedded default secret store: one bbolt file,
// $WFRUN_HOME/secrets.db, with every value encrypted by store/seal
// (AES-256-GCM, scope+name+version as associated data). No plaintext value
// is ever written to the file; names, tags, descriptions and timestamps are
// metadata and are stored in clear.
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
//	secrets/<scope key>/<name>                 current record (JSON, value sealed)
//	history/<scope key>/<name>/<version BE64>  last N records, current included
//
// Scope keys are store.Scope.Key() ("o", "p/P", "e/P/E"); names may contain
// "/" and ":" because each scope is its own bucket.
package bolt
