package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
)

// Name scopes and tag grants are different kinds: a name pattern never
// satisfies a tag requirement.
func TestTagGrantsAreNotNameScopes(t *testing.T) {
	tags := map[string]string{"env": "prod"}
	cases := []struct {
		scope string
		want  bool
	}{
		{"secrets:get:tag:env=prod", true},
		{"secrets:get:tag:env=*", true},
		{"secrets:get:tag:env=pr*", true},
		{"secrets:get:tag:env=dev", false},
		{"secrets:get:t*", false},           // a name prefix
		{"secrets:get:tag:*", false},        // a name prefix ("tag:…" names)
		{"secrets:get:tag:e*", false},       // "*" in the key: a name scope
		{"secrets:*", false},                // names only
		{"*", false},                        // names only
		{"secrets:set:tag:env=prod", false}, // another action
	}
	for _, c := range cases {
		p := store.Principal{Name: "p", Scopes: []string{c.scope}}
		if got := p.CanTags(store.ActionGet, tags); got != c.want {
			t.Errorf("%s: CanTags(get, env=prod) = %v, want %v", c.scope, got, c.want)
		}
	}
}

func TestNamePatternCannotUseTagGrantedSecret(t *testing.T) {
	ctx := context.Background()
	raw := memory.New()
	if _, err := raw.Put(ctx, &store.Secret{Name: "prod/db", Value: json.RawMessage(`"db-pass"`), Tags: map[string]string{"env": "prod"}}); err != nil {
		t.Fatal(err)
	}
	// "secrets:*:t*"-style name patterns do not match "prod/db" and must not
	// act as a grant on its tag.
	p := store.Principal{Name: "attacker", Scopes: []string{"secrets:get:t*", "secrets:set:t*"}}
	s := store.WithAccess(raw, p)
	if _, err := s.Get(ctx, "prod/db"); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("get: %v", err)
	}
	if _, err := s.Put(ctx, &store.Secret{Name: "prod/db", Value: json.RawMessage(`"x"`)}); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("put: %v", err)
	}
	if err := s.Delete(ctx, "prod/db"); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("delete: %v", err)
	}
	if _, err := s.History(ctx, "prod/db", 0); !errors.Is(err, store.ErrForbidden) {
		t.Fatalf("history: %v", err)
	}
	if got, err := raw.Get(ctx, "prod/db"); err != nil || string(got.Value) != `"db-pass"` {
		t.Fatalf("secret changed: %v", err)
	}
}

// History through a tag grant checks each version's own tags.
func TestHistoryChecksEachVersionsTags(t *testing.T) {
	ctx := context.Background()
	raw := memory.New()
	for _, v := range []struct{ val, env string }{{`"v1-prod"`, "prod"}, {`"v2-dev"`, "dev"}, {`"v3-prod"`, "prod"}} {
		if _, err := raw.Put(ctx, &store.Secret{Name: "svc", Value: json.RawMessage(v.val), Tags: map[string]string{"env": v.env}}); err != nil {
			t.Fatal(err)
		}
	}
	s := store.WithAccess(raw, store.Principal{Name: "dev-reader", Scopes: []string{"secrets:get:tag:env=dev"}})
	h, err := s.History(ctx, "svc", 0)
	if err != nil || len(h) != 1 || h[0].Version != 2 || string(h[0].Value) != `"v2-dev"` {
		t.Fatalf("history through env=dev: %v %v", h, err)
	}
	p := store.WithAccess(raw, store.Principal{Name: "prod-reader", Scopes: []string{"secrets:get:tag:env=prod"}})
	h, err = p.History(ctx, "svc", 0)
	if err != nil || len(h) != 2 || h[0].Version != 3 || h[1].Version != 1 {
		t.Fatalf("history through env=prod: %v %v", h, err)
	}
}
