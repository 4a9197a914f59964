package runstore

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type fakeOp struct{}

// commitFor returns a batch runner that takes d per batch (a synchronous
// commit) and records the batch sizes.
func commitFor(d time.Duration, sizes *[]int, mu *sync.Mutex) func([]*commitReq[fakeOp]) {
	return func(batch []*commitReq[fakeOp]) {
		time.Sleep(d)
		mu.Lock()
		*sizes = append(*sizes, len(batch))
		mu.Unlock()
		for _, r := range batch {
			r.done <- nil
		}
	}
}

func TestGroupCommit(t *testing.T) {
	t.Run("a lone writer never waits", func(t *testing.T) {
		var g groupCommit[fakeOp]
		var sizes []int
		var mu sync.Mutex
		run := commitFor(time.Millisecond, &sizes, &mu)
		for i := 0; i < 20; i++ {
			if err := g.do(run, newReq("r1", false, 0, fakeOp{})); err != nil {
				t.Fatal(err)
			}
			if g.active > 1 {
				t.Fatalf("after %d writes of one writer, %d writers are counted active", i+1, g.active)
			}
		}
		// Archived runs and one-off writes are not waited for either.
		for _, key := range []string{"r2", "r3"} {
			if err := g.do(run, newReq(key, true, 0, fakeOp{})); err != nil {
				t.Fatal(err)
			}
		}
		if g.active > 1 {
			t.Fatalf("one-off writes counted as active writers: %d", g.active)
		}
		// Nor are writers that wrote once (their next write is far off).
		for i := 0; i < 8; i++ {
			if err := g.do(run, newReq(fmt.Sprint("w", i), false, 0, fakeOp{})); err != nil {
				t.Fatal(err)
			}
			if g.active > 0 {
				t.Fatalf("writers that wrote once counted active: %d", g.active)
			}
		}
	})
	t.Run("concurrent writers share commits", func(t *testing.T) {
		g := groupCommit[fakeOp]{maxDelay: 50 * time.Millisecond}
		var sizes []int
		var mu sync.Mutex
		run := commitFor(20*time.Millisecond, &sizes, &mu)
		const writers, writes = 8, 10
		var wg sync.WaitGroup
		for w := 0; w < writers; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				for i := 0; i < writes; i++ {
					if err := g.do(run, newReq(fmt.Sprint("r", w), false, 0, fakeOp{})); err != nil {
						t.Error(err)
					}
				}
			}(w)
		}
		wg.Wait()
		// Without waiting for the writers of the previous batch, the
		// writers split into two halves that commit in turn (about 4 a
		// batch); the leader waits for them and most batches carry all.
		if mean := float64(writers*writes) / float64(len(sizes)); mean < 6 {
			t.Fatalf("%d writes took %d commits (%.1f a commit): %v", writers*writes, len(sizes), mean, sizes)
		}
	})
}
