// Package storetest is the conformance suite every secret-store backend
// runs: storetest.Run(t, newStore) for read-write backends and RunReadOnly
// for read-only ones. It encodes the Taskcluster secrets service's tested
// behaviours (set twice, get after update, delete of a missing secret is
// fine, expired secrets read as expired and are left out of lists, list
// pagination with limits and tokens, forbidden without the scope) plus
// wfrun's own: compare-and-swap under 50 concurrent writers, tags, history,
// scopes, names and values at their limits.
//
// Optional capabilities (store.Scoper, store.Sweeper, store.GetManyer,
// store.KeyGetter) are tested when the backend has them.
package storetest
