package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
)

func TestPreviousWithin(t *testing.T) {
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	s := memory.New(memory.WithClock(func() time.Time { return now }))
	if _, err := store.PreviousWithin(ctx, s, "tok", time.Hour, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("absent secret: %v", err)
	}
	put := func(v string) {
		t.Helper()
		if _, err := s.Put(ctx, &store.Secret{Name: "tok", Value: json.RawMessage(`"` + v + `"`)}); err != nil {
			t.Fatal(err)
		}
	}
	put("v1-value")
	if _, err := store.PreviousWithin(ctx, s, "tok", time.Hour, now); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("one version only: %v", err)
	}
	now = now.Add(time.Minute)
	put("v2-value")
	rotated := now
	for _, c := range []struct {
		at   time.Duration
		want error
	}{
		{0, nil},
		{59 * time.Minute, nil},
		{time.Hour, store.ErrExpired}, // the window is [rotation, rotation+grace)
		{2 * time.Hour, store.ErrExpired},
	} {
		prev, err := store.PreviousWithin(ctx, s, "tok", time.Hour, rotated.Add(c.at))
		if !errors.Is(err, c.want) || (c.want == nil && (prev == nil || string(prev.Value) != `"v1-value"` || prev.Version != 1)) {
			t.Fatalf("at +%s: %v %v", c.at, prev, err)
		}
		if err != nil && !strings.Contains(err.Error(), `"tok"`) {
			t.Fatalf("error does not name the secret: %v", err)
		}
	}
	// A third rotation moves the window: v2 is now the previous version.
	now = now.Add(time.Minute)
	put("v3-value")
	prev, err := store.PreviousWithin(ctx, s, "tok", time.Hour, now)
	if err != nil || string(prev.Value) != `"v2-value"` {
		t.Fatalf("after a second rotation: %v %v", prev, err)
	}
}

func TestRunViewPreviousUsesTheResolvedScope(t *testing.T) {
	ctx := context.Background()
	s := memory.New()
	env := store.Scope{Project: "shop", Environment: "prod"}
	view, err := store.InScope(s, env)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{`"env-old"`, `"env-new"`} {
		if _, err := view.Put(ctx, &store.Secret{Name: "tok", Value: json.RawMessage(v)}); err != nil {
			t.Fatal(err)
		}
	}
	// An organization-level secret of the same name is shadowed.
	for _, v := range []string{`"org-old"`, `"org-new"`} {
		if _, err := s.Put(ctx, &store.Secret{Name: "tok", Value: json.RawMessage(v)}); err != nil {
			t.Fatal(err)
		}
	}
	rv := store.NewRunView(s, store.LocalPrincipal, "shop", "prod")
	prev, err := rv.Previous(ctx, "tok", time.Hour, time.Now())
	if err != nil || string(prev.Value) != `"env-old"` {
		t.Fatalf("previous: %v %v", prev, err)
	}
	if _, err := rv.Previous(ctx, "bad name", time.Hour, time.Now()); !errors.Is(err, store.ErrInvalidName) {
		t.Fatalf("invalid name: %v", err)
	}
}
