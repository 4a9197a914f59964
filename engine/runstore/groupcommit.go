package runstore

import (
	"sync"
	"time"
)

// groupCommit merges the writes of concurrent callers: one caller at a time
// (the leader) commits everything queued in one transaction (bolt) or one
// round trip (Redis), so N concurrent runs pay one commit per batch instead
// of N.
//
// A caller alone never waits for company: it leads at once and its batch is
// itself. When several runs write concurrently, a leader that finds fewer
// writers queued than keep writing (wrote at least twice in the last four
// batches) waits for them a little, at most half the duration of the
// previous commit: otherwise the runs settle into two halves that
// alternate, each committing while the other prepares its next write, and
// every commit carries half of them. Writers that wrote once (a run whose
// next write is far off) and those not expected back soon (a run that was
// archived, a signal, a lease renewal) are not waited for.
type groupCommit[T any] struct {
	mu        sync.Mutex
	queue     []*commitReq[T]
	leading   bool
	gathering bool
	arrived   chan struct{}
	// active is how many writers keep writing (the leader waits for that
	// many); recent are the last batches; lastDur is how long the last
	// commit took.
	active   int
	recent   [][]*commitReq[T]
	lastDur  time.Duration
	maxDelay time.Duration // maxGroupDelay when 0
}

type commitReq[T any] struct {
	op T
	// key names the writer (a run id): requests with the same key come
	// from one writer.
	key string
	// once says the writer is not expected to write again soon.
	once bool
	size int
	done chan error
	lead chan struct{}
}

// maxGroupDelay caps how long a leader waits for the other writers.
const maxGroupDelay = 2 * time.Millisecond

func newReq[T any](key string, once bool, size int, op T) *commitReq[T] {
	return &commitReq[T]{op: op, key: key, once: once, size: size, done: make(chan error, 1), lead: make(chan struct{}, 1)}
}

// do queues req and returns its result. run commits a batch and sends each
// request's result on its done channel.
func (g *groupCommit[T]) do(run func([]*commitReq[T]), req *commitReq[T]) error {
	g.mu.Lock()
	g.queue = append(g.queue, req)
	if g.gathering {
		select {
		case g.arrived <- struct{}{}:
		default:
		}
	}
	if g.leading {
		g.mu.Unlock()
		select {
		case err := <-req.done:
			return err
		case <-req.lead:
		}
		g.mu.Lock()
	}
	g.leading = true
	g.gatherLocked()
	batch := g.queue
	g.queue = nil
	g.mu.Unlock()
	start := time.Now()
	run(batch)
	dur := time.Since(start)
	g.mu.Lock()
	g.lastDur = dur
	if len(g.recent) == recentBatches {
		g.recent = append(g.recent[:0], g.recent[1:]...)
	}
	g.recent = append(g.recent, batch)
	g.active = writers(g.recent)
	if len(g.queue) > 0 {
		// The next waiter leads; this caller returns with its result.
		g.queue[0].lead <- struct{}{}
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	return <-req.done
}

// gatherLocked waits, with g.mu held on entry and on return, until as many
// writers are queued as were active, or the delay passed.
func (g *groupCommit[T]) gatherLocked() {
	if g.active <= 1 || len(g.queue) >= g.active {
		return
	}
	limit := maxGroupDelay
	if g.maxDelay > 0 {
		limit = g.maxDelay
	}
	delay := min(g.lastDur/2, limit)
	if delay <= 0 {
		return
	}
	if g.arrived == nil {
		g.arrived = make(chan struct{}, 1)
	}
	timer := time.NewTimer(delay)
	defer timer.Stop()
	g.gathering = true
	for len(g.queue) < g.active {
		g.mu.Unlock()
		select {
		case <-g.arrived:
			g.mu.Lock()
		case <-timer.C:
			g.mu.Lock()
			g.gathering = false
			return
		}
	}
	g.gathering = false
}

// recentBatches is how many batches writers are counted over.
const recentBatches = 4

// writers counts the distinct writers that wrote at least twice in batches
// and are expected back.
func writers[T any](batches [][]*commitReq[T]) int {
	type seen struct {
		n    int
		once bool
	}
	by := map[string]seen{}
	for _, batch := range batches {
		for _, r := range batch {
			w := by[r.key]
			w.n++
			w.once = w.once || r.once
			by[r.key] = w
		}
	}
	n := 0
	for _, w := range by {
		if w.n >= 2 && !w.once {
			n++
		}
	}
	return n
}
