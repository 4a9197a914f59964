// Package storetest is the conformance suite of the secret store:
// storetest.Run(t, newStore) runs the barrier's rules over a store (memory,
// bolt, Redis node and Cluster, layered), and RunReadOnly is the subset for
// read-only providers (env, Vault). It encodes the Taskcluster secrets
// service's tested behaviours (set twice, get after update, delete of a
// missing secret is fine, expired secrets read as expired and are left out
// of lists, list pagination with limits and tokens, forbidden without the
// scope) plus wfrun's own: compare-and-swap under 50 concurrent writers,
// tags, history, scopes, names and values at their limits, binary values,
// one model for expired secrets.
//
// RunAttacks and RunAuditTampering play an attacker with write access to a
// backend's raw storage (store.Storage): a record copied under another
// name, scope or version, an edited record, history copied over the
// current version, old ciphertext left after delete or rekey, and an
// audit trail with a record edited, inserted or removed. Every one must
// fail to open or to verify.
//
// Optional capabilities (store.Scoper, store.Sweeper, store.GetManyer,
// store.KeyGetter) are tested when the backend has them.
package storetest
