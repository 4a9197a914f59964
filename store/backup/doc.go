// Package backup is the file format of `wfrun secret export` and `wfrun
// secret import`: every secret of a store, with its metadata, sealed in one
// file for a backup or a move between backends (bolt to Redis and back).
//
// The file is JSON: a small clear header (format, version, how it is
// sealed, the master key id or the passphrase's key-derivation parameters)
// and the secrets as one AES-256-GCM ciphertext whose associated data is
// that header, so an edited header does not open. It is sealed either under
// the store's master key (any process holding that key, or holding it as a
// previous key, opens it) or under a key derived from a passphrase with
// PBKDF2-HMAC-SHA256 (to move secrets to a store with another master key).
// There is no clear-text form.
package backup
