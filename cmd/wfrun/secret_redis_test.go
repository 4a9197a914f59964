package main

import (
	"context"
	"sort"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/internal/redistest"
)

// TestSecretCLIOnRedisStoresNoPlaintext writes through the CLI with
// WFRUN_STORE=redis://…, then reads every Redis key raw (GET/LRANGE/DUMP).
func TestSecretCLIOnRedisStoresNoPlaintext(t *testing.T) {
	cliEnv(t)
	addr := redistest.Start(t)
	t.Setenv("WFRUN_STORE", "redis://"+addr+"/0")
	mustRun(t, "", "secret", "set", "api_token", "--value", "cli-redis-plain-1")
	mustRun(t, "", "secret", "set", "api_token", "--value", "cli-redis-plain-2", "--tag", "env=prod")
	mustRun(t, "", "secret", "set", "aws", "--json", `{"SECRET_ACCESS_KEY":"cli-redis-plain-3"}`, "--project", "shop")
	if out := mustRun(t, "", "secret", "get", "api_token", "--reveal"); out != "cli-redis-plain-2\n" {
		t.Fatalf("get through redis: %q", out)
	}
	if out := mustRun(t, "", "secret", "ls"); !strings.Contains(out, "api_token") || strings.Contains(out, "cli-redis-plain") {
		t.Fatalf("ls: %s", out)
	}
	ctx := context.Background()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil || len(keys) < 5 {
		t.Fatalf("keys: %v %v", keys, err)
	}
	for _, k := range keys {
		var raw strings.Builder
		raw.WriteString(c.Dump(ctx, k).Val())
		switch c.Type(ctx, k).Val() {
		case "string":
			raw.WriteString(c.Get(ctx, k).Val())
		case "list":
			raw.WriteString(strings.Join(c.LRange(ctx, k, 0, -1).Val(), ""))
		}
		if strings.Contains(raw.String(), "cli-redis-plain") {
			t.Fatalf("redis key %s holds a plaintext value", k)
		}
	}
	out := mustRun(t, "", "secret", "rekey")
	if !strings.Contains(out, "re-encrypted") {
		t.Fatalf("rekey on redis: %s", out)
	}
	if out := mustRun(t, "", "secret", "get", "aws", "--reveal", "--project", "shop"); !strings.Contains(out, "cli-redis-plain-3") {
		t.Fatalf("after rekey: %q", out)
	}
	// Redis down: a clear error, non-zero exit.
	t.Setenv("WFRUN_STORE", "redis://127.0.0.1:1/0")
	_, errOut, code := wfrun(t, "", "secret", "get", "api_token")
	if code != 1 || !strings.Contains(errOut, "secret backend unavailable") {
		t.Fatalf("redis down: %d %s", code, errOut)
	}
}

// A Redis holding secrets of the format before the barrier is refused with
// one line naming the URL (without its password) and what to do; nothing
// is written to it.
func TestSecretCLIRefusesOldRedisFormat(t *testing.T) {
	cliEnv(t)
	addr := redistest.Start(t)
	ctx := context.Background()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	old := `{"name":"api_token","version":1,"scope":"o","value":{"kid":"3f2a9c1e","ct":"c2VhbGVk"}}`
	for _, err := range []error{
		c.SAdd(ctx, "{wfrun}:scopes", "o").Err(),
		c.Set(ctx, "{wfrun}:s:o:api_token", old, 0).Err(),
		c.LPush(ctx, "{wfrun}:h:o:api_token", old).Err(),
		c.ZAdd(ctx, "{wfrun}:i:o", goredis.Z{Member: "api_token"}).Err(),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	keys := func() []string { k, _ := c.Keys(ctx, "*").Result(); sort.Strings(k); return k }
	before := keys()
	t.Setenv("WFRUN_STORE", "redis://:hunter2-redis-pw@"+addr+"/0")
	for _, args := range [][]string{{"secret", "ls"}, {"secret", "set", "x", "--value", "new-value-1"}} {
		out, errOut, code := wfrun(t, "", args...)
		want := "wfrun: open secret store: redis at redis://:xxxxx@" + addr + "/0: old Redis store format: 1 secret(s) under {wfrun}:s:* were written by an earlier wfrun"
		if code != 1 || out != "" || !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 ||
			!strings.Contains(errOut, "?prefix=NAME") || strings.Contains(errOut, "hunter2") {
			t.Fatalf("%v: exit %d, stdout %q, stderr %q; want exit 1 and one line starting %q", args, code, out, errOut, want)
		}
	}
	if after := keys(); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Fatalf("keys changed: %v -> %v", before, after)
	}
	// Another prefix on the same Redis works.
	t.Setenv("WFRUN_STORE", "redis://"+addr+"/0?prefix=wfrun2")
	mustRun(t, "", "secret", "set", "x", "--value", "new-value-1")
	if out := mustRun(t, "", "secret", "get", "x", "--reveal"); out != "new-value-1\n" {
		t.Fatalf("new prefix: %q", out)
	}
}
