package server

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// What the queue endpoints read and do across every queue: the counts of
// each queue (details) and requeuing a task type's pending tasks
// (requeueType), in memory or over the shared queue's Redis keys.

// queueCounts are a queue's counts as Conductor's verbose queue details
// give them: size (waiting for a poll, or for their callbackAfterSeconds)
// and unacked (with a worker that has not answered yet).
type queueCounts struct{ size, unacked int }

// details returns the counts of every queue holding a task; unacked
// false leaves those counts out (0), which over the shared queue spares
// reading every task.
func (q *queue) details(ctx context.Context, unacked bool) (map[string]queueCounts, error) {
	if q.shared != nil {
		return q.shared.details(ctx, q.now(), unacked)
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	out := map[string]queueCounts{}
	for qn, list := range q.pending {
		if len(list) > 0 {
			c := out[qn]
			c.size += len(list)
			out[qn] = c
		}
	}
	for _, d := range q.byID {
		if d.queued {
			continue
		}
		c := out[d.queue]
		if d.callback {
			c.size++ // size's count: postponed, still in the queue
		} else {
			c.unacked++
		}
		out[d.queue] = c
	}
	return out, nil
}

// requeueType offers every pending task of taskType (all its domains)
// again, as Conductor's requeuePendingTasks does: a task with a worker
// goes back in its queue at once (its rank kept), one waiting for its
// callback keeps waiting, one waiting for a poll stays. It returns how
// many tasks of the type are pending.
func (q *queue) requeueType(ctx context.Context, taskType string) (int, error) {
	if q.shared != nil {
		return q.shared.requeueType(ctx, taskType, q.now())
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, d := range q.byID {
		if d.t.Name != taskType {
			continue
		}
		n++
		if !d.queued && !d.callback {
			q.enqueueLocked(d)
		}
	}
	return n, nil
}

// sharedTaskState is a shared task's queue name and state, read from its
// hash.
type sharedTaskState struct {
	id, queue, state string
	delayed          bool // waiting for its callback time
}

// tasks returns the state of every task in the shared queue (one SCAN of
// the task hashes, then one pipeline): for the admin endpoints, not the
// poll path.
func (s *sharedQueue) tasks(ctx context.Context, now time.Time) ([]sharedTaskState, error) {
	prefix := sharedPrefix + "task:"
	var ids []string
	if err := s.scanKeys(ctx, prefix+"*", func(key string) { ids = append(ids, strings.TrimPrefix(key, prefix)) }); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.c.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, s.taskKey(id), "name", "state")
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([]sharedTaskState, 0, len(ids))
	for i, cmd := range cmds {
		v := cmd.Val()
		if len(v) != 2 {
			continue
		}
		qn, _ := v[0].(string)
		state, _ := v[1].(string)
		if qn == "" || state == "" {
			continue // dropped meanwhile
		}
		out = append(out, sharedTaskState{id: ids[i], queue: qn, state: state})
	}
	// Which claimed tasks wait for their callback time.
	pipe = s.c.Pipeline()
	scores := map[int]*redis.FloatCmd{}
	for i, t := range out {
		if t.state == "claimed" {
			scores[i] = pipe.ZScore(ctx, s.delayedKey(t.queue), t.id)
		}
	}
	if len(scores) > 0 {
		if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
			return nil, err // redis.Nil: a member not in its set, not delayed
		}
		nowMS := float64(now.UnixMilli())
		for i, sc := range scores {
			out[i].delayed = sc.Val() >= nowMS
		}
	}
	return out, nil
}

// details is queue.details over the shared queue: sizes as size counts
// them (pending, and delayed until their time), unacked the claimed tasks
// that do not wait for a callback.
func (s *sharedQueue) details(ctx context.Context, now time.Time, unacked bool) (map[string]queueCounts, error) {
	names := map[string]bool{}
	for _, prefix := range []string{sharedPrefix + "pending:", sharedPrefix + "delayed:"} {
		err := s.scanKeys(ctx, prefix+"*", func(key string) { names[strings.TrimPrefix(key, prefix)] = true })
		if err != nil {
			return nil, err
		}
	}
	out := map[string]queueCounts{}
	for qn := range names {
		n, err := s.size(ctx, qn, now)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			out[qn] = queueCounts{size: n}
		}
	}
	if !unacked {
		return out, nil
	}
	all, err := s.tasks(ctx, now)
	if err != nil {
		return nil, err
	}
	for _, t := range all {
		if t.state == "claimed" && !t.delayed {
			c := out[t.queue]
			c.unacked++
			out[t.queue] = c
		}
	}
	return out, nil
}

// requeueType is queue.requeueType over the shared queue: the tasks of
// every process.
func (s *sharedQueue) requeueType(ctx context.Context, taskType string, now time.Time) (int, error) {
	all, err := s.tasks(ctx, now)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range all {
		if queueTaskType(t.queue) != taskType {
			continue
		}
		n++
		if t.state == "claimed" && !t.delayed {
			s.requeue(ctx, t.id, t.queue)
		}
	}
	return n, nil
}
