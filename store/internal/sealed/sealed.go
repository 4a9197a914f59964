// Package sealed is the at-rest record format shared by the bolt and redis
// backends: a secret's metadata in JSON with its value sealed by
// store/seal, bound to the secret's scope, name and version.
package sealed

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/seal"
)

// Record is what a backend stores for one version of a secret. Only Sealed
// depends on the value, and it is ciphertext.
type Record struct {
	Name        string            `json:"name"`
	Scope       string            `json:"scope"`
	Version     int64             `json:"version"`
	Sealed      []byte            `json:"sealed"`
	Expires     *time.Time        `json:"expires,omitempty"`
	Tags        map[string]string `json:"tags,omitempty"`
	Description string            `json:"description,omitempty"`
	CreatedAt   time.Time         `json:"createdAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
}

// AAD binds a ciphertext to where it belongs, so a value copied onto another
// secret, scope or version does not decrypt.
func AAD(scopeKey, name string, version int64) []byte {
	return []byte("wfrun-secret\x00" + scopeKey + "\x00" + name + "\x00" + strconv.FormatInt(version, 10))
}

// Encode seals s's value and returns the record bytes.
func Encode(ring *seal.Keyring, s *store.Secret) ([]byte, error) {
	sk := s.Scope.Key()
	c, err := ring.Seal(s.Value, AAD(sk, s.Name, s.Version))
	if err != nil {
		return nil, fmt.Errorf("secret %q: %w", s.Name, err)
	}
	r := Record{Name: s.Name, Scope: sk, Version: s.Version, Sealed: c, Tags: s.Tags,
		Description: s.Description, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	if !s.Expires.IsZero() {
		e := s.Expires
		r.Expires = &e
	}
	return json.Marshal(r)
}

// Parse decodes record bytes without decrypting.
func Parse(data []byte) (*Record, error) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("corrupt secret record: %v", err)
	}
	return &r, nil
}

// Meta returns the record's metadata as a Secret without a value.
func (r *Record) Meta() (*store.Secret, error) {
	sc, err := store.ParseScopeKey(r.Scope)
	if err != nil {
		return nil, fmt.Errorf("secret %q: corrupt record: %w", r.Name, err)
	}
	s := &store.Secret{Name: r.Name, Version: r.Version, Tags: r.Tags, Description: r.Description,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt, Scope: sc}
	if r.Expires != nil {
		s.Expires = *r.Expires
	}
	return s, nil
}

// Open returns the secret with its decrypted value.
func (r *Record) Open(ring *seal.Keyring) (*store.Secret, error) {
	s, err := r.Meta()
	if err != nil {
		return nil, err
	}
	pt, err := ring.Open(r.Sealed, AAD(r.Scope, r.Name, r.Version))
	if err != nil {
		return nil, DecryptError(r.Name, err)
	}
	s.Value = pt
	return s, nil
}

// Reseal re-encrypts the record under ring's primary key if needed and
// reports whether it changed.
func (r *Record) Reseal(ring *seal.Keyring) (bool, error) {
	if !ring.NeedsRekey(r.Sealed) {
		return false, nil
	}
	aad := AAD(r.Scope, r.Name, r.Version)
	pt, err := ring.Open(r.Sealed, aad)
	if err != nil {
		return false, DecryptError(r.Name, err)
	}
	c, err := ring.Seal(pt, aad)
	if err != nil {
		return false, err
	}
	r.Sealed = c
	return true, nil
}

// Read decodes record bytes into a Secret following the store rules: an
// expired secret comes back as metadata with ErrExpired and is not decrypted.
func Read(ring *seal.Keyring, data []byte, now time.Time) (*store.Secret, error) {
	r, err := Parse(data)
	if err != nil {
		return nil, err
	}
	meta, err := r.Meta()
	if err != nil {
		return nil, err
	}
	if meta.Expired(now) {
		return meta, fmt.Errorf("secret %q: %w at %s", r.Name, store.ErrExpired, meta.Expires.Format(time.RFC3339))
	}
	return r.Open(ring)
}

// DecryptError explains a value that does not decrypt.
func DecryptError(name string, err error) error {
	switch {
	case errors.Is(err, seal.ErrUnknownKey):
		return fmt.Errorf("secret %q: cannot decrypt: %w; is WFRUN_MASTER_KEY (or master.key) the key this store was written with?", name, err)
	case errors.Is(err, seal.ErrDecrypt):
		return fmt.Errorf("secret %q: cannot decrypt: %w", name, err)
	}
	return fmt.Errorf("secret %q: cannot decrypt: %w", name, err)
}
