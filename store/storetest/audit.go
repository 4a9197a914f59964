package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/store"
)

// AuditRewriter replaces a storage's whole audit trail with entries (keys
// "a/<seq hex>", in order), as an attacker with write access could.
type AuditRewriter func(t *testing.T, st store.Storage, entries []store.Write)

// RunAuditTampering checks that VerifyAudit passes on an untouched trail and
// fails, naming the record, after an edit, an insertion or a removal.
func RunAuditTampering(t *testing.T, newTarget func(t *testing.T) Target, rewrite AuditRewriter) {
	ctx := context.Background()
	setup := func(t *testing.T) (*store.Barrier, []store.Write) {
		t.Helper()
		r, _ := newRing(t)
		b := newTarget(t).open(t, r)
		s := store.WithAccess(b, store.LocalPrincipal)
		for i := range 3 {
			if _, err := s.Put(ctx, &store.Secret{Name: "a", Value: str(fmt.Sprintf("audit-value-%d", i))}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := store.WithAccess(b, store.Principal{Name: "nobody"}).Get(ctx, "a"); !errors.Is(err, store.ErrForbidden) {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		if err := s.Delete(ctx, "a"); err != nil {
			t.Fatal(err)
		}
		n, err := b.VerifyAudit(ctx)
		if err != nil || n != 6 {
			t.Fatalf("untouched trail: %d records, %v", n, err)
		}
		evs, err := b.ReadAudit(ctx, store.AuditFilter{Name: "a"})
		if err != nil || len(evs) != 6 || evs[3].Outcome != store.OutcomeDenied || evs[3].Principal != "nobody" || evs[0].Op != store.OpSet || evs[5].Op != store.OpDelete {
			t.Fatalf("trail: %+v %v", evs, err)
		}
		st := b.Storage()
		keys, err := st.List(ctx, "a/", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		got, err := st.Get(ctx, keys...)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range got {
			if strings.Contains(string(v), "audit-value") {
				t.Fatal("an audit record holds a secret value")
			}
		}
		entries := make([]store.Write, len(keys))
		for i, k := range keys {
			entries[i] = store.Write{Key: k, Value: got[i]}
		}
		return b, entries
	}
	edit := func(t *testing.T, data []byte, f func(e *store.AuditEvent), rehash bool) []byte {
		t.Helper()
		var e store.AuditEvent
		if err := json.Unmarshal(data, &e); err != nil {
			t.Fatal(err)
		}
		f(&e)
		if rehash {
			e.Hash = ""
			b, _ := json.Marshal(e)
			sum := sha256.Sum256(b)
			e.Hash = hex.EncodeToString(sum[:])
		}
		out, _ := json.Marshal(e)
		return out
	}
	key := func(seq int) string { return fmt.Sprintf("a/%016x", seq) }
	cases := []struct {
		name   string
		tamper func(t *testing.T, entries []store.Write) []store.Write
		want   string
	}{
		{"EditedOutcome", func(t *testing.T, e []store.Write) []store.Write {
			e[3].Value = edit(t, e[3].Value, func(ev *store.AuditEvent) { ev.Outcome = store.OutcomeAllowed }, false)
			return e
		}, "record 4 "},
		{"EditedAndRehashed", func(t *testing.T, e []store.Write) []store.Write {
			e[3].Value = edit(t, e[3].Value, func(ev *store.AuditEvent) { ev.Principal = "local" }, true)
			return e
		}, "record 5 "},
		{"EditedLastAndRehashed", func(t *testing.T, e []store.Write) []store.Write {
			e[5].Value = edit(t, e[5].Value, func(ev *store.AuditEvent) { ev.Name = "b" }, true)
			return e
		}, "record 6"},
		{"Inserted", func(t *testing.T, e []store.Write) []store.Write {
			forged := edit(t, e[1].Value, func(ev *store.AuditEvent) { ev.Seq = 3 }, true)
			out := append([]store.Write{}, e[:2]...)
			out = append(out, store.Write{Key: key(3), Value: forged})
			for i, w := range e[2:] {
				out = append(out, store.Write{Key: key(4 + i), Value: w.Value})
			}
			return out
		}, "record 3 "},
		{"AppendedAtTheEnd", func(t *testing.T, e []store.Write) []store.Write {
			var last store.AuditEvent
			_ = json.Unmarshal(e[5].Value, &last)
			forged := edit(t, e[5].Value, func(ev *store.AuditEvent) { ev.Seq, ev.Prev = 7, last.Hash }, true)
			return append(e, store.Write{Key: key(7), Value: forged})
		}, "record 7"},
		{"RemovedFromTheMiddle", func(t *testing.T, e []store.Write) []store.Write {
			return append(append([]store.Write{}, e[:2]...), e[3:]...)
		}, "record 3 "},
		{"RemovedFromTheEnd", func(t *testing.T, e []store.Write) []store.Write {
			return e[:5]
		}, "record 5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, entries := setup(t)
			rewrite(t, b.Storage(), c.tamper(t, entries))
			_, err := b.VerifyAudit(ctx)
			if !errors.Is(err, store.ErrAuditBroken) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("verify after %s: %v, want an error naming %q", c.name, err, c.want)
			}
		})
	}
}
