// Package redis is the shared secret store on Redis (single node, Sentinel
// or Cluster through go-redis v9's UniversalClient). Values are sealed with
// store/seal before they leave the process; Redis only ever sees
// ciphertext and metadata.
//
// # Keys
//
// Every key carries the same hash tag, {PREFIX} (default {wfrun}), so all of
// them live in one Cluster slot and multi-key commands, MULTI and Lua work on
// Cluster:
//
//	{wfrun}:s:<scope key>:<name>   current record (JSON, value sealed)
//	{wfrun}:h:<scope key>:<name>   list of the last N records, newest first
//	{wfrun}:i:<scope key>          sorted set of names (lexicographic listing)
//	{wfrun}:scopes                 set of scope keys in use (sweep, rekey)
//	{wfrun}:invalidate             pub/sub channel: "<scope key> <name> <version>" on every write
//
// Scope keys ("o", "p/P", "e/P/E") contain no ":", so the key of a name that
// itself contains ":" is still unambiguous.
//
// # Atomicity
//
// A Put reads the current record, seals the new value for the next version,
// and commits with a Lua script that re-checks the version, writes the record,
// pushes and trims the history, indexes the name and publishes the
// invalidation — all or nothing. A changed version makes a CAS Put fail with
// ErrConflict and a plain Put retry. GetMany and RunView resolution are one
// MGET: one round trip whatever the number of names or scopes.
//
// A Redis that is down or goes away mid-operation yields ErrUnavailable; as
// every write is one atomic script or MULTI, a failed write leaves the
// previous state intact.
package redis
