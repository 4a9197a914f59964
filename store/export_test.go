package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/store/seal"
)

func newBarrier(t *testing.T) *store.Barrier {
	t.Helper()
	key, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := seal.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	b, err := store.NewBarrier(context.Background(), memory.NewStorage(), ring)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func auditOps(t *testing.T, b *store.Barrier, op string) []store.AuditEvent {
	t.Helper()
	evs, err := b.ReadAudit(context.Background(), store.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var out []store.AuditEvent
	for _, e := range evs {
		if e.Op == op {
			out = append(out, e)
		}
	}
	if _, err := b.VerifyAudit(context.Background()); err != nil {
		t.Fatal(err)
	}
	return out
}

// Export then Import moves every secret of every scope, with its metadata,
// into another store (another key); importing again changes nothing, and a
// changed secret becomes a newer version with exactly the exported tags.
func TestExportImport(t *testing.T) {
	ctx := context.Background()
	src := newBarrier(t)
	shop := store.Scope{Project: "shop"}
	prod := store.Scope{Project: "shop", Environment: "prod"}
	expires := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Millisecond)
	puts := []struct {
		scope store.Scope
		sec   store.Secret
	}{
		{store.Scope{}, store.Secret{Name: "api_token", Value: json.RawMessage(`"tok-export-1"`), Tags: map[string]string{"team": "pay"}, Description: "the API token", Expires: expires}},
		{store.Scope{}, store.Secret{Name: "api_token", Value: json.RawMessage(`"tok-export-2"`)}}, // version 2 keeps tags and description
		{shop, store.Secret{Name: "db", Value: json.RawMessage(`{"user":"app","password":"pw-export"}`)}},
		{prod, store.Secret{Name: "db", Value: json.RawMessage(`"prod-pw-export"`)}},
		{store.Scope{}, store.Secret{Name: "blob", Value: json.RawMessage(`"AAECAw=="`), Encoding: store.EncodingBase64}},
		{store.Scope{}, store.Secret{Name: "gone", Value: json.RawMessage(`"expired-export"`), Expires: time.Now().Add(-time.Hour)}},
	}
	for _, p := range puts {
		sec := p.sec
		if _, err := src.InScope(p.scope).Put(ctx, &sec); err != nil {
			t.Fatal(err)
		}
	}
	got, expired, err := src.Export(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if expired != 1 || len(got) != 4 {
		t.Fatalf("exported %d secrets, %d expired; want 4 and 1", len(got), expired)
	}
	byKey := map[string]*store.Secret{}
	for _, s := range got {
		byKey[s.Scope.Key()+" "+s.Name] = s
	}
	tok := byKey["o api_token"]
	if tok == nil || string(tok.Value) != `"tok-export-2"` || tok.Version != 2 || tok.Tags["team"] != "pay" ||
		tok.Description != "the API token" || !tok.Expires.IsZero() {
		t.Fatalf("exported api_token: %+v", tok)
	}
	if s := byKey["e/shop/prod db"]; s == nil || string(s.Value) != `"prod-pw-export"` || s.Scope != prod {
		t.Fatalf("exported prod db: %+v", s)
	}
	if evs := auditOps(t, src, store.OpExport); len(evs) != 4 {
		t.Fatalf("%d export audit events, want 4", len(evs))
	}

	dst := newBarrier(t)
	// The target already has a db in shop at version 3 with a tag the
	// export does not carry.
	for i := range 3 {
		if _, err := dst.InScope(shop).Put(ctx, &store.Secret{Name: "db", Value: json.RawMessage(`"target-old"`), Tags: map[string]string{"stale": "yes"}}); err != nil {
			t.Fatal(i, err)
		}
	}
	res, err := dst.Import(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	results := map[string]store.ImportResult{}
	for _, r := range res {
		results[r.Scope+" "+r.Name] = r
	}
	want := map[string]store.ImportResult{
		"organization api_token":   {Name: "api_token", Scope: "organization", Version: 1, Result: store.ImportCreated},
		"organization blob":        {Name: "blob", Scope: "organization", Version: 1, Result: store.ImportCreated},
		"project shop db":          {Name: "db", Scope: "project shop", Version: 4, Result: store.ImportUpdated},
		"environment shop/prod db": {Name: "db", Scope: "environment shop/prod", Version: 1, Result: store.ImportCreated},
	}
	if !maps.Equal(results, want) {
		t.Fatalf("import results %v, want %v", results, want)
	}
	for _, s := range got {
		back, err := dst.InScope(s.Scope).Get(ctx, s.Name)
		if err != nil {
			t.Fatal(err)
		}
		if string(back.Value) != string(s.Value) || back.Encoding != s.Encoding || back.Description != s.Description ||
			!back.Expires.Equal(s.Expires) || !maps.Equal(back.Tags, s.Tags) {
			t.Fatalf("imported %s (%s): %+v, exported %+v", s.Name, s.Scope, back, s)
		}
	}
	if h, err := dst.InScope(shop).History(ctx, "db", 10); err != nil || len(h) != 4 || h[0].Version != 4 {
		t.Fatalf("history after import: %d versions, %v", len(h), err)
	}

	again, err := dst.Import(ctx, got)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range again {
		if r.Result != store.ImportUnchanged || r.Version != results[r.Scope+" "+r.Name].Version {
			t.Fatalf("second import: %+v", r)
		}
	}
	evs := auditOps(t, dst, store.OpImport)
	if len(evs) != 8 {
		t.Fatalf("%d import audit events, want 8", len(evs))
	}
	var versions []int64
	for _, e := range evs {
		if e.Name == "db" && e.Scope == "p/shop" {
			versions = append(versions, e.Version)
		}
	}
	if !sort.SliceIsSorted(versions, func(i, j int) bool { return versions[i] < versions[j] }) || len(versions) != 2 || versions[0] != 4 {
		t.Fatalf("import events for shop db: versions %v", versions)
	}
}

func TestImportRefusesBadInputBeforeWriting(t *testing.T) {
	ctx := context.Background()
	dst := newBarrier(t)
	_, err := dst.Import(ctx, []*store.Secret{
		{Name: "fine", Value: json.RawMessage(`"v-1234"`)},
		{Name: "bad name!", Value: json.RawMessage(`"v-5678"`)},
	})
	if err == nil {
		t.Fatal("a bad name was imported")
	}
	if _, err := dst.Get(ctx, "fine"); err == nil {
		t.Fatal("import wrote before checking every secret")
	}
}

// Through access control, exporting needs get on every name and importing
// set on every name; a refusal is audited, an allowed export names the
// principal.
func TestExportImportNeedEveryName(t *testing.T) {
	ctx := context.Background()
	b := newBarrier(t)
	if _, err := b.Put(ctx, &store.Secret{Name: "team/a", Value: json.RawMessage(`"v-team-a"`)}); err != nil {
		t.Fatal(err)
	}
	limited := store.WithAccess(b, store.Principal{Name: "ci", Scopes: []string{"secrets:get:team/*", "secrets:set:team/*"}})
	ex, ok := store.ExporterOf(limited)
	if !ok {
		t.Fatal("an access-checked barrier is not an exporter")
	}
	if _, _, err := ex.Export(ctx); !errors.Is(err, store.ErrForbidden) || !strings.Contains(err.Error(), "secrets:get:*") {
		t.Fatalf("limited export: %v", err)
	}
	if _, err := ex.Import(ctx, []*store.Secret{{Name: "team/a", Value: json.RawMessage(`"v-2"`)}}); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("limited import: %v", err)
	}
	if denied := auditOps(t, b, store.OpExport); len(denied) != 1 || denied[0].Outcome != store.OutcomeDenied || denied[0].Principal != "ci" {
		t.Fatalf("export denial audit: %+v", denied)
	}
	local, _ := store.ExporterOf(store.WithAccess(b, store.LocalPrincipal))
	got, _, err := local.Export(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("local export: %d, %v", len(got), err)
	}
	evs := auditOps(t, b, store.OpExport)
	if last := evs[len(evs)-1]; last.Principal != "local" || last.Outcome != store.OutcomeAllowed || last.Name != "team/a" || last.Version != 1 {
		t.Fatalf("export audit: %+v", last)
	}
}
