package storetest

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/seal"
)

// Target is one storage under attack: Storage returns a new handle on the
// same storage each time (the test closes none; register cleanups), Dump
// returns every byte the storage holds (the file, or every Redis key's
// content).
type Target struct {
	Storage func(t *testing.T) store.Storage
	Dump    func(t *testing.T) []byte
}

func newRing(t *testing.T, prev ...[]byte) (*seal.Keyring, []byte) {
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

// raw reads the record bytes stored under key.
func raw(t *testing.T, st store.Storage, key string) []byte {
	t.Helper()
	got, err := st.Get(context.Background(), key)
	if err != nil || got[0] == nil {
		t.Fatalf("raw read %s: %v", key, err)
	}
	return got[0]
}

// overwrite writes value under key directly in the storage, as an attacker
// with write access to it would.
func overwrite(t *testing.T, st store.Storage, key string, value []byte) {
	t.Helper()
	if err := st.Commit(context.Background(), nil, []store.Write{{Key: key, Value: value}}); err != nil {
		t.Fatal(err)
	}
}

func wantIntegrity(t *testing.T, what string, err error, secretValues ...string) {
	t.Helper()
	if !errors.Is(err, store.ErrIntegrity) {
		t.Fatalf("%s: error %v, want an integrity error", what, err)
	}
	noLeak(t, err, secretValues...)
}

// RunAttacks edits a backend's raw storage as an attacker with write access
// to it could, and checks that every edit fails to open (an integrity error,
// never another secret's value, an edited tag or a removed expiry), and
// that deleting or rekeying leaves no ciphertext that still decrypts.
func RunAttacks(t *testing.T, newTarget func(t *testing.T) Target) {
	ctx := context.Background()
	put := func(t *testing.T, s store.Store, sec *store.Secret) *store.Secret {
		t.Helper()
		out, err := s.Put(ctx, sec)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}

	t.Run("WholeRecordSubstitution", func(t *testing.T) {
		tg := newTarget(t)
		r, _ := newRing(t)
		s := tg.open(t, r)
		put(t, s, &store.Secret{Name: "alpha", Value: str("value-of-alpha")})
		put(t, s, &store.Secret{Name: "beta", Value: str("value-of-beta")})
		st := s.Storage()
		overwrite(t, st, "c/o/alpha", raw(t, st, "c/o/beta"))
		_, err := s.Get(ctx, "alpha")
		wantIntegrity(t, "beta's record under alpha", err, "value-of-beta", "value-of-alpha")
		found, errs, err := store.GetMany(ctx, s, []string{"alpha", "beta"})
		if err != nil || found["alpha"] != nil || !errors.Is(errs["alpha"], store.ErrIntegrity) || found["beta"] == nil {
			t.Fatalf("GetMany with one substituted record: %v %v %v", found, errs, err)
		}
		// The same name in another scope is another key too.
		put(t, s.InScope(store.Scope{Environment: "prod"}), &store.Secret{Name: "beta", Value: str("prod-beta")})
		overwrite(t, st, "c/o/beta", raw(t, st, "c/e//prod/beta"))
		_, err = s.Get(ctx, "beta")
		wantIntegrity(t, "prod's record under the organization", err, "prod-beta")
	})

	t.Run("TagEdited", func(t *testing.T) {
		tg := newTarget(t)
		r, _ := newRing(t)
		s := tg.open(t, r)
		put(t, s, &store.Secret{Name: "db", Value: str("db-pass"), Tags: map[string]string{"env": "dev"}})
		st := s.Storage()
		rec := raw(t, st, "c/o/db")
		// Metadata is inside the envelope: any edit of the bytes (here the
		// last byte, then one in the middle) breaks authentication.
		for _, i := range []int{len(rec) - 1, len(rec) / 2} {
			edited := bytes.Clone(rec)
			edited[i] ^= 0x01
			overwrite(t, st, "c/o/db", edited)
			_, err := s.Get(ctx, "db")
			wantIntegrity(t, "edited record", err, "db-pass")
		}
		// A record carrying env=prod (another secret's) cannot stand in.
		put(t, s, &store.Secret{Name: "other", Value: str("other-pass"), Tags: map[string]string{"env": "prod"}})
		overwrite(t, st, "c/o/db", raw(t, st, "c/o/other"))
		rv := store.NewRunView(s, store.Principal{Name: "p", Scopes: []string{"secrets:get:tag:env=prod"}}, "", "")
		_, err := rv.Secret(ctx, "db")
		if err == nil {
			t.Fatal("a tag grant read a secret through a substituted record")
		}
		noLeak(t, err, "other-pass", "db-pass")
	})

	t.Run("ExpiresRemovedAndRollback", func(t *testing.T) {
		tg := newTarget(t)
		r, _ := newRing(t)
		s := tg.open(t, r)
		put(t, s, &store.Secret{Name: "tok", Value: str("tok-v1")})
		put(t, s, &store.Secret{Name: "tok", Value: str("tok-v2"), Expires: time.Now().Add(-time.Hour)})
		if _, err := s.Get(ctx, "tok"); !errors.Is(err, store.ErrExpired) {
			t.Fatalf("setup: %v", err)
		}
		st := s.Storage()
		v1 := raw(t, st, "h/o/tok@0000000000000001")
		// History v1 (no expiry) copied over the current record: rollback
		// and "expiry removed" at once.
		overwrite(t, st, "c/o/tok", v1)
		_, err := s.Get(ctx, "tok")
		wantIntegrity(t, "history v1 over current", err, "tok-v1", "tok-v2")
		// v1 copied over the v2 history slot.
		overwrite(t, st, "h/o/tok@0000000000000002", v1)
		_, err = s.History(ctx, "tok", 0)
		wantIntegrity(t, "history v1 over v2", err, "tok-v1", "tok-v2")
	})

	// An older sealed copy of the current record put back under its own
	// key opens (its key is the same): the trail tells it, as it tells a
	// deleted secret put back and a record removed around the store.
	t.Run("CurrentRecordRolledBack", func(t *testing.T) {
		tg := newTarget(t)
		r, _ := newRing(t)
		s := tg.open(t, r)
		put(t, s, &store.Secret{Name: "tok", Value: str("rotated-out-token")})
		st := s.Storage()
		old := raw(t, st, "c/o/tok")
		put(t, s, &store.Secret{Name: "tok", Value: str("current-token")})
		put(t, s, &store.Secret{Name: "gone", Value: str("deleted-value")})
		gone := raw(t, st, "c/o/gone")
		if err := s.Delete(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		put(t, s, &store.Secret{Name: "kept", Value: str("kept-value")})
		if n, err := s.VerifyAudit(ctx); err != nil || n != 5 {
			t.Fatalf("untouched store: %d records, %v", n, err)
		}
		overwrite(t, st, "c/o/tok", old)
		_, err := s.VerifyAudit(ctx)
		wantIntegrity(t, "tok rolled back", err, "rotated-out-token", "current-token")
		if !strings.Contains(err.Error(), `"tok"`) || !strings.Contains(err.Error(), "version 1") {
			t.Fatalf("error does not name the secret and its version: %v", err)
		}
		if err := st.Commit(ctx, nil, []store.Write{{Key: "c/o/tok", Value: nil}}); err != nil {
			t.Fatal(err)
		}
		_, err = s.VerifyAudit(ctx)
		wantIntegrity(t, "tok removed", err, "current-token")
		put(t, s, &store.Secret{Name: "tok", Value: str("current-token-2")})
		overwrite(t, st, "c/o/gone", gone)
		_, err = s.VerifyAudit(ctx)
		wantIntegrity(t, "gone put back", err, "deleted-value")
		if !strings.Contains(err.Error(), `"gone"`) {
			t.Fatalf("error does not name the secret: %v", err)
		}
		if err := st.Commit(ctx, nil, []store.Write{{Key: "c/o/gone", Value: nil}}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.VerifyAudit(ctx); err != nil {
			t.Fatalf("restored: %v", err)
		}
	})

	t.Run("NoCiphertextLeftAfterDelete", func(t *testing.T) {
		tg := newTarget(t)
		r, _ := newRing(t)
		s := tg.open(t, r)
		for i := range 3 {
			put(t, s, &store.Secret{Name: "gone", Value: str("gone-value-" + string(rune('a'+i)))})
		}
		put(t, s, &store.Secret{Name: "kept", Value: str("kept-value")})
		st := s.Storage()
		var old [][]byte
		keys, err := st.List(ctx, "", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if bytes.Contains([]byte(k), []byte("/gone")) {
				old = append(old, raw(t, st, k))
			}
		}
		if len(old) != 4 {
			t.Fatalf("setup: %d records of gone", len(old))
		}
		if err := s.Delete(ctx, "gone"); err != nil {
			t.Fatal(err)
		}
		dump := tg.Dump(t)
		for i, c := range old {
			if bytes.Contains(dump, c[len(c)-32:]) {
				t.Fatalf("record %d of a deleted secret is still in the storage", i)
			}
		}
		if got, err := s.Get(ctx, "kept"); err != nil || string(got.Value) != `"kept-value"` {
			t.Fatalf("other secret after delete: %v", err)
		}
	})

	t.Run("NoOldCiphertextAfterRekey", func(t *testing.T) {
		tg := newTarget(t)
		oldRing, oldKey := newRing(t)
		s := tg.open(t, oldRing)
		for i := range 3 {
			put(t, s, &store.Secret{Name: "r", Value: str("r-value-" + string(rune('a'+i)))})
		}
		put(t, s.InScope(store.Scope{Project: "p"}), &store.Secret{Name: "q", Value: str("q-value")})
		st := s.Storage()
		keys, err := st.List(ctx, "", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		var old [][]byte
		for _, k := range keys {
			if !bytes.HasPrefix([]byte(k), []byte("a/")) { // audit records are not sealed
				old = append(old, raw(t, st, k))
			}
		}
		both, _ := newRing(t, oldKey)
		s2 := tg.open(t, both)
		if _, err := s2.Rekey(ctx); err != nil {
			t.Fatal(err)
		}
		dump := tg.Dump(t)
		for i, c := range old {
			if bytes.Contains(dump, c[len(c)-32:]) {
				t.Fatalf("ciphertext %d under the old key is still in the storage", i)
			}
		}
		// Nothing left opens under the old key alone.
		keys, _ = s2.Storage().List(ctx, "", "", 0)
		for _, k := range keys {
			if bytes.HasPrefix([]byte(k), []byte("a/")) {
				continue
			}
			if _, err := oldRing.Open(raw(t, s2.Storage(), k), []byte("wfrun-record\x00"+k)); err == nil {
				t.Fatalf("%s still decrypts under the old key", k)
			}
		}
		if got, err := s2.Get(ctx, "r"); err != nil || string(got.Value) != `"r-value-c"` {
			t.Fatalf("after rekey: %v", err)
		}
		// The old key alone is now refused at open.
		assertWrongKey(t, tg, oldRing)
	})

	t.Run("NamesNoSecretHoldsAreFingerprinted", func(t *testing.T) { runNameFingerprints(t, newTarget(t)) })
}

// runNameFingerprints checks that a name no secret holds never reaches the
// audit trail in clear (it may be a value typed where a name goes), that
// ReadAudit's name filter still finds its events, under the same key after
// the store is opened again and after a rekey, and that a held name stays
// in clear.
func runNameFingerprints(t *testing.T, tg Target) {
	ctx := context.Background()
	const typed = "Zq7Kp2Lm9Xw4Rt6Yb3Nc" // a value, typed where a name goes
	r, key := newRing(t)
	b := tg.open(t, r)
	s := store.WithAccess(b, store.LocalPrincipal)
	if _, err := s.Put(ctx, &store.Secret{Name: "api_key", Value: str(typed)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(ctx, typed); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get of a missing name: %v", err)
	}
	if _, err := s.History(ctx, typed, 2); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("history of a missing name: %v", err)
	}
	if err := s.Delete(ctx, typed); err != nil {
		t.Fatal(err)
	}
	if _, _, err := store.GetMany(ctx, s, []string{"api_key", typed}); err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(tg.Dump(t), []byte(typed)) {
		t.Fatal("the storage holds a name no secret holds in clear")
	}
	check := func(what string, b *store.Barrier, records int) {
		t.Helper()
		evs, err := b.ReadAudit(ctx, store.AuditFilter{Name: typed})
		if err != nil {
			t.Fatal(err)
		}
		fp := ""
		for _, e := range evs {
			if e.Outcome != store.OutcomeNotFound || !strings.HasPrefix(e.Name, "hmac-sha256:") || (fp != "" && e.Name != fp) {
				t.Fatalf("%s: event %+v: want not-found, one fingerprint", what, e)
			}
			fp = e.Name
		}
		if len(evs) != 4 {
			t.Fatalf("%s: the name filter found %d events, want 4 (get, history, delete, the run-style read)", what, len(evs))
		}
		held, err := b.ReadAudit(ctx, store.AuditFilter{Name: "api_key"})
		if err != nil || len(held) != 2 || held[1].Name != "api_key" {
			t.Fatalf("%s: a held name's events: %+v %v", what, held, err)
		}
		if n, err := b.VerifyAudit(ctx); err != nil || n != records {
			t.Fatalf("%s: verify: %d %v", what, n, err)
		}
	}
	check("first", b, 6)
	check("opened again", tg.open(t, r), 6)
	next, _ := newRing(t, key)
	rk := tg.open(t, next)
	if _, err := rk.Rekey(ctx); err != nil {
		t.Fatal(err)
	}
	check("after rekey", rk, 7) // and the rekey's own record
}

func assertWrongKey(t *testing.T, tg Target, r *seal.Keyring) {
	t.Helper()
	_, err := store.NewBarrier(context.Background(), tg.Storage(t), r)
	if !errors.Is(err, store.ErrWrongKey) {
		t.Fatalf("old key after rekey: %v, want ErrWrongKey", err)
	}
}

func (tg Target) open(t *testing.T, r *seal.Keyring) *store.Barrier {
	t.Helper()
	b, err := store.NewBarrier(context.Background(), tg.Storage(t), r)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
