package runstore_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/internal/redistest"
)

// TestRedisLeasePresence: a lease taken through a Redis store is live while
// its owner's store keeps its presence; once that lapses (the owner's
// connection cut, nothing renewed or released) the lease is a dead
// holder's before it expires: GetLease and List show it not live and
// another owner takes it. A store closed cleanly removes its presence at
// once. A lease written without presence is judged by its expiry alone.
func TestRedisLeasePresence(t *testing.T) {
	t.Cleanup(runstore.SetPresence(300*time.Millisecond, 50*time.Millisecond)) // after the stores close
	addr := redistest.Start(t)
	ctx := context.Background()
	open := func() (*runstore.Redis, *redis.Client) {
		c := redis.NewClient(&redis.Options{Addr: addr})
		t.Cleanup(func() { _ = c.Close() })
		return runstore.NewRedis(c), c
	}
	other, _ := open()
	t.Cleanup(func() { _ = other.Close() })
	taker := runstore.NewLease("taker")
	taker.Host = "elsewhere" // not judged by this host's process table
	for _, c := range []struct {
		name string
		end  func(s *runstore.Redis, c *redis.Client)
	}{
		{"connection cut", func(_ *runstore.Redis, c *redis.Client) { _ = c.Close() }},
		{"closed cleanly", func(s *runstore.Redis, _ *redis.Client) { _ = s.Close() }},
	} {
		t.Run(c.name, func(t *testing.T) {
			id := "run-" + c.name
			s, cl := open()
			t.Cleanup(func() { _ = s.Close() }) // stops its renewals
			held := runstore.NewLease("holder-" + c.name)
			held.Host = "elsewhere"
			if err := s.AcquireLease(ctx, id, held, time.Minute); err != nil {
				t.Fatal(err)
			}
			time.Sleep(400 * time.Millisecond) // renewed past its TTL
			if l, ok, err := other.GetLease(ctx, id); err != nil || !ok || !l.Live(time.Now()) {
				t.Fatalf("a kept presence: lease %+v %v %v, want live", l, ok, err)
			}
			if err := other.AcquireLease(ctx, id, taker, time.Minute); !errors.Is(err, runstore.ErrLeased) {
				t.Fatalf("taking a held lease: %v", err)
			}
			c.end(s, cl)
			wait := 400 * time.Millisecond
			if c.name == "closed cleanly" {
				wait = 0
			}
			time.Sleep(wait)
			if l, ok, err := other.GetLease(ctx, id); err != nil || !ok || l.Live(time.Now()) {
				t.Fatalf("after its owner ended: lease %+v %v %v, want not live", l, ok, err)
			}
			if err := other.AcquireLease(ctx, id, taker, time.Minute); err != nil {
				t.Fatalf("taking a dead holder's lease: %v", err)
			}
			if l, _, _ := other.GetLease(ctx, id); l.Owner != "taker" {
				t.Fatalf("lease held by %q", l.Owner)
			}
			_ = other.ReleaseLease(ctx, id, "taker")
		})
	}
	t.Run("no presence", func(t *testing.T) {
		c := redis.NewClient(&redis.Options{Addr: addr})
		defer c.Close()
		old := fmt.Sprintf(`{"owner":"old","pid":1,"host":"elsewhere","heartbeat":1,"expires":%d}`, time.Now().Add(time.Minute).UnixMilli())
		if err := c.Set(ctx, "wfrun:{wfrun-runs}:lease:old-run", old, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		if l, ok, err := other.GetLease(ctx, "old-run"); err != nil || !ok || !l.Live(time.Now()) {
			t.Fatalf("a lease without presence before its expiry: %+v %v %v, want live", l, ok, err)
		}
		if err := other.AcquireLease(ctx, "old-run", taker, time.Minute); !errors.Is(err, runstore.ErrLeased) {
			t.Fatalf("taking it: %v", err)
		}
	})
}
