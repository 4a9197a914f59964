package server

import (
	"context"
	"errors"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
)

// Task queues by domain and priority, as Conductor keeps them.
//
// A worker task waits in the queue of its type and domain, named as
// Conductor's QueueUtils names it: "domain:type", or the type alone. A poll
// with ?domain=D takes from D's queue only; a poll without one takes only
// the tasks without a domain. The engine picks a task's domain when it
// schedules it (engine/domains.go), from the poll data kept here: when a
// worker last polled each type in each domain (in Redis with the shared
// queue, so every process sees every poll).
//
// Within a queue, tasks of runs with a priority go first, as Conductor's
// Redis queue (orkes-queues, the one its e2e tests run on) orders them:
// it scores a task ready now by its run's priority when that is 1-99 and
// by the time otherwise, and hands out the lowest score first — so
// priority 1 before 2 … before 99, and runs without a priority (0) after
// all of them. Tasks of one priority go first come, first out.

// queueName is Conductor's QueueUtils.getQueueName (without isolation
// groups or namespaces).
func queueName(taskType, domain string) string {
	if domain == "" {
		return taskType
	}
	return domain + ":" + taskType
}

// rank orders tasks by their run's priority: lower goes first.
func rank(priority int) int {
	if priority > 0 && priority <= engine.MaxPriority {
		return priority
	}
	return engine.MaxPriority + 1
}

// enqueueLocked puts d in its queue after the tasks of its rank (q.mu held)
// and wakes the queue's pollers.
func (q *queue) enqueueLocked(d *delivery) {
	d.queued = true
	list := q.pending[d.queue]
	r := rank(d.t.Priority)
	i := sort.Search(len(list), func(i int) bool { return rank(list[i].t.Priority) > r })
	list = append(list, nil)
	copy(list[i+1:], list[i:])
	list[i] = d
	q.pending[d.queue] = list
	q.wakeLocked(d.queue)
}

type pollKey struct{ taskType, domain string }

// pollInfo is Conductor's PollData: the last poll of a task type in a
// domain, and by whom.
type pollInfo struct {
	at     time.Time
	worker string
}

// notePoll records a poll of taskType in domain now (Conductor records it
// for every poll, whether it gets a task or not).
func (q *queue) notePoll(ctx context.Context, taskType, domain, worker string) {
	if m := q.maskPoll; m != nil {
		// The poll's text, kept and shown (poll data) as the worker id
		// is, masked as it is (pollMasker): a task type or domain a
		// client made of a value the server knows is recorded masked. No
		// queue the engine fills has such a name (a definition holding a
		// value is refused).
		taskType, domain = m(taskType), m(domain)
	} else if q.mask != nil {
		taskType, domain = q.mask(taskType), q.mask(domain)
	}
	p := pollInfo{q.now(), worker}
	q.mu.Lock()
	q.polled[pollKey{taskType, domain}] = p
	q.mu.Unlock()
	if q.shared != nil {
		q.shared.notePoll(context.WithoutCancel(ctx), taskType, domain, p)
	}
}

// pollNoteEvery is how often a poll waiting in the shared queue records
// itself again: a long poll (up to MaxPollWait) keeps its domain active
// for the other processes (engine.ActiveWorkerWindow is 10 s).
const pollNoteEvery = 2 * time.Second

// polling records a poll of taskType in domain by worker that starts now,
// and counts it as waiting until done is called (it records the poll's end
// too, as Conductor records a poll when it returns): a worker waiting in a
// long poll is an active worker of its domain.
func (q *queue) polling(ctx context.Context, taskType, domain, worker string) (done func()) {
	k := pollKey{taskType, domain}
	q.mu.Lock()
	q.waitingPolls[k]++
	q.mu.Unlock()
	q.notePoll(ctx, taskType, domain, worker)
	began := q.now()
	return func() {
		q.mu.Lock()
		if q.waitingPolls[k]--; q.waitingPolls[k] <= 0 {
			delete(q.waitingPolls, k)
		}
		q.mu.Unlock()
		if q.now().Sub(began) >= time.Second {
			// A poll that waited: its end is news (one that returned
			// at once was recorded as it began).
			q.notePoll(ctx, taskType, domain, worker)
		}
	}
}

// domainOf is the domain of queue qn of taskType ("" none).
func domainOf(qn, taskType string) string {
	d, _ := strings.CutSuffix(qn, ":"+taskType)
	if d == qn {
		return ""
	}
	return d
}

// lastPoll is the engine's engine.LastPollFunc: a poll waiting now counts
// as a poll now.
func (q *queue) lastPoll(taskType, domain string) (time.Time, bool) {
	q.mu.Lock()
	last, ok := q.polled[pollKey{taskType, domain}]
	waiting := q.waitingPolls[pollKey{taskType, domain}] > 0
	if waiting {
		last, ok = pollInfo{at: q.now(), worker: last.worker}, true
	}
	q.mu.Unlock()
	if q.shared != nil && !waiting { // a poll waiting here is as recent as any
		if p, found, err := q.shared.pollOf(context.Background(), taskType, domain); err == nil && found && (!ok || p.at.After(last.at)) {
			last, ok = p, true
		}
	}
	return last.at, ok
}

