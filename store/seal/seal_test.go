package seal

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func mustKey(t *testing.T) []byte {
	t.Helper()
	k, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSealOpenRoundTrip(t *testing.T) {
	k, err := NewKeyring(mustKey(t))
	if err != nil {
		t.Fatal(err)
	}
	pt := []byte(`{"token":"hunter2-plaintext"}`)
	c, err := k.Seal(pt, []byte("o\x00api\x001"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(c, pt) || bytes.Contains(c, []byte("hunter2")) {
		t.Fatal("ciphertext contains plaintext")
	}
	id, err := KeyIDOf(c)
	if err != nil || id != k.KeyID() {
		t.Fatalf("KeyIDOf = %q, %v; want %q", id, err, k.KeyID())
	}
	got, err := k.Open(c, []byte("o\x00api\x001"))
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	c2, _ := k.Seal(pt, nil)
	c3, _ := k.Seal(pt, nil)
	if bytes.Equal(c2, c3) {
		t.Fatal("two seals of the same plaintext are identical: nonce reuse")
	}
}

func TestOpenFailures(t *testing.T) {
	k, _ := NewKeyring(mustKey(t))
	other, _ := NewKeyring(mustKey(t))
	c, _ := k.Seal([]byte("value-one"), []byte("a"))
	tampered := bytes.Clone(c)
	tampered[len(tampered)-1] ^= 1
	cases := []struct {
		name string
		ring *Keyring
		c    []byte
		aad  string
		want error
	}{
		{"swapped aad", k, c, "b", ErrDecrypt},
		{"tampered", k, tampered, "a", ErrDecrypt},
		{"wrong keyring", other, c, "a", ErrUnknownKey},
		{"empty", k, nil, "a", ErrMalformed},
		{"short", k, c[:10], "a", ErrMalformed},
		{"bad version", k, append([]byte{9}, c[1:]...), "a", ErrMalformed},
		{"zero id len", k, append([]byte{1, 0}, c[2:]...), "a", ErrMalformed},
		{"huge id len", k, append([]byte{1, 255}, c[2:]...), "a", ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.ring.Open(tc.c, []byte(tc.aad))
			if !errors.Is(err, tc.want) || got != nil {
				t.Fatalf("Open = %q, %v; want %v", got, err, tc.want)
			}
			if strings.Contains(err.Error(), "value-one") {
				t.Fatal("error leaks plaintext")
			}
		})
	}
	// A keyring forged to carry the right id but the wrong key still fails.
	forged := &Keyring{primary: other.primary, byID: map[string]key{k.KeyID(): other.primary}}
	if _, err := forged.Open(c, []byte("a")); !errors.Is(err, ErrDecrypt) {
		t.Fatalf("wrong key under right id: %v", err)
	}
}

func TestRotationOpensOldCiphertexts(t *testing.T) {
	oldKey, newKey := mustKey(t), mustKey(t)
	oldRing, _ := NewKeyring(oldKey)
	c, _ := oldRing.Seal([]byte("v"), nil)
	ring, err := NewKeyring(newKey, WithPreviousKeys(oldKey))
	if err != nil {
		t.Fatal(err)
	}
	if !ring.NeedsRekey(c) {
		t.Fatal("old ciphertext should need rekey")
	}
	if got, err := ring.Open(c, nil); err != nil || string(got) != "v" {
		t.Fatalf("open old: %q %v", got, err)
	}
	c2, _ := ring.Seal([]byte("v"), nil)
	if ring.NeedsRekey(c2) {
		t.Fatal("fresh ciphertext needs rekey")
	}
}

func TestParseKey(t *testing.T) {
	raw := bytes.Repeat([]byte{0xab}, 32)
	for _, s := range []string{EncodeKey(raw), strings.TrimRight(EncodeKey(raw), "="), strings.Repeat("ab", 32), " " + EncodeKey(raw) + "\n"} {
		got, err := ParseKey(s)
		if err != nil || !bytes.Equal(got, raw) {
			t.Errorf("ParseKey(%q) = %x, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "correct horse battery staple", EncodeKey(raw[:16])} {
		if _, err := ParseKey(s); !errors.Is(err, ErrBadKey) {
			t.Errorf("ParseKey(%q) err = %v, want ErrBadKey", s, err)
		} else if s != "" && strings.Contains(err.Error(), s) {
			t.Errorf("error echoes the key input: %v", err)
		}
	}
}

func TestLoadKeyringCreatesKeyFile0600(t *testing.T) {
	home := filepath.Join(t.TempDir(), "home")
	env := func(string) string { return "" }
	k1, err := LoadKeyringEnv(home, env)
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(KeyFilePath(home))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
	}
	k2, err := LoadKeyringEnv(home, env)
	if err != nil || k2.KeyID() != k1.KeyID() {
		t.Fatalf("second load: %v, id %s vs %s", err, k2.KeyID(), k1.KeyID())
	}
}

// Processes starting at once on a fresh home all end up with the one key
// that was created first: a loader never sees a key file that exists but is
// not written yet.
func TestLoadKeyringConcurrentFirstUse(t *testing.T) {
	env := func(string) string { return "" }
	for round := range 20 {
		home := filepath.Join(t.TempDir(), "home")
		const n = 8
		ids := make([]string, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				k, err := LoadKeyringEnv(home, env)
				if err == nil {
					ids[i] = k.KeyID()
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("round %d, loader %d: %v", round, i, errs[i])
			}
			if ids[i] != ids[0] {
				t.Fatalf("round %d: loaders got keys %s and %s", round, ids[0], ids[i])
			}
		}
		entries, err := os.ReadDir(home)
		if err != nil {
			t.Fatal(err)
		}
		if len(entries) != 1 || entries[0].Name() != KeyFileName {
			t.Fatalf("round %d: home holds %v, want only %s", round, entries, KeyFileName)
		}
	}
}

func TestLoadKeyringFromEnv(t *testing.T) {
	raw, old := mustKey(t), mustKey(t)
	env := map[string]string{EnvMasterKey: EncodeKey(raw), EnvPreviousKeys: EncodeKey(old)}
	home := t.TempDir()
	k, err := LoadKeyringEnv(home, func(s string) string { return env[s] })
	if err != nil {
		t.Fatal(err)
	}
	if k.KeyID() != KeyIDFor(raw) {
		t.Fatal("primary is not WFRUN_MASTER_KEY")
	}
	if _, err := os.Stat(KeyFilePath(home)); !os.IsNotExist(err) {
		t.Fatal("key file created although WFRUN_MASTER_KEY is set")
	}
	env[EnvMasterKey] = "not a key"
	if _, err := LoadKeyringEnv(home, func(s string) string { return env[s] }); !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), EnvMasterKey) {
		t.Fatalf("bad env key: %v", err)
	}
}

func TestWriteKeyFileKeepsOldKeysForDecryption(t *testing.T) {
	home := t.TempDir()
	a, b := mustKey(t), mustKey(t)
	if err := WriteKeyFile(home, b, a); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKeyringEnv(home, func(string) string { return "" })
	if err != nil || k.KeyID() != KeyIDFor(b) {
		t.Fatalf("load: %v", err)
	}
	ra, _ := NewKeyring(a)
	c, _ := ra.Seal([]byte("x"), nil)
	if _, err := k.Open(c, nil); err != nil {
		t.Fatalf("open with previous key from file: %v", err)
	}
	if err := os.WriteFile(KeyFilePath(home), []byte("garbage\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadKeyringEnv(home, func(string) string { return "" }); !errors.Is(err, ErrBadKey) || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("garbage key file: %v", err)
	}
}

func FuzzOpen(f *testing.F) {
	k, _ := NewKeyring(bytes.Repeat([]byte{1}, 32))
	c, _ := k.Seal([]byte("x"), nil)
	f.Add(c)
	f.Add([]byte{1, 16})
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = k.Open(data, nil) // must not panic
	})
}
