package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/memory"
)

func Example() {
	ctx := context.Background()
	s := memory.New()
	defer s.Close()
	v1, _ := s.Put(ctx, &store.Secret{Name: "api_token", Value: json.RawMessage(`"t-1"`)})
	// Compare-and-swap: only replace the version we read.
	_, err := s.Put(ctx, &store.Secret{Name: "api_token", Value: json.RawMessage(`"t-2"`)}, store.IfVersion(v1.Version))
	fmt.Println(err)
	_, err = s.Put(ctx, &store.Secret{Name: "api_token", Value: json.RawMessage(`"t-3"`)}, store.IfVersion(v1.Version))
	fmt.Println(errors.Is(err, store.ErrConflict))
	got, _ := s.Get(ctx, "api_token")
	fmt.Println(got.Version, string(got.Value))
	// Output:
	// <nil>
	// true
	// 2 "t-2"
}

func ExampleWithAccess() {
	ctx := context.Background()
	s := memory.New()
	_, _ = s.Put(ctx, &store.Secret{Name: "captain:abc", Value: json.RawMessage(`"x"`)})
	_, _ = s.Put(ctx, &store.Secret{Name: "deploy/key", Value: json.RawMessage(`"y"`), Tags: map[string]string{"env": "prod"}})
	reader := store.WithAccess(s, store.Principal{Name: "ci", Scopes: []string{"secrets:get:captain:*", "secrets:get:tag:env=prod"}})
	_, err := reader.Get(ctx, "captain:abc")
	fmt.Println(err)
	_, err = reader.Get(ctx, "deploy/key") // through the tag grant
	fmt.Println(err)
	_, err = reader.Get(ctx, "other")
	fmt.Println(err)
	// Output:
	// <nil>
	// <nil>
	// secret "other": forbidden: principal "ci" lacks scope secrets:get:other
}

func ExampleNewRunView() {
	ctx := context.Background()
	s := memory.New()
	prod, _ := store.InScope(s, store.Scope{Project: "shop", Environment: "prod"})
	_, _ = s.Put(ctx, &store.Secret{Name: "db/password", Value: json.RawMessage(`"org-default"`)})
	_, _ = prod.Put(ctx, &store.Secret{Name: "db/password", Value: json.RawMessage(`"prod-only"`)})

	run := store.NewRunView(s, store.LocalPrincipal, "shop", "prod")
	v, _ := run.Secret(ctx, "db/password")
	fmt.Println(string(v))
	dev := store.NewRunView(s, store.LocalPrincipal, "shop", "dev")
	v, _ = dev.Secret(ctx, "db/password")
	fmt.Println(string(v))
	_, err := dev.Secret(ctx, "missing")
	fmt.Println(err)
	// Output:
	// "prod-only"
	// "org-default"
	// secret "missing": secret not found
}

func ExampleParseBundle() {
	b, ok := store.ParseBundle(json.RawMessage(`{"env_vars":[{"name":"DB_USER","value":"u"}],"files":[{"path":"ca.pem","content":"..."}]}`))
	fmt.Println(ok, b.EnvNames(), b.FilePaths())
	// Output: true [DB_USER] [ca.pem]
}

func ExampleRunOf() {
	ctx := store.ForRun(context.Background(), "run-1", "fetch")
	run, task := store.RunOf(ctx)
	fmt.Println(run, task)
	// Output: run-1 fetch
}
