package redis_test

import (
	"context"
	"encoding/json"
	"errors"
	"maps"
	"strings"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/store"
	"github.com/wfrun/wfrun/store/redis"
)

// writeOldFormat writes secrets the way wfrun wrote them before the barrier:
// a record with clear metadata per secret, its history list, a sorted set of
// names per scope and the set of scopes, all under {prefix}.
func writeOldFormat(t *testing.T, c goredis.UniversalClient, prefix string, secrets map[string][]string) {
	t.Helper()
	ctx := context.Background()
	tag := "{" + prefix + "}"
	for scope, names := range secrets {
		if err := c.SAdd(ctx, tag+":scopes", scope).Err(); err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			rec, _ := json.Marshal(map[string]any{"name": name, "version": 1, "scope": scope,
				"createdAt": "2026-11-01T10:00:00Z", "value": map[string]string{"kid": "3f2a9c1e", "ct": "c2VhbGVk"}})
			if err := c.Set(ctx, tag+":s:"+scope+":"+name, rec, 0).Err(); err != nil {
				t.Fatal(err)
			}
			if err := c.LPush(ctx, tag+":h:"+scope+":"+name, rec).Err(); err != nil {
				t.Fatal(err)
			}
			if err := c.ZAdd(ctx, tag+":i:"+scope, goredis.Z{Member: name}).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// A prefix holding secrets of the earlier format is refused with one line
// that says what to do, and opening it writes nothing; a prefix with no old
// secret left, or another prefix, opens.
func TestOldFormatRefused(t *testing.T) {
	addr := redistest.Start(t)
	c := client(addr)
	t.Cleanup(func() { _ = c.Close() })
	ctx := context.Background()

	writeOldFormat(t, c, "old", map[string][]string{"o": {"api_token", "db"}, "p/shop": {"aws"}})
	before := allKeys(t, c)
	_, err := redis.New(client(addr), ring(t), redis.WithPrefix("old"))
	if !errors.Is(err, redis.ErrOldFormat) {
		t.Fatalf("old format opened: %v", err)
	}
	for _, want := range []string{"3 secret(s) under {old}:s:*", "earlier wfrun", "?prefix=NAME", "{old}:scopes"} {
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("error %q lacks %q (or is not one line)", err, want)
		}
	}
	if after := allKeys(t, c); !maps.Equal(before, after) {
		t.Fatalf("opening an old-format prefix changed Redis:\nbefore %v\nafter  %v", before, after)
	}

	// A store already written in the new format under a prefix that also
	// holds old secrets is refused too: the old ones would be hidden.
	newStore := redis.WithPrefix("both")
	s, err := redis.New(client(addr), ring(t), newStore)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Put(ctx, &store.Secret{Name: "kept", Value: json.RawMessage(`"both-new-value"`)}); err != nil {
		t.Fatal(err)
	}
	_ = s.Close()
	writeOldFormat(t, c, "both", map[string][]string{"o": {"legacy"}})
	if _, err := redis.New(client(addr), ring(t), newStore); !errors.Is(err, redis.ErrOldFormat) || !strings.Contains(err.Error(), "1 secret(s)") {
		t.Fatalf("old keys beside new ones: %v", err)
	}

	// Old bookkeeping with every secret deleted: nothing to lose.
	if err := c.SAdd(ctx, "{emptied}:scopes", "o", "p/shop").Err(); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"emptied", "other"} {
		s, err := redis.New(client(addr), ring(t), redis.WithPrefix(prefix))
		if err != nil {
			t.Fatalf("prefix %s: %v", prefix, err)
		}
		_ = s.Close()
	}
}

// On Cluster the check is one slot's keys: no CROSSSLOT.
func TestOldFormatRefusedOnCluster(t *testing.T) {
	srv := redistest.StartServer(t, redistest.Cluster())
	newClient := func() goredis.UniversalClient {
		return goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: []string{srv.Addr()}})
	}
	c := newClient()
	t.Cleanup(func() { _ = c.Close() })
	writeOldFormat(t, c, "wfrun", map[string][]string{"o": {"api_token"}, "e/shop/prod": {"db"}})
	if _, err := redis.New(newClient(), ring(t)); !errors.Is(err, redis.ErrOldFormat) || !strings.Contains(err.Error(), "2 secret(s) under {wfrun}:s:*") {
		t.Fatalf("old format on Cluster: %v", err)
	}
}
