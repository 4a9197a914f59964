package bolt_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/bolt"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/store/storetest"
)

func ring(t testing.TB) *seal.Keyring {
	t.Helper()
	k, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	r, err := seal.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func open(t testing.TB, path string, r *seal.Keyring, opts ...bolt.Option) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path, r, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return open(t, filepath.Join(t.TempDir(), bolt.FileName), ring(t))
	})
}

func TestNoPlaintextOnDisk(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), bolt.FileName)
	s := open(t, path, ring(t))
	values := map[string]string{
		"api_token":  `"plaintext-token-Zq81"`,
		"aws":        `{"ACCESS_KEY":"AKIAPLAINTEXT77","SECRET_ACCESS_KEY":"wJalrPLAINTEXTkey"}`,
		"bundle":     `{"env_vars":[{"name":"DB_PASS","value":"bundle-pass-9x"}],"files":[{"path":"id_rsa","content":"-----BEGIN PLAINTEXT KEY-----"}]}`,
		"scoped/one": `"scoped-plain-value-44"`,
	}
	for n, v := range values {
		for i := range 3 { // history keeps old versions too
			val := json.RawMessage(v)
			if i < 2 {
				val = json.RawMessage(fmt.Sprintf(`"old-%d-%s"`, i, n))
			}
			if _, err := s.Put(ctx, &store.Secret{Name: n, Value: val}); err != nil {
				t.Fatal(err)
			}
		}
	}
	pv := s.InScope(store.Scope{Project: "p", Environment: "e"})
	if _, err := pv.Put(ctx, &store.Secret{Name: "env-level", Value: json.RawMessage(`"env-plain-value-55"`)}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, needle := range []string{"plaintext-token-Zq81", "AKIAPLAINTEXT77", "wJalrPLAINTEXTkey", "bundle-pass-9x", "BEGIN PLAINTEXT KEY", "scoped-plain-value-44", "env-plain-value-55", "old-0-api_token", "old-1-aws"} {
		if bytes.Contains(raw, []byte(needle)) {
			t.Errorf("secrets.db contains plaintext %q", needle)
		}
	}
	if !bytes.Contains(raw, []byte("api_token")) {
		t.Error("sanity: names are expected in the file; is this the right file?")
	}
	st, _ := os.Stat(path)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("secrets.db mode %v, want 0600", st.Mode().Perm())
	}
}

func TestWrongMasterKeyIsAClearError(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), bolt.FileName)
	s := open(t, path, ring(t))
	if _, err := s.Put(ctx, &store.Secret{Name: "x", Value: json.RawMessage(`"v"`)}); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)
	_, err := bolt.Open(path, ring(t))
	if !errors.Is(err, store.ErrWrongKey) || !strings.Contains(err.Error(), "WFRUN_MASTER_KEY") || !strings.Contains(err.Error(), path) {
		t.Fatalf("wrong key: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("opening with the wrong key changed the file")
	}
	// Nothing was lost: the right key still reads it.
	if got, err := s.Get(ctx, "x"); err != nil || string(got.Value) != `"v"` {
		t.Fatalf("after wrong-key read: %v", err)
	}
}

func TestTwoStoresOnOneFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), bolt.FileName)
	r := ring(t)
	a := open(t, path, r, bolt.WithLockTimeout(10*time.Second))
	b := open(t, path, r, bolt.WithLockTimeout(10*time.Second))
	// Alternating, as a long-running `wfrun run` and a `wfrun secret set` do.
	for i := range 5 {
		w, rd := a, b
		if i%2 == 1 {
			w, rd = b, a
		}
		if _, err := w.Put(ctx, &store.Secret{Name: "shared", Value: json.RawMessage(fmt.Sprint(i))}); err != nil {
			t.Fatalf("put %d: %v", i, err)
		}
		got, err := rd.Get(ctx, "shared")
		if err != nil || string(got.Value) != fmt.Sprint(i) {
			t.Fatalf("read %d through the other store: %v %v", i, got, err)
		}
	}
	// Concurrently: each handle takes the file lock in turn; no update is lost.
	var wg sync.WaitGroup
	for _, s := range []*bolt.Store{a, b} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 {
				for {
					cur, err := s.Get(ctx, "shared")
					if err != nil {
						t.Error(err)
						return
					}
					var n int
					_ = json.Unmarshal(cur.Value, &n)
					_, err = s.Put(ctx, &store.Secret{Name: "shared", Value: json.RawMessage(fmt.Sprint(n + 1))}, store.IfVersion(cur.Version))
					if errors.Is(err, store.ErrConflict) {
						continue
					}
					if err != nil {
						t.Error(err)
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	got, err := a.Get(ctx, "shared")
	if err != nil || string(got.Value) != "24" {
		t.Fatalf("after 20 concurrent increments from two stores: %s %v", got.Value, err)
	}
}

func TestLockHeldElsewhereIsUnavailable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), bolt.FileName)
	s := open(t, path, ring(t), bolt.WithLockTimeout(200*time.Millisecond))
	if _, err := s.Put(ctx, &store.Secret{Name: "x", Value: json.RawMessage(`1`)}); err != nil {
		t.Fatal(err)
	}
	holder, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Put(ctx, &store.Secret{Name: "x", Value: json.RawMessage(`2`)})
	if !errors.Is(err, store.ErrUnavailable) || !strings.Contains(err.Error(), "locked by another process") {
		t.Fatalf("put while locked: %v", err)
	}
	holder.Close()
	got, err := s.Get(ctx, "x")
	if err != nil || string(got.Value) != "1" {
		t.Fatalf("after lock released: %v %v", got, err)
	}
}

