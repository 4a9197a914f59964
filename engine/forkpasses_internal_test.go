package engine

import (
	"context"
	"errors"
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

// TestForkPassesDrain: a stop's drain closes when the last of its members
// in the ring leaves it, and not before; members already out of the ring
// when the fork stops are not waited for; two stops of one fork (two
// branches failing in one pass) each drain; a member whose place a
// nested fork takes has left the ring.
func TestForkPassesDrain(t *testing.T) {
	tests := []struct {
		name   string
		out    []int // members that leave the ring before the stop
		leave  []int // then, one by one; the drain closes after the last
		stops  int
		nested int // a member whose place a nested fork takes (-1: none)
	}{
		{name: "all in the ring", leave: []int{0, 1, 2}, stops: 1, nested: -1},
		{name: "reverse order", leave: []int{2, 1, 0}, stops: 1, nested: -1},
		{name: "some already out", out: []int{1}, leave: []int{0, 2}, stops: 1, nested: -1},
		{name: "all already out", out: []int{0, 1, 2}, stops: 1, nested: -1},
		{name: "two stops", leave: []int{1, 0, 2}, stops: 2, nested: -1},
		{name: "nested fork in place of a member", leave: []int{0, 2}, stops: 1, nested: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newForkPasses()
			ids := p.enter(-1, 3)
			for _, id := range ids[:3] {
				p.started[id] = true // each branch scheduled its first task
			}
			if tt.nested >= 0 {
				p.enter(ids[tt.nested], 2)
			}
			for _, i := range tt.out {
				p.leave(ids[i])
			}
			var drains []<-chan struct{}
			for range tt.stops {
				drains = append(drains, p.stop(ids[:3], false))
			}
			closed := func() bool {
				for _, d := range drains {
					select {
					case <-d:
					default:
						return false
					}
				}
				return true
			}
			for _, m := range tt.leave {
				if closed() {
					t.Fatalf("drained with member %d still in the ring", ids[m])
				}
				p.leave(ids[m])
			}
			if !closed() {
				t.Fatal("not drained once every member left the ring")
			}
			if err := p.await(context.Background(), ids[0]); !errors.Is(err, errForkStopped) {
				t.Fatalf("await of a stopped member: %v, want errForkStopped", err)
			}
		})
	}
}
