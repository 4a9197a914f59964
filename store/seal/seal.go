package seal

import (
	"bufio"
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// KeySize is the size of a master key in bytes (AES-256).
const KeySize = 32

const (
	formatV1  = 1
	nonceSize = 12
	// KeyFileName is the name of the key file under the home directory.
	KeyFileName = "master.key"
	// EnvMasterKey names the environment variable holding the primary key.
	EnvMasterKey = "WFRUN_MASTER_KEY"
	// EnvPreviousKeys names the environment variable holding older keys.
	EnvPreviousKeys = "WFRUN_MASTER_KEY_PREVIOUS"
)

var (
	// ErrDecrypt reports a ciphertext that does not open: wrong master key,
	// associated data that does not match (a value moved to another secret or
	// version), or tampering. It never says which, by design of GCM.
	ErrDecrypt = errors.New("seal: decryption failed (wrong master key, or ciphertext moved or tampered with)")
	// ErrUnknownKey reports a ciphertext sealed under a key id the keyring
	// does not hold.
	ErrUnknownKey = errors.New("seal: ciphertext was sealed under a key this keyring does not hold")
	// ErrMalformed reports bytes that are not a seal ciphertext.
	ErrMalformed = errors.New("seal: malformed ciphertext")
	// ErrBadKey reports a key of the wrong size or encoding.
	ErrBadKey = errors.New("seal: bad master key")
)

type key struct {
	id   string
	aead cipher.AEAD
}

// Keyring seals with its primary key and opens with any key it holds.
// A Keyring is immutable and safe for concurrent use.
type Keyring struct {
	primary key
	byID    map[string]key
}

// Option configures NewKeyring.
type Option func(*options)

type options struct{ previous [][]byte }

// WithPreviousKeys adds keys that open old ciphertexts but never seal.
func WithPreviousKeys(keys ...[]byte) Option {
	return func(o *options) { o.previous = append(o.previous, keys...) }
}

// NewKeyring builds a keyring whose primary key is key (32 bytes).
func NewKeyring(primary []byte, opts ...Option) (*Keyring, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	p, err := newKey(primary)
	if err != nil {
		return nil, err
	}
	k := &Keyring{primary: p, byID: map[string]key{p.id: p}}
	for i, raw := range o.previous {
		pk, err := newKey(raw)
		if err != nil {
			return nil, fmt.Errorf("previous key %d: %w", i+1, err)
		}
		if _, dup := k.byID[pk.id]; !dup {
			k.byID[pk.id] = pk
		}
	}
	return k, nil
}

func newKey(raw []byte) (key, error) {
	if len(raw) != KeySize {
		return key{}, fmt.Errorf("%w: need %d bytes, got %d", ErrBadKey, KeySize, len(raw))
	}
	block, err := aes.NewCipher(raw)
	if err != nil {
		return key{}, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return key{}, fmt.Errorf("%w: %v", ErrBadKey, err)
	}
	return key{id: KeyIDFor(raw), aead: aead}, nil
}

// KeyIDFor returns the key id of a raw key.
func KeyIDFor(raw []byte) string {
	h := sha256.New()
	h.Write([]byte("wfrun-seal-key-id"))
	h.Write(raw)
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// KeyID is the id of the primary key.
func (k *Keyring) KeyID() string { return k.primary.id }

// Seal encrypts plaintext under the primary key, binding aad.
func (k *Keyring) Seal(plaintext, aad []byte) ([]byte, error) {
	return k.AppendSeal(make([]byte, 0, 2+len(k.primary.id)+nonceSize+len(plaintext)+k.primary.aead.Overhead()), plaintext, aad)
}

// AppendSeal is Seal appending the ciphertext to dst, whose spare capacity
// must not overlap plaintext or aad: a caller that seals often (an
// attestation per record written) reuses its buffers.
func (k *Keyring) AppendSeal(dst, plaintext, aad []byte) ([]byte, error) {
	id := k.primary.id
	dst = append(dst, formatV1, byte(len(id)))
	dst = append(dst, id...)
	n := len(dst)
	dst = append(dst, zeroNonce[:]...)
	nonce := dst[n : n+nonceSize]
	if _, err := rand.Read(nonce); err != nil {
		return nil, fmt.Errorf("seal: random nonce: %w", err)
	}
	return k.primary.aead.Seal(dst, nonce, plaintext, aad), nil
}

var zeroNonce [nonceSize]byte

// Open decrypts a ciphertext made by Seal with the same aad.
func (k *Keyring) Open(ciphertext, aad []byte) ([]byte, error) {
	id, nonce, body, err := split(ciphertext)
	if err != nil {
		return nil, err
	}
	kk, ok := k.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w (key id %s; this keyring holds %s)", ErrUnknownKey, id, k.ids())
	}
	pt, err := kk.aead.Open(nil, nonce, body, aad)
	if err != nil {
		return nil, ErrDecrypt
	}
	return pt, nil
}

// KeyIDOf returns the key id a ciphertext was sealed under.
func KeyIDOf(ciphertext []byte) (string, error) {
	id, _, _, err := split(ciphertext)
	return id, err
}

// NeedsRekey reports whether ciphertext was sealed under a key other than the
// primary one.
func (k *Keyring) NeedsRekey(ciphertext []byte) bool {
	id, err := KeyIDOf(ciphertext)
	return err != nil || id != k.primary.id
}

func (k *Keyring) ids() string {
	ids := make([]string, 0, len(k.byID))
	ids = append(ids, k.primary.id+" (primary)")
	for id := range k.byID {
		if id != k.primary.id {
			ids = append(ids, id)
		}
	}
	return strings.Join(ids, ", ")
}

func split(c []byte) (id string, nonce, body []byte, err error) {
	if len(c) < 2 || c[0] != formatV1 {
		return "", nil, nil, ErrMalformed
	}
	n := int(c[1])
	if n == 0 || n > 64 || len(c) < 2+n+nonceSize+16 {
		return "", nil, nil, ErrMalformed
	}
	id = string(c[2 : 2+n])
	nonce = c[2+n : 2+n+nonceSize]
	body = c[2+n+nonceSize:]
	return id, nonce, body, nil
}

// ParseKey decodes a master key written as base64 (standard or URL-safe,
// padded or not) or as 64 hex digits.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if len(s) == 2*KeySize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil {
			if len(b) != KeySize {
				return nil, fmt.Errorf("%w: decodes to %d bytes, need %d", ErrBadKey, len(b), KeySize)
			}
			return b, nil
		}
	}
	// Never echo the input: it may be a real key with a typo.
	return nil, fmt.Errorf("%w: not base64 or hex (expected %d random bytes, e.g. from `openssl rand -base64 32`)", ErrBadKey, KeySize)
}

