package runstore

import (
	"context"
	"sync"
	"time"
)

// Presence: a faster liveness signal than a run lease's expiry for
// processes sharing a Redis store. Every owner that holds leases taken
// through a Redis store also keeps a presence key of its own there, with a
// short TTL (presenceTTL) that the store renews every presenceEvery while
// the owner holds a lease taken here (not released, its run not archived)
// and deletes when it is closed. After a failed renewal the store waits
// longer before the next (Redis is away: no dial storm that would keep
// its client failing once Redis is back). Its leases say so (Lease.Presence),
// and a lease whose owner's presence key is gone is taken as a dead
// holder's, whatever its expiry: a process on another host that died (or
// lost Redis) frees its runs after presenceTTL, not after the lease TTL. A
// lease written without presence (an older process) is judged by its
// expiry alone.

// presenceTTL is how long an owner's presence outlives its last renewal;
// presenceEvery how often the store renews it.
var (
	presenceTTL   = 4 * time.Second
	presenceEvery = time.Second
)

// presence keeps the presence keys of the owners that took leases through
// one Redis store.
type presence struct {
	mu     sync.Mutex
	owners map[string]map[string]bool // owner → the runs it holds leases of
	stop   chan struct{}              // closed by close; nil until the first owner
	done   chan struct{}
}

func (r *Redis) presenceKey(owner string) string { return r.key("alive", owner) }

// keepPresence makes sure owner's presence is kept (its key set now, the
// first time).
func (r *Redis) keepPresence(ctx context.Context, owner string) error {
	p := &r.presence
	p.mu.Lock()
	known := p.owners[owner] != nil
	p.mu.Unlock()
	if known {
		return nil
	}
	if err := r.c.Set(ctx, r.presenceKey(owner), "1", presenceTTL).Err(); err != nil {
		return unavailable(err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.owners == nil {
		p.owners = map[string]map[string]bool{}
	}
	if p.owners[owner] == nil {
		p.owners[owner] = map[string]bool{}
	}
	if p.stop == nil {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go r.renewPresence(p.stop, p.done)
	}
	return nil
}

// held records that owner holds (on) or gave up (off) the lease of run
// id; an owner that holds none is no longer renewed.
func (r *Redis) held(owner, id string, on bool) {
	p := &r.presence
	p.mu.Lock()
	defer p.mu.Unlock()
	runs := p.owners[owner]
	switch {
	case runs == nil:
	case on:
		runs[id] = true
	default:
		delete(runs, id)
		if len(runs) == 0 {
			delete(p.owners, owner)
		}
	}
}

// dropRun forgets run id's lease, whoever held it (the run was archived or
// deleted with its lease).
func (r *Redis) dropRun(id string) {
	p := &r.presence
	p.mu.Lock()
	defer p.mu.Unlock()
	for o, runs := range p.owners {
		if runs[id] {
			delete(runs, id)
			if len(runs) == 0 {
				delete(p.owners, o)
			}
		}
	}
}

// renewPresence renews the presence of every owner holding leases until
// stop. After a failure it tries once more just before the keys would
// lapse, then at that pace until Redis answers again.
func (r *Redis) renewPresence(stop, done chan struct{}) {
	defer close(done)
	wait := presenceEvery
	for {
		t := time.NewTimer(wait)
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
		r.presence.mu.Lock()
		owners := make([]string, 0, len(r.presence.owners))
		for o, runs := range r.presence.owners {
			if len(runs) > 0 {
				owners = append(owners, o)
			}
		}
		r.presence.mu.Unlock()
		if len(owners) == 0 {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), presenceEvery)
		pipe := r.c.Pipeline()
		for _, o := range owners {
			pipe.Set(ctx, r.presenceKey(o), "1", presenceTTL)
		}
		// A failure lets the keys lapse, as a death would.
		if _, err := pipe.Exec(ctx); err != nil {
			wait = max(presenceTTL-presenceEvery, presenceEvery)
		} else {
			wait = presenceEvery
		}
		cancel()
	}
}

// closePresence stops renewing and deletes the presence keys: a process
// that stops cleanly is gone at once.
func (r *Redis) closePresence() {
	p := &r.presence
	p.mu.Lock()
	stop, done := p.stop, p.done
	owners := make([]string, 0, len(p.owners))
	for o := range p.owners {
		owners = append(owners, r.presenceKey(o))
	}
	p.stop, p.owners = nil, nil
	p.mu.Unlock()
	if stop == nil {
		return
	}
	close(stop)
	<-done
	ctx, cancel := context.WithTimeout(context.Background(), presenceEvery)
	defer cancel()
	_ = r.c.Del(ctx, owners...).Err()
}

// markLapsed marks the leases (of running runs) whose owner kept a
// presence that is gone.
func (r *Redis) markLapsed(ctx context.Context, leases []*Lease) error {
	var keys []string
	var which []*Lease
	for _, l := range leases {
		if l != nil && l.Presence && l.Owner != "" {
			keys = append(keys, r.presenceKey(l.Owner))
			which = append(which, l)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	vals, err := r.c.MGet(ctx, keys...).Result()
	if err != nil {
		return unavailable(err)
	}
	for i, v := range vals {
		which[i].lapsed = v == nil
	}
	return nil
}
