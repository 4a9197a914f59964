package env_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/env"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/store/storetest"
)

func TestReadOnlyConformance(t *testing.T) {
	storetest.RunReadOnly(t, func(t *testing.T, secrets map[string]json.RawMessage) store.Store {
		environ := []string{"PATH=/bin", "WFRUN_SECRET_=ignored", "WFRUN_SECRETX=ignored"}
		for n, v := range secrets {
			environ = append(environ, env.DefaultPrefix+n+"="+string(v))
		}
		return env.New(env.WithEnviron(environ))
	})
}

func TestValuesAndNames(t *testing.T) {
	ctx := context.Background()
	s := env.New(env.WithPrefix("CONDUCTOR_SECRET_"), env.WithEnviron([]string{
		"CONDUCTOR_SECRET_plain=just text",
		"CONDUCTOR_SECRET_DB_PASSWORD=pw",
		"CONDUCTOR_SECRET_obj={\"a\":1}",
		"CONDUCTOR_SECRET_broken={\"a\":",
		"CONDUCTOR_SECRET_empty=",
	}))
	cases := map[string]string{
		"plain":       `"just text"`,
		"db/password": `"pw"`,
		"obj":         `{"a":1}`,
		"broken":      `"{\"a\":"`,
		"empty":       `""`,
	}
	for name, want := range cases {
		got, err := s.Get(ctx, name)
		if err != nil || string(got.Value) != want {
			t.Errorf("%s: %s %v, want %s", name, got.Value, err, want)
		}
	}
}

func TestLayeredEnvOverMemory(t *testing.T) {
	ctx := context.Background()
	mem := memory.New()
	if _, err := mem.Put(ctx, &store.Secret{Name: "token", Value: json.RawMessage(`"from-file"`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Put(ctx, &store.Secret{Name: "only-file", Value: json.RawMessage(`1`)}); err != nil {
		t.Fatal(err)
	}
	l := store.Layered(env.New(env.WithEnviron([]string{"WFRUN_SECRET_token=from-env"})), mem)
	if got, err := l.Get(ctx, "token"); err != nil || string(got.Value) != `"from-env"` {
		t.Fatalf("env should win: %s %v", got.Value, err)
	}
	if got, err := l.Get(ctx, "only-file"); err != nil || string(got.Value) != `1` {
		t.Fatalf("fallthrough: %v", err)
	}
	// Writes skip the read-only layer.
	if _, err := l.Put(ctx, &store.Secret{Name: "new", Value: json.RawMessage(`2`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := mem.Get(ctx, "new"); err != nil {
		t.Fatalf("write did not reach the writable layer: %v", err)
	}
	p, err := l.List(ctx, store.ListOptions{})
	if err != nil || len(p.Names) != 3 {
		t.Fatalf("merged list: %v %v", p, err)
	}
	found, errs, err := store.GetMany(ctx, l, []string{"token", "only-file", "nope"})
	if err != nil || string(found["token"].Value) != `"from-env"` || found["only-file"] == nil || errs["nope"] == nil {
		t.Fatalf("layered GetMany: %v %v %v", found, errs, err)
	}
}