// EncodeKey encodes a raw key the way key files and WFRUN_MASTER_KEY expect.
func EncodeKey(raw []byte) string { return base64.StdEncoding.EncodeToString(raw) }

// GenerateKey returns a fresh random key.
func GenerateKey() ([]byte, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("seal: generate key: %w", err)
	}
	return b, nil
}

// LoadKeyring returns the keyring from WFRUN_MASTER_KEY (and
// WFRUN_MASTER_KEY_PREVIOUS) when set, else from home/master.key, creating
// that file with a new random key on first use.
func LoadKeyring(home string) (*Keyring, error) {
	return LoadKeyringEnv(home, os.Getenv)
}

// LoadKeyringEnv is LoadKeyring with an explicit environment lookup, so
// callers and tests need not mutate the process environment.
func LoadKeyringEnv(home string, getenv func(string) string) (*Keyring, error) {
	if v := getenv(EnvMasterKey); strings.TrimSpace(v) != "" {
		primary, err := ParseKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", EnvMasterKey, err)
		}
		var prev [][]byte
		for i, p := range strings.Split(getenv(EnvPreviousKeys), ",") {
			if strings.TrimSpace(p) == "" {
				continue
			}
			b, err := ParseKey(p)
			if err != nil {
				return nil, fmt.Errorf("%s entry %d: %w", EnvPreviousKeys, i+1, err)
			}
			prev = append(prev, b)
		}
		return NewKeyring(primary, WithPreviousKeys(prev...))
	}
	if home == "" {
		return nil, errors.New("seal: no home directory for the key file and WFRUN_MASTER_KEY is not set")
	}
	keys, err := readKeyFile(KeyFilePath(home))
	if errors.Is(err, fs.ErrNotExist) {
		raw, gerr := GenerateKey()
		if gerr != nil {
			return nil, gerr
		}
		if werr := createKeyFile(home, raw); werr != nil {
			if !errors.Is(werr, fs.ErrExist) {
				return nil, werr
			}
			// Another process created it first; use theirs.
		}
		keys, err = readKeyFile(KeyFilePath(home))
	}
	if err != nil {
		return nil, err
	}
	// An interrupted rekey may have re-sealed the store under the next key
	// already: keep it readable.
	next, ok, err := ReadNextKey(home)
	if err != nil {
		return nil, err
	}
	if ok {
		keys = append(keys, next)
	}
	return NewKeyring(keys[0], WithPreviousKeys(keys[1:]...))
}

