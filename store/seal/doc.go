// Package seal encrypts small values with AES-256-GCM under a keyring whose
// keys are identified by a short key id carried in every ciphertext.
//
// It is public so that embedders can build bolt and Redis stores and keep
// one keyring across processes. The bolt and Redis secret stores use it, and
// so does the run's secret boundary, to keep _secrets subtrees encrypted at
// rest.
//
// # Ciphertext format
//
//	byte 0      format version (1)
//	byte 1      length L of the key id (1..64)
//	bytes 2..   the key id (L bytes, ASCII)
//	then        a 12-byte random nonce
//	then        the GCM ciphertext and 16-byte tag
//
// The associated data (aad) is not stored: the caller supplies it on both
// Seal and Open. The stores bind each value to its location (scope, name and
// version), so a ciphertext copied to another secret fails to open.
//
// # Keys
//
// A key id is the first 8 bytes of SHA-256("wfrun-seal-key-id" || key), hex
// encoded: stable for a key, and revealing nothing usable about it. A keyring
// has one primary key that seals, and any number of older keys that only
// open, so the master key can be rotated: add the new key as primary, keep the
// old one, re-encrypt everything (wfrun secret rekey), then drop the old key.
//
// LoadKeyring reads the master key from the environment variable
// WFRUN_MASTER_KEY, which holds the 32-byte key encoded as standard or
// URL-safe base64 (padded or not) or as 64 hex digits; a passphrase is not
// accepted, because a weak passphrase would make a weak key.
// WFRUN_MASTER_KEY_PREVIOUS optionally lists older keys, comma separated, in the
// same encoding, for decryption only. Without WFRUN_MASTER_KEY the key comes
// from $home/master.key, created with mode 0600 (directory 0700) holding a
// fresh random key on first use. The file holds one base64 key per line; the
// first line is the primary key, further lines are older keys.
package seal