// pollData returns the poll data of taskType by domain ("" none).
func (q *queue) pollData(ctx context.Context, taskType string) (map[string]pollInfo, error) {
	if q.shared != nil {
		return q.shared.pollData(ctx, taskType)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	out := map[string]pollInfo{}
	for k, p := range q.polled {
		if k.taskType == taskType {
			out[k.domain] = p
		}
	}
	return out, nil
}

// pollTypes returns the task types with poll data.
func (q *queue) pollTypes(ctx context.Context) ([]string, error) {
	if q.shared != nil {
		return q.shared.pollTypes(ctx)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for k := range q.polled {
		if !seen[k.taskType] {
			seen[k.taskType] = true
			out = append(out, k.taskType)
		}
	}
	return out, nil
}

// size is the number of tasks in queue qn, as Conductor counts them:
// those waiting for a poll and those a worker put back IN_PROGRESS whose
// callbackAfterSeconds has not passed yet (Conductor's queue holds them,
// postponed).
func (q *queue) size(ctx context.Context, qn string) (int, error) {
	if q.shared != nil {
		return q.shared.size(ctx, qn, q.now())
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.pending[qn])
	for _, d := range q.byID {
		if d.queue == qn && d.callback && !d.queued {
			n++
		}
	}
	return n, nil
}

// pollDataKey holds, per task type, the last poll time (ms) of each domain
// ("" for none) in the shared queue.
func (s *sharedQueue) pollDataKey(taskType string) string {
	return sharedPrefix + "polldata:" + taskType
}

// A poll's entry is "ms worker".
func (s *sharedQueue) notePoll(ctx context.Context, taskType, domain string, p pollInfo) {
	s.c.HSet(ctx, s.pollDataKey(taskType), domain, strconv.FormatInt(p.at.UnixMilli(), 10)+" "+p.worker)
}

func (s *sharedQueue) pollData(ctx context.Context, taskType string) (map[string]pollInfo, error) {
	all, err := s.c.HGetAll(ctx, s.pollDataKey(taskType)).Result()
	if err != nil {
		return nil, err
	}
	out := map[string]pollInfo{}
	for domain, v := range all {
		if p, ok := parsePollEntry(v); ok {
			out[domain] = p
		}
	}
	return out, nil
}

// pollOf is the last poll of taskType in domain: one field, not the map.
func (s *sharedQueue) pollOf(ctx context.Context, taskType, domain string) (pollInfo, bool, error) {
	v, err := s.c.HGet(ctx, s.pollDataKey(taskType), domain).Result()
	if errors.Is(err, redis.Nil) {
		return pollInfo{}, false, nil
	}
	if err != nil {
		return pollInfo{}, false, err
	}
	p, ok := parsePollEntry(v)
	return p, ok, nil
}

// parsePollEntry reads a poll-data entry, "ms worker" (false: not ours).
func parsePollEntry(v string) (pollInfo, bool) {
	ms, worker, _ := strings.Cut(v, " ")
	n, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return pollInfo{}, false
	}
	return pollInfo{time.UnixMilli(n), worker}, true
}

func (s *sharedQueue) pollTypes(ctx context.Context) ([]string, error) {
	prefix := sharedPrefix + "polldata:"
	var out []string
	err := s.scanKeys(ctx, prefix+"*", func(key string) { out = append(out, strings.TrimPrefix(key, prefix)) })
	return out, err
}

// scanKeys calls fn (one call at a time) with every key matching match, on
// every master of a Redis Cluster.
func (s *sharedQueue) scanKeys(ctx context.Context, match string, fn func(key string)) error {
	var mu sync.Mutex
	scan := func(ctx context.Context, c redis.Cmdable) error {
		iter := c.Scan(ctx, 0, match, 200).Iterator()
		for iter.Next(ctx) {
			mu.Lock()
			fn(iter.Val())
			mu.Unlock()
		}
		return iter.Err()
	}
	if cc, ok := s.c.(*redis.ClusterClient); ok {
		return cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error { return scan(ctx, n) })
	}
	return scan(ctx, s.c)
}

// delayedKey holds, per queue, the tasks waiting for their callback time
// (score: that time, ms): counted in the queue's size until then, and
// dropped when they are offered again or end. An entry a dead process left
// stops counting when its time passes.
func (s *sharedQueue) delayedKey(qn string) string { return sharedPrefix + "delayed:" + qn }

func (s *sharedQueue) delay(ctx context.Context, id, qn string, until time.Time) {
	s.c.ZAdd(ctx, s.delayedKey(qn), redis.Z{Score: float64(until.UnixMilli()), Member: id})
}

func (s *sharedQueue) size(ctx context.Context, qn string, now time.Time) (int, error) {
	pipe := s.c.Pipeline()
	pending := pipe.ZCard(ctx, s.pendingKey(qn))
	delayed := pipe.ZCount(ctx, s.delayedKey(qn), strconv.FormatInt(now.UnixMilli(), 10), "+inf")
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, err
	}
	return int(pending.Val() + delayed.Val()), nil
}
