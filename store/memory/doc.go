// Package memory is the in-memory backend of the secret store: the store's
// barrier (store.Barrier) over a map. It is the plainest Storage, for tests
// and embedding programs that load secrets at start-up; its records are
// sealed under a random key that lives as long as the store.
package memory
