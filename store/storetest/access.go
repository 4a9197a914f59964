package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/store"
)

// runAccess checks the access decorator over a real backend, with the
// Taskcluster test clients' scopes plus tag grants.
func runAccess(t *testing.T, s store.Store) {
	ctx := context.Background()
	mustPut(t, s, &store.Secret{Name: "captain:abc", Value: str("captain-value-1"), Tags: map[string]string{"env": "prod"}})
	mustPut(t, s, &store.Secret{Name: "captain:limited/1", Value: str("limited")})
	mustPut(t, s, &store.Secret{Name: "other", Value: str("other-value-1"), Tags: map[string]string{"env": "prod"}})
	mustPut(t, s, &store.Secret{Name: "dev-thing", Value: str("dev"), Tags: map[string]string{"env": "dev"}})

	write := store.WithAccess(s, store.Principal{Name: "captain-write", Scopes: []string{"secrets:set:captain:*"}})
	read := store.WithAccess(s, store.Principal{Name: "captain-read", Scopes: []string{"secrets:get:captain:*"}})
	limited := store.WithAccess(s, store.Principal{Name: "captain-read-limited", Scopes: []string{"secrets:get:captain:limited/*"}})
	none := store.WithAccess(s, store.Principal{Name: "none"})
	prodReader := store.WithAccess(s, store.Principal{Name: "prod-reader", Scopes: []string{"secrets:get:tag:env=prod", "secrets:set:tag:env=prod"}})

	if _, err := write.Put(ctx, &store.Secret{Name: "captain:abc", Value: str("captain-value-2")}); err != nil {
		t.Fatalf("set allowed key: %v", err)
	}
	_, err := write.Put(ctx, &store.Secret{Name: "some-other-name", Value: str("x")})
	wantErr(t, "set disallowed key", err, store.ErrForbidden)
	_, err = write.Get(ctx, "captain:abc")
	wantErr(t, "get with only set scope", err, store.ErrForbidden)
	if got, err := read.Get(ctx, "captain:abc"); err != nil || string(got.Value) != `"captain-value-2"` {
		t.Fatalf("read-only scope reads: %v", err)
	}
	wantErr(t, "remove with read scope", read.Delete(ctx, "captain:abc"), store.ErrForbidden)
	if _, err := limited.Get(ctx, "captain:limited/1"); err != nil {
		t.Fatalf("limited reads limited: %v", err)
	}
	_, err = limited.Get(ctx, "captain:abc")
	wantErr(t, "limited reads other", err, store.ErrForbidden)
	_, err = none.List(ctx, store.ListOptions{})
	wantErr(t, "list without scope", err, store.ErrForbidden)
	_, err = read.List(ctx, store.ListOptions{})
	wantErr(t, "list with only get", err, store.ErrForbidden)

	// No existence oracle: the same message for an existing and a missing secret.
	_, errExists := none.Get(ctx, "other")
	_, errMissing := none.Get(ctx, "does-not-exist")
	if !errors.Is(errExists, store.ErrForbidden) || !errors.Is(errMissing, store.ErrForbidden) ||
		strings.ReplaceAll(errExists.Error(), "other", "N") != strings.ReplaceAll(errMissing.Error(), "does-not-exist", "N") {
		t.Fatalf("forbidden differs by existence:\n%v\n%v", errExists, errMissing)
	}
	_, e1 := prodReader.Get(ctx, "dev-thing")
	_, e2 := prodReader.Get(ctx, "no-such")
	if !errors.Is(e1, store.ErrForbidden) || !errors.Is(e2, store.ErrForbidden) ||
		strings.ReplaceAll(e1.Error(), "dev-thing", "N") != strings.ReplaceAll(e2.Error(), "no-such", "N") {
		t.Fatalf("tag-grant forbidden differs by existence:\n%v\n%v", e1, e2)
	}
	noLeak(t, errExists, "other-value-1")

	// Tag grants.
	if got, err := prodReader.Get(ctx, "other"); err != nil || string(got.Value) != `"other-value-1"` {
		t.Fatalf("tag grant read: %v", err)
	}
	if _, err := prodReader.Put(ctx, &store.Secret{Name: "other", Value: str("rotated")}); err != nil {
		t.Fatalf("tag grant update: %v", err)
	}
	_, err = prodReader.Put(ctx, &store.Secret{Name: "other", Value: str("x"), Tags: map[string]string{"env": "dev"}})
	wantErr(t, "tag grant dropping its tag", err, store.ErrForbidden)
	_, err = prodReader.Put(ctx, &store.Secret{Name: "brand-new", Value: str("x"), Tags: map[string]string{"env": "prod"}})
	wantErr(t, "tag grant creating", err, store.ErrForbidden)
	wantErr(t, "tag grant retagging", prodReader.SetTags(ctx, "other", map[string]string{"env": "dev"}), store.ErrForbidden)
	found, errs, err := store.GetMany(ctx, prodReader, []string{"other", "captain:abc", "dev-thing"})
	if err != nil || found["other"] == nil || found["captain:abc"] == nil || !errors.Is(errs["dev-thing"], store.ErrForbidden) || found["dev-thing"] != nil {
		t.Fatalf("GetMany through tag grant: %v %v %v", found, errs, err)
	}

	// A run resolves through the same rules.
	rv := store.NewRunView(s, store.Principal{Name: "run", Scopes: []string{"secrets:get:captain:*"}}, "", "")
	if v, err := rv.Secret(ctx, "captain:abc"); err != nil || string(v) != `"captain-value-2"` {
		t.Fatalf("run view read: %s %v", v, err)
	}
	_, err = rv.Secret(ctx, "other")
	wantErr(t, "run view forbidden", err, store.ErrForbidden)
	if !strings.Contains(err.Error(), `"other"`) {
		t.Fatalf("error does not name the secret: %v", err)
	}
	_, err = rv.Put(ctx, "captain:abc", json.RawMessage(`"new"`), -1)
	wantErr(t, "run view put without set", err, store.ErrForbidden)
}

