package engine

import (
	"context"
	"testing"
)

// TestForkPassesAwaitJoinTurnBeforeCancel: the fork's turn comes (its last
// branch scheduled a task that waits) and, in the same instant, the list's
// context ends (a branch's task failed at once): the JOIN is still due, on
// every try. await alone picks either at random.
func TestForkPassesAwaitJoinTurnBeforeCancel(t *testing.T) {
	for try := range 20000 {
		p := newForkPasses()
		ids := p.enter(-1, 2)
		self := ids[2]
		p.leave(ids[0]) // the first branch scheduled a worker task
		ctx, cancel := context.WithCancel(context.Background())
		got := make(chan error, 1)
		go func() { got <- p.awaitJoin(ctx, self) }()
		// Wait until the fork waits, then hand it the turn and end its
		// context together.
		for {
			p.mu.Lock()
			_, waiting := p.wake[self]
			if waiting {
				p.passLocked(ids[1], true)
				cancel()
				p.mu.Unlock()
				break
			}
			p.mu.Unlock()
		}
		if err := <-got; err != nil {
			t.Fatalf("try %d: the fork's turn came before its context ended: %v", try, err)
		}
	}
}

// TestForkPassesAwaitJoinCancelledBeforeTurn: a context that ends while
// branches have yet to schedule their tasks still stops the wait.
func TestForkPassesAwaitJoinCancelledBeforeTurn(t *testing.T) {
	p := newForkPasses()
	ids := p.enter(-1, 2)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.awaitJoin(ctx, ids[2]); err == nil {
		t.Fatal("awaitJoin returned without its turn")
	}
}
