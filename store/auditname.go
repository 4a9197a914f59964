package store

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
)

// Names no secret holds are recorded by fingerprint.
//
// An audit record names the secret an operation was about, in clear: the
// trail is for finding who read what. But a name no secret holds is text
// someone typed, and the text typed where a name goes is, now and then, a
// secret's value pasted in the wrong place (`wfrun secret get <value>`, a
// value pasted as the NAME of ${workflow.secrets.NAME}). The trail would
// keep that value in clear for good. So an event whose outcome is
// not-found records the name as hmac-sha256:<hex>, keyed by a random key
// kept in the trail's sealed head, as Vault's audit devices HMAC what they
// record: ReadAudit's name filter still finds those events (it computes
// the fingerprint of the name asked for), and nobody holding the store
// file without its master key can test guesses against them.

// nameFingerprintPrefix starts a fingerprinted name.
const nameFingerprintPrefix = "hmac-sha256:"

// blindName reports whether e's name is recorded by its fingerprint.
func blindName(e AuditEvent) bool { return e.Name != "" && e.Outcome == OutcomeNotFound }

// nameFingerprint is the fingerprint of name under key: 128 bits of
// HMAC-SHA256, hex.
func nameFingerprint(key []byte, name string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(name))
	return nameFingerprintPrefix + hex.EncodeToString(m.Sum(nil)[:16])
}

func newNameKey() ([]byte, error) {
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, err
	}
	return k, nil
}
