package runstore_test

import (
	"context"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine/runstore"
)

// TestKeyClaims: every backend keeps key claims the same way: a key goes
// to the first claimer, stays with it against others, passes to another
// only from the holder named as prev, is released only by its holder, and
// of concurrent claimers exactly one wins.
func TestKeyClaims(t *testing.T) {
	ctx := context.Background()
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			kc, ok := b.open(t).(runstore.KeyClaimer)
			if !ok {
				t.Fatal("the store keeps no key claims")
			}
			claim := func(id, prev, want string) {
				t.Helper()
				holder, at, err := kc.ClaimKey(ctx, "k", id, prev)
				if err != nil || holder != want || at.IsZero() {
					t.Fatalf("ClaimKey(%s, prev %q) = %q %v %v, want %q", id, prev, holder, at, err, want)
				}
			}
			claim("r1", "", "r1")
			claim("r2", "", "r1")
			claim("r2", "r3", "r1") // prev is not the holder
			claim("r2", "r1", "r2") // takeover from the named holder
			if err := kc.ReleaseKey(ctx, "k", "r1"); err != nil {
				t.Fatal(err)
			}
			claim("r4", "", "r2") // r1 no longer held it
			if err := kc.ReleaseKey(ctx, "k", "r2"); err != nil {
				t.Fatal(err)
			}
			claim("r5", "", "r5")
			if h, _, err := kc.ClaimKey(ctx, "other", "o1", ""); err != nil || h != "o1" {
				t.Fatalf("another key: %q %v", h, err)
			}

			var wg sync.WaitGroup
			won := make(chan string, 16)
			for i := range 16 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					id := string(rune('a' + i))
					if h, _, err := kc.ClaimKey(ctx, "race", id, ""); err == nil && h == id {
						won <- id
					}
				}()
			}
			wg.Wait()
			close(won)
			if n := len(won); n != 1 {
				t.Errorf("%d concurrent claimers won", n)
			}
		})
	}
}
