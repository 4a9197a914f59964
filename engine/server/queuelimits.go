package server

import (
	"time"
)

// Task definition limits, enforced when a worker polls, as Conductor's
// ExecutionService.poll does: a task whose definition's concurrentExecLimit
// is reached (its tasks IN_PROGRESS with workers, RedisExecutionDAO.
// exceedsLimit) or whose rateLimitPerFrequency is spent within the last
// rateLimitFrequencyInSeconds (polls handed out, RedisRateLimitingDAO) is
// not handed out: it stays in its queue, in its place, and a later poll
// takes it once a task of its definition ends or the window moves on. The
// engine does not hold remote tasks back itself (engine.WithRemoteLimits):
// a task waits SCHEDULED in the queue, visible to queue sizes, and a
// domain nobody polls does not hold another domain's tasks back.
//
// In memory the counts are this process's; with a shared queue they are
// kept in Redis for every process (sharedqueue.go's claim script), so the
// limits hold for the cluster.

// limitRecheck is how often a poll whose tasks are all held back by their
// limits looks again (a window moving on wakes nobody).
const limitRecheck = 100 * time.Millisecond

// pollLimits is what the in-memory queue counts (guarded by queue.mu).
type pollLimits struct {
	inProgress map[string]map[string]bool // definition → ids of tasks a worker holds
	polls      map[string][]time.Time     // definition → hand-outs within its window
}

// admitLocked reports whether d may be handed out now under its
// definition's limits, and counts it when it may. A task a worker already
// holds (an IN_PROGRESS update put it back) keeps its place in the count.
func (q *queue) admitLocked(d *delivery, now time.Time) bool {
	l := &q.limits
	name, limit := d.t.Name, d.t.ConcurrentExecLimit
	if limit > 0 && !l.inProgress[name][d.id] && len(l.inProgress[name]) >= limit {
		return false
	}
	rate, freq := d.t.RateLimitPerFrequency, d.t.RateLimitFrequencyInSeconds
	if rate > 0 && freq > 0 {
		window := time.Duration(freq) * time.Second
		s := l.polls[name]
		for len(s) > 0 && !s[0].Add(window).After(now) {
			s = s[1:]
		}
		if len(s) >= rate {
			l.polls[name] = s
			return false
		}
		if l.polls == nil {
			l.polls = map[string][]time.Time{}
		}
		l.polls[name] = append(s, now)
	}
	if limit > 0 {
		if l.inProgress == nil {
			l.inProgress = map[string]map[string]bool{}
		}
		if l.inProgress[name] == nil {
			l.inProgress[name] = map[string]bool{}
		}
		l.inProgress[name][d.id] = true
	}
	return true
}

// releaseLocked drops d from its definition's count (its attempt ended)
// and wakes its queue's polls.
func (q *queue) releaseLocked(d *delivery) {
	set := q.limits.inProgress[d.t.Name]
	if !set[d.id] {
		return
	}
	delete(set, d.id)
	if len(set) == 0 {
		delete(q.limits.inProgress, d.t.Name)
	}
	q.wakeLocked(d.queue)
}

// takeLocked takes up to count tasks of queue qn that their limits let
// out, in queue order; held reports that tasks were left for their limits.
func (q *queue) takeLocked(qn string, count int, now time.Time) (out []*delivery, held bool) {
	list := q.pending[qn]
	keep := list[:0:0]
	for _, d := range list {
		if len(out) < count && q.admitLocked(d, now) {
			out = append(out, d)
			continue
		}
		held = held || len(out) < count
		keep = append(keep, d)
	}
	if len(out) > 0 {
		q.pending[qn] = keep
	}
	return out, held
}