// KeyFilePath is where LoadKeyring keeps the key for home.
func KeyFilePath(home string) string { return filepath.Join(home, KeyFileName) }

func readKeyFile(path string) ([][]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("seal: read key file: %w", err)
	}
	var keys [][]byte
	sc := bufio.NewScanner(bytes.NewReader(data))
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || strings.HasPrefix(s, "#") {
			continue
		}
		k, err := ParseKey(s)
		if err != nil {
			return nil, fmt.Errorf("seal: key file %s line %d: %w", path, line, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("seal: key file %s holds no key", path)
	}
	return keys, nil
}

// createKeyFile creates home/master.key holding raw, or fails with an error
// wrapping fs.ErrExist when it exists. The key is written and synced under a
// temporary name and then linked into place, so another process never reads
// a key file that exists but is still empty (and a crash never leaves one).
func createKeyFile(home string, raw []byte) error {
	// Unlike a rename, a link never replaces a key another process created.
	if err := placeKeyFile(home, EncodeKey(raw)+"\n", os.Link); err != nil {
		return fmt.Errorf("seal: create key file: %w", err)
	}
	return nil
}

// WriteKeyFile atomically replaces home/master.key with keys (first is
// primary), mode 0600. Used by rekey: first with the new key prepended, then,
// once everything is re-encrypted, with the new key alone.
func WriteKeyFile(home string, keys ...[]byte) error {
	if len(keys) == 0 {
		return errors.New("seal: WriteKeyFile needs at least one key")
	}
	var b strings.Builder
	for _, k := range keys {
		if len(k) != KeySize {
			return fmt.Errorf("%w: need %d bytes, got %d", ErrBadKey, KeySize, len(k))
		}
		b.WriteString(EncodeKey(k) + "\n")
	}
	if err := placeKeyFile(home, b.String(), os.Rename); err != nil {
		return fmt.Errorf("seal: write key file: %w", err)
	}
	return nil
}

// placeKeyFile writes content (0600) to a synced temporary file in home and
// puts it at home/master.key with place (os.Link: only if there is none;
// os.Rename: replacing it).
func placeKeyFile(home, content string, place func(from, to string) error) error {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return fmt.Errorf("create home: %w", err)
	}
	tmp, err := os.CreateTemp(home, ".master.key.*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	err = tmp.Chmod(0o600)
	if err == nil {
		_, err = tmp.WriteString(content)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return place(tmp.Name(), KeyFilePath(home))
}

// ReadKeyFile returns the raw keys in home/master.key, primary first.
func ReadKeyFile(home string) ([][]byte, error) { return readKeyFile(KeyFilePath(home)) }

// NextKeyFileName holds the key a rekey is moving the store to, from just
// before the store is re-sealed until the key file is switched to it, so an
// interrupted rekey never strands values under a key kept nowhere.
const NextKeyFileName = "master.key.next"

func nextKeyPath(home string) string { return filepath.Join(home, NextKeyFileName) }

// WriteNextKey writes home/master.key.next (0600), replacing any.
func WriteNextKey(home string, raw []byte) error {
	tmp := home + "/." + NextKeyFileName + ".tmp"
	if err := os.WriteFile(tmp, []byte(EncodeKey(raw)+"\n"), 0o600); err != nil {
		return fmt.Errorf("seal: write %s: %w", NextKeyFileName, err)
	}
	if err := os.Rename(tmp, nextKeyPath(home)); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("seal: write %s: %w", NextKeyFileName, err)
	}
	return nil
}

// ReadNextKey returns the key in home/master.key.next, if there is one.
func ReadNextKey(home string) ([]byte, bool, error) {
	keys, err := readKeyFile(nextKeyPath(home))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return keys[0], true, nil
}

// RemoveNextKey removes home/master.key.next.
func RemoveNextKey(home string) error {
	if err := os.Remove(nextKeyPath(home)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("seal: remove %s: %w", NextKeyFileName, err)
	}
	return nil
}
