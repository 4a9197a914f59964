// Package redis is the shared secret store on Redis (single node, Sentinel
// or Cluster through go-redis v9's UniversalClient): the store's barrier
// (store.Barrier) over a Redis Storage. Records are sealed whole — value and
// metadata — with store/seal before they leave the process; Redis only ever
// sees ciphertext and the records' keys.
//
// # Keys
//
// Every key carries the same hash tag, {PREFIX} (default {wfrun}), so all of
// them live in one Cluster slot and one Lua script commits several keys
// atomically on Cluster too:
//
//	{wfrun}:r:<record key>   one sealed record (see store.Storage for record keys)
//	{wfrun}:idx              sorted set of record keys (lexicographic listing)
//	{wfrun}:audit            the audit trail, a stream (entry <seq>-1 per record)
//	{wfrun}:invalidate       pub/sub channel: "<scope key> <name> <version>" on every write
//
// # Atomicity
//
// Every change is one Lua script that checks its conditions (the records the
// barrier read are unchanged) and applies all writes, or none. The barrier
// retries a plain Put that lost a race and reports ErrConflict for a
// compare-and-swap. Deleting and rekeying overwrite or delete the old
// records, so no old ciphertext stays in Redis. GetMany and RunView
// resolution are one MGET; recording the reads in the audit trail is one
// more script call.
//
// A prefix that still holds secrets of the format before the barrier (keys
// {wfrun}:s:…, {wfrun}:h:…, {wfrun}:i:…, {wfrun}:scopes) is refused with
// ErrOldFormat rather than read as an empty store.
//
// Every process sharing a store needs the same master key: opening with
// another one is refused (store.ErrWrongKey) before anything is written.
//
// A Redis that is down or goes away mid-operation yields ErrUnavailable; a
// failed write leaves the previous state intact.
package redis