// Seeder returns a read-only store holding exactly the given secrets.
type Seeder func(t *testing.T, secrets map[string]json.RawMessage) store.Store

// RunReadOnly runs the subset of the suite a read-only backend supports:
// reads, GetMany, listing with pagination, invalid names, and ErrReadOnly for
// every write.
func RunReadOnly(t *testing.T, seed Seeder) {
	ctx := context.Background()
	secrets := map[string]json.RawMessage{
		"api_token": json.RawMessage(`"tok-123"`),
		"aws":       json.RawMessage(`{"ACCESS_KEY":"AK","SECRET_ACCESS_KEY":"SK"}`),
		"num":       json.RawMessage(`42`),
	}
	s := seed(t, secrets)
	t.Cleanup(func() { _ = s.Close() })

	t.Run("Get", func(t *testing.T) {
		for n, v := range secrets {
			got, err := s.Get(ctx, n)
			if err != nil || string(got.Value) != string(v) || got.Name != n {
				t.Fatalf("get %s: %s %v", n, got.Value, err)
			}
		}
		_, err := s.Get(ctx, "missing")
		wantErr(t, "missing", err, store.ErrNotFound)
		_, err = s.Get(ctx, "bad name")
		wantErr(t, "bad name", err, store.ErrInvalidName)
	})
	t.Run("GetMany", func(t *testing.T) {
		found, errs, err := store.GetMany(ctx, s, []string{"api_token", "missing"})
		if err != nil || string(found["api_token"].Value) != `"tok-123"` || !errors.Is(errs["missing"], store.ErrNotFound) {
			t.Fatalf("%v %v %v", found, errs, err)
		}
	})
	t.Run("ListPages", func(t *testing.T) {
		var got []string
		tok := ""
		for range 10 {
			p, err := s.List(ctx, store.ListOptions{Limit: 2, ContinuationToken: tok})
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, p.Names...)
			if tok = p.ContinuationToken; tok == "" {
				break
			}
		}
		if strings.Join(got, ",") != "api_token,aws,num" {
			t.Fatalf("list: %v", got)
		}
	})
	t.Run("WritesAreReadOnly", func(t *testing.T) {
		_, err := s.Put(ctx, &store.Secret{Name: "api_token", Value: str("x")})
		wantErr(t, "put", err, store.ErrReadOnly)
		wantErr(t, "delete", s.Delete(ctx, "api_token"), store.ErrReadOnly)
		wantErr(t, "settags", s.SetTags(ctx, "api_token", map[string]string{"a": "b"}), store.ErrReadOnly)
		wantErr(t, "deletetags", s.DeleteTags(ctx, "api_token", "a"), store.ErrReadOnly)
		if got, err := s.Get(ctx, "api_token"); err != nil || string(got.Value) != `"tok-123"` {
			t.Fatal("read-only write changed something")
		}
	})
}
