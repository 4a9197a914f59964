package backup

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/seal"
)

// FormatName is the header's "format" value.
const FormatName = "wfrun-secrets-export"

// formatVersion is the only version this package reads and writes.
const formatVersion = 1

// How a file is sealed (the header's "sealedWith").
const (
	SealedWithMasterKey  = "master-key"
	SealedWithPassphrase = "passphrase"
)

// PBKDF2 parameters of new files (OWASP's 2023 figure for HMAC-SHA256);
// a file records its own, so they can be raised without breaking old files.
const (
	kdfName       = "pbkdf2-sha256"
	kdfIterations = 600_000
	minIterations = 100_000
	// maxIterations bounds what a file may ask for: an export file is
	// untrusted input, and a hostile count would keep import busy for
	// minutes. Ten times today's figure leaves room to raise it.
	maxIterations = 10 * kdfIterations
	saltSize      = 16
	// MinPassphrase is the shortest passphrase accepted for sealing.
	MinPassphrase = 12
)

var (
	// ErrFormat reports bytes that are not an export file this version reads.
	ErrFormat = errors.New("not a wfrun secrets export file")
	// ErrNeedPassphrase reports a file sealed with a passphrase opened
	// without one.
	ErrNeedPassphrase = errors.New("the export file is sealed with a passphrase")
	// ErrOpen reports a file that does not open: a wrong passphrase or key,
	// or an edited file (GCM does not say which).
	ErrOpen = errors.New("the export file does not open (wrong passphrase or master key, or the file was altered)")
	// ErrWeakPassphrase reports a passphrase too short to seal with.
	ErrWeakPassphrase = fmt.Errorf("passphrase shorter than %d characters", MinPassphrase)
)

// sealIterations is what new files use (tests lower it to minIterations:
// the race detector makes each derivation seconds long).
var sealIterations = kdfIterations

type kdf struct {
	Name       string `json:"name"`
	Iterations int    `json:"iterations"`
	Salt       []byte `json:"salt"`
}

// header is the clear part of a file; its JSON is the associated data of
// the ciphertext.
type header struct {
	Format     string `json:"format"`
	Version    int    `json:"version"`
	SealedWith string `json:"sealedWith"`
	KeyID      string `json:"keyId,omitempty"`
	KDF        *kdf   `json:"kdf,omitempty"`
}

type file struct {
	header
	Data []byte `json:"data"`
}

// Contents is what a file holds once opened.
type Contents struct {
	ExportedAt time.Time       `json:"exportedAt"`
	Secrets    []*store.Secret `json:"secrets"`
	// SealedWith says how the file was sealed.
	SealedWith string `json:"-"`
}

// SealWithKeyring seals secrets under ring's primary key.
func SealWithKeyring(secrets []*store.Secret, ring *seal.Keyring, now time.Time) ([]byte, error) {
	return sealFile(secrets, ring, header{SealedWith: SealedWithMasterKey, KeyID: ring.KeyID()}, now)
}

// SealWithPassphrase seals secrets under a key derived from passphrase.
func SealWithPassphrase(secrets []*store.Secret, passphrase []byte, now time.Time) ([]byte, error) {
	if len([]rune(string(passphrase))) < MinPassphrase {
		return nil, ErrWeakPassphrase
	}
	salt := make([]byte, saltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("backup: random salt: %w", err)
	}
	k := &kdf{Name: kdfName, Iterations: sealIterations, Salt: salt}
	ring, err := k.keyring(passphrase)
	if err != nil {
		return nil, err
	}
	return sealFile(secrets, ring, header{SealedWith: SealedWithPassphrase, KDF: k}, now)
}

func (k *kdf) keyring(passphrase []byte) (*seal.Keyring, error) {
	if k.Name != kdfName || k.Iterations < minIterations || k.Iterations > maxIterations || len(k.Salt) < saltSize {
		return nil, fmt.Errorf("%w: unsupported key derivation %s with %d iterations", ErrFormat, k.Name, k.Iterations)
	}
	raw, err := pbkdf2.Key(sha256.New, string(passphrase), k.Salt, k.Iterations, seal.KeySize)
	if err != nil {
		return nil, fmt.Errorf("backup: derive key: %w", err)
	}
	return seal.NewKeyring(raw)
}

func sealFile(secrets []*store.Secret, ring *seal.Keyring, h header, now time.Time) ([]byte, error) {
	h.Format, h.Version = FormatName, formatVersion
	if secrets == nil {
		secrets = []*store.Secret{}
	}
	plain, err := json.Marshal(Contents{ExportedAt: now.UTC(), Secrets: secrets})
	if err != nil {
		return nil, fmt.Errorf("backup: encode: %w", err)
	}
	aad, err := json.Marshal(h)
	if err != nil {
		return nil, err
	}
	ct, err := ring.Seal(plain, aad)
	clear(plain)
	if err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(file{header: h, Data: ct}, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// Open authenticates and decrypts an export file. A file sealed with the
// master key opens with ring (which may hold it as a previous key); a file
// sealed with a passphrase calls passphrase for it (nil: ErrNeedPassphrase).
func Open(data []byte, ring *seal.Keyring, passphrase func() ([]byte, error)) (*Contents, error) {
	var f file
	if err := json.Unmarshal(data, &f); err != nil || f.Format != FormatName {
		return nil, ErrFormat
	}
	if f.Version != formatVersion {
		return nil, fmt.Errorf("%w: format version %d (this wfrun reads version %d)", ErrFormat, f.Version, formatVersion)
	}
	var open *seal.Keyring
	switch f.SealedWith {
	case SealedWithMasterKey:
		if ring == nil {
			return nil, fmt.Errorf("%w: no master key to open it with", ErrOpen)
		}
		if id, err := seal.KeyIDOf(f.Data); err == nil && id != f.KeyID {
			return nil, ErrOpen
		}
		open = ring
	case SealedWithPassphrase:
		if f.KDF == nil {
			return nil, fmt.Errorf("%w: no key derivation parameters", ErrFormat)
		}
		if passphrase == nil {
			return nil, ErrNeedPassphrase
		}
		p, err := passphrase()
		if err != nil {
			return nil, err
		}
		if open, err = f.KDF.keyring(p); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: sealed with %q", ErrFormat, f.SealedWith)
	}
	aad, err := json.Marshal(f.header)
	if err != nil {
		return nil, err
	}
	plain, err := open.Open(f.Data, aad)
	switch {
	case errors.Is(err, seal.ErrUnknownKey):
		return nil, fmt.Errorf("%w: it is sealed under master key %s, which this process does not hold; set WFRUN_MASTER_KEY (or WFRUN_MASTER_KEY_PREVIOUS) to that key, or export with a passphrase", ErrOpen, f.KeyID)
	case err != nil:
		return nil, ErrOpen
	}
	defer clear(plain)
	var c Contents
	if err := json.Unmarshal(plain, &c); err != nil {
		return nil, fmt.Errorf("%w: the sealed contents do not decode", ErrFormat)
	}
	for i, s := range c.Secrets {
		if s == nil {
			return nil, fmt.Errorf("%w: secret %d is null", ErrFormat, i)
		}
	}
	c.SealedWith = f.SealedWith
	return &c, nil
}
