package runstore

import (
	"context"
	"sync"
	"time"
)

// Presence: a faster liveness signal than a run lease's expiry for
// processes sharing a Redis store. Every owner that takes a lease through
// a Redis store also keeps a presence key of its own there, with a short
// TTL (presenceTTL) that the store renews every presenceEvery while it is
// open, and deletes when it is closed. Its leases say so (Lease.Presence),
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
	owners map[string]bool
	stop   chan struct{} // closed by close; nil until the first owner
	done   chan struct{}
}

func (r *Redis) presenceKey(owner string) string { return r.key("alive", owner) }

// keepPresence makes sure owner's presence is kept (its key set now, the
// first time).
func (r *Redis) keepPresence(ctx context.Context, owner string) error {
	p := &r.presence
	p.mu.Lock()
	known := p.owners[owner]
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
		p.owners = map[string]bool{}
	}
	p.owners[owner] = true
	if p.stop == nil {
		p.stop, p.done = make(chan struct{}), make(chan struct{})
		go r.renewPresence(p.stop, p.done)
	}
	return nil
}

// renewPresence renews the presence of every known owner until stop.
func (r *Redis) renewPresence(stop, done chan struct{}) {
	defer close(done)
	t := time.NewTicker(presenceEvery)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		r.presence.mu.Lock()
		owners := make([]string, 0, len(r.presence.owners))
		for o := range r.presence.owners {
			owners = append(owners, o)
		}
		r.presence.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), presenceEvery)
		pipe := r.c.Pipeline()
		for _, o := range owners {
			pipe.Set(ctx, r.presenceKey(o), "1", presenceTTL)
		}
		_, _ = pipe.Exec(ctx) // a failure lets the key lapse, as a death would
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
