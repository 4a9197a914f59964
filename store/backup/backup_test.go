package backup_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/backup"
	"github.com/wfrun/wfrun/store/seal"
)

func ring(t testing.TB, prev ...[]byte) (*seal.Keyring, []byte) {
	t.Helper()
	k, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	r, err := seal.NewKeyring(k, seal.WithPreviousKeys(prev...))
	if err != nil {
		t.Fatal(err)
	}
	return r, k
}

var secrets = []*store.Secret{
	{Name: "api_token", Value: json.RawMessage(`"backup-plain-token"`), Tags: map[string]string{"team": "pay"}, Description: "d", Version: 3},
	{Name: "db", Value: json.RawMessage(`{"password":"backup-plain-pw"}`), Scope: store.Scope{Project: "shop", Environment: "prod"}, Expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)},
}

func passphrase(p string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(p), nil }
}

func TestRoundTrip(t *testing.T) {
	r, k := ring(t)
	now := time.Date(2026, 12, 1, 2, 0, 0, 0, time.UTC)
	byKey, err := backup.SealWithKeyring(secrets, r, now)
	if err != nil {
		t.Fatal(err)
	}
	byPass, err := backup.SealWithPassphrase(secrets, []byte("correct horse battery"), now)
	if err != nil {
		t.Fatal(err)
	}
	rotated, _ := ring(t, k) // the export key is now a previous key
	cases := []struct {
		name string
		data []byte
		ring *seal.Keyring
		pass func() ([]byte, error)
		how  string
	}{
		{"master key", byKey, r, nil, backup.SealedWithMasterKey},
		{"previous master key", byKey, rotated, nil, backup.SealedWithMasterKey},
		{"passphrase, any key", byPass, rotated, passphrase("correct horse battery"), backup.SealedWithPassphrase},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, plain := range []string{"backup-plain", "api_token", "team"} {
				if bytes.Contains(tc.data, []byte(plain)) {
					t.Fatalf("the file holds %q in clear:\n%s", plain, tc.data)
				}
			}
			c, err := backup.Open(tc.data, tc.ring, tc.pass)
			if err != nil {
				t.Fatal(err)
			}
			if c.SealedWith != tc.how || !c.ExportedAt.Equal(now) || len(c.Secrets) != 2 {
				t.Fatalf("contents %+v", c)
			}
			a, b := c.Secrets[0], c.Secrets[1]
			if string(a.Value) != `"backup-plain-token"` || a.Tags["team"] != "pay" || a.Description != "d" || a.Version != 3 ||
				b.Scope != secrets[1].Scope || !b.Expires.Equal(secrets[1].Expires) {
				t.Fatalf("secrets %+v %+v", a, b)
			}
		})
	}
}

func TestOpenFailures(t *testing.T) {
	r, _ := ring(t)
	other, _ := ring(t)
	now := time.Now()
	byKey, _ := backup.SealWithKeyring(secrets, r, now)
	byPass, _ := backup.SealWithPassphrase(secrets, []byte("correct horse battery"), now)
	edit := func(data []byte, from, to string) []byte {
		if !bytes.Contains(data, []byte(from)) {
			t.Fatalf("no %q in the file", from)
		}
		return bytes.Replace(data, []byte(from), []byte(to), 1)
	}
	iters := fmt.Sprintf(`"iterations": %d`, backup.SealIterations)
	cases := []struct {
		name string
		data []byte
		ring *seal.Keyring
		pass func() ([]byte, error)
		want error
		msg  string
	}{
		{"not JSON", []byte("hello"), r, nil, backup.ErrFormat, ""},
		{"another JSON", []byte(`{"format":"other"}`), r, nil, backup.ErrFormat, ""},
		{"newer version", edit(byKey, `"version": 1`, `"version": 2`), r, nil, backup.ErrFormat, "format version 2"},
		{"key not held", byKey, other, nil, backup.ErrOpen, "WFRUN_MASTER_KEY"},
		{"header key id edited", edit(byKey, r.KeyID(), other.KeyID()), other, nil, backup.ErrOpen, ""},
		{"wrong passphrase", byPass, r, passphrase("wrong horse battery"), backup.ErrOpen, ""},
		{"no passphrase", byPass, r, nil, backup.ErrNeedPassphrase, ""},
		{"iterations lowered", edit(byPass, iters, fmt.Sprintf(`"iterations": %d`, backup.SealIterations+1)), r, passphrase("correct horse battery"), backup.ErrOpen, ""},
		{"iterations too low", edit(byPass, iters, `"iterations": 1`), r, passphrase("correct horse battery"), backup.ErrFormat, ""},
		// A hostile count is refused before any derivation (this case would
		// take minutes under the race detector otherwise).
		{"iterations too high", edit(byPass, iters, `"iterations": 6000001`), r, passphrase("correct horse battery"), backup.ErrFormat, "6000001 iterations"},
		{"sealing switched", edit(byPass, `"sealedWith": "passphrase"`, `"sealedWith": "master-key"`), r, nil, backup.ErrOpen, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := backup.Open(tc.data, tc.ring, tc.pass)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("err %v, want %v with %q", err, tc.want, tc.msg)
			}
			if strings.Contains(err.Error(), "backup-plain") || strings.Contains(err.Error(), "horse") {
				t.Fatalf("error carries a secret: %v", err)
			}
		})
	}
	if _, err := backup.SealWithPassphrase(secrets, []byte("short"), now); !errors.Is(err, backup.ErrWeakPassphrase) {
		t.Fatalf("short passphrase: %v", err)
	}
}