func TestRekey(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), bolt.FileName)
	oldKey, _ := seal.GenerateKey()
	newKey, _ := seal.GenerateKey()
	oldRing, _ := seal.NewKeyring(oldKey)
	s := open(t, path, oldRing)
	for i := range 3 {
		if _, err := s.Put(ctx, &store.Secret{Name: "r", Value: json.RawMessage(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.InScope(store.Scope{Project: "p"}).Put(ctx, &store.Secret{Name: "q", Value: json.RawMessage(`"q"`)}); err != nil {
		t.Fatal(err)
	}
	both, _ := seal.NewKeyring(newKey, seal.WithPreviousKeys(oldKey))
	n, err := open(t, path, both).Rekey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// current r + 3 history of r + current q + 1 history of q
	if n != 6 {
		t.Fatalf("rekeyed %d values, want 6", n)
	}
	onlyNew, _ := seal.NewKeyring(newKey)
	s2 := open(t, path, onlyNew)
	h, err := s2.History(ctx, "r", 0)
	if err != nil || len(h) != 3 || string(h[2].Value) != "0" {
		t.Fatalf("history under new key only: %v %v", h, err)
	}
	if got, err := s2.InScope(store.Scope{Project: "p"}).Get(ctx, "q"); err != nil || string(got.Value) != `"q"` {
		t.Fatalf("scoped after rekey: %v", err)
	}
	if n, err := open(t, path, onlyNew).Rekey(ctx); err != nil || n != 0 {
		t.Fatalf("second rekey: %d %v", n, err)
	}
}

func TestHistoryRetentionOption(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), bolt.FileName), ring(t), bolt.WithHistory(3))
	for i := range 7 {
		if _, err := s.Put(ctx, &store.Secret{Name: "h", Value: json.RawMessage(fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	h, err := s.History(ctx, "h", 0)
	if err != nil || len(h) != 3 || h[0].Version != 7 || h[2].Version != 5 {
		t.Fatalf("history with retention 3: %v %v", h, err)
	}
}

func TestAttacks(t *testing.T) {
	storetest.RunAttacks(t, func(t *testing.T) storetest.Target {
		path := filepath.Join(t.TempDir(), bolt.FileName)
		return storetest.Target{
			Storage: func(t *testing.T) store.Storage {
				f, err := bolt.OpenFile(path, 5*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				return f
			},
			Dump: func(t *testing.T) []byte {
				b, err := os.ReadFile(path)
				if err != nil {
					t.Fatal(err)
				}
				return b
			},
		}
	})
}

func TestAuditTampering(t *testing.T) {
	target := func(t *testing.T) storetest.Target {
		path := filepath.Join(t.TempDir(), bolt.FileName)
		return storetest.Target{Storage: func(t *testing.T) store.Storage {
			f, err := bolt.OpenFile(path, 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}}
	}
	storetest.RunAuditTampering(t, target, func(t *testing.T, st store.Storage, entries []store.Write) {
		ctx := context.Background()
		old, err := st.List(ctx, "a/", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		var writes []store.Write
		for _, k := range old {
			writes = append(writes, store.Write{Key: k})
		}
		if err := st.Commit(ctx, nil, append(writes, entries...)); err != nil {
			t.Fatal(err)
		}
	})
}

// A file in the format before the barrier is refused, not read as empty.
func TestOldFormatIsRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), bolt.FileName)
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucket([]byte("secrets"))
		if err != nil {
			return err
		}
		_, err = b.CreateBucket([]byte("o"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	db.Close()
	before, _ := os.ReadFile(path)
	_, err = bolt.Open(path, ring(t))
	if !errors.Is(err, bolt.ErrOldFormat) || !strings.Contains(err.Error(), path) {
		t.Fatalf("old format: %v", err)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Fatal("opening an old file changed it")
	}
}
