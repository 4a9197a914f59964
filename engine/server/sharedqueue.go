package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/runsecrets"
)

// The shared task queue: serve processes on one Redis offer their pending
// SIMPLE tasks there, so a worker polling any process gets any pending
// task, whoever executes its run.
//
// Per task: a hash holding the task as a worker receives it, without any
// secret value (its ids, definition and names; sealed through
// runsecrets.Transit with the keyring every process sharing the store
// holds, bound to the task id), the process that executes its run (owner),
// its name and its state (pending, or claimed by a poll). Per task name: a
// sorted set of the pending task ids, by their run's priority and then in
// the order they were offered (score: rank·2^40 + sequence). A poll
// claims ids atomically (one Lua script), so a task is handed out once.
//
// The values a worker gets are resolved when its poll takes the task, by
// the owner, through the run's boundary (sharedhandoff.go): the polling
// process asks the owner over pub/sub for the task's hand-off, bound to
// that claim; the owner resolves, marks the task IN_PROGRESS (its clocks
// start) and hands the values over sealed, through a list the poll pops at
// once. Nothing resolved waits in Redis for a poll. The process that handed
// the task out tells the owner over Redis pub/sub when the worker reports
// IN_PROGRESS. The claim itself (worker, time) stays in the task's hash,
// and the owner looks there every second (watchClaims), so a notice lost
// on pub/sub delays the clocks' start by a second, never for ever; final answers travel durably through the run store
// (engine.CompleteTaskWith: for that attempt only), as they did before, where the owner's runner takes
// them. When the owner dies, the process that takes its run over offers the
// task again under the same id: a task still pending stays pending (in its
// place), a task already claimed stays claimed and is IN_PROGRESS in the
// new owner, so it is not handed out twice. A poll that claims a task of
// another process's run hands it out only while the run store still shows
// the attempt waiting (engine.TaskAttemptWaiting): the task of a run that
// was terminated, timed out or failed elsewhere, or whose owner stopped,
// is removed instead.

const sharedPrefix = "wfrun:{wfrun-queue}:"

// sharedTaskTTL bounds how long a task's hash (sealed, without values)
// outlives the process executing its run: the owner renews it on
// each look at its tasks' claims (every second), a process that takes the
// run over offers it again, and when neither happens — the owner died and
// nobody resumed the run — Redis drops it.
const sharedTaskTTL = 10 * time.Minute

// WithSharedQueue makes the server offer its remote SIMPLE tasks through
// Redis (c) instead of keeping them in memory, and check Hawk nonces there
// too: use it when several serve processes share a Redis run store behind
// one address. Every process needs the same keyring (it seals what they
// hand each other there).
func WithSharedQueue(c redis.UniversalClient) Option { return func(s *Server) { s.shared = c } }

type sharedQueue struct {
	c    redis.UniversalClient
	self string // this process's owner id
	// dropPolled (tests): polls of other processes are not applied at
	// hand-off and "polled" notices are not sent, as when one is lost.
	dropPolled atomic.Bool
	// ownerGone is called when a task's owner does not listen (nil: not
	// told): the process taking its runs over offers the task again.
	ownerGone func()
	// warn (nil: silent) is told of an entry a poll refused to open.
	warn    func(msg string, args ...any)
	transit *runsecrets.Transit // seals each task's hash content, bound to entryBinding
	offer   *redis.Script
	claim   *redis.Script
	drop    *redis.Script
	back    *redis.Script
}

func newSharedQueue(c redis.UniversalClient, transit *runsecrets.Transit) *sharedQueue {
	return &sharedQueue{c: c, self: newRunID(), transit: transit,
		// KEYS: task hash, pending set, sequence. ARGV: id, blob, owner, queue name, ttl (ms), rank,
		// then the limits (queuelimits.go): definition, concurrentExecLimit, rateLimitPerFrequency,
		// rateLimitFrequencyInSeconds.
		offer: redis.NewScript(`
if redis.call('HGET', KEYS[1], 'state') == 'claimed' then
  redis.call('HSET', KEYS[1], 'owner', ARGV[3], 'blob', ARGV[2], 'def', ARGV[7], 'conc', ARGV[8], 'rate', ARGV[9], 'freq', ARGV[10])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return {'claimed', redis.call('HGET', KEYS[1], 'worker') or ''}
end
redis.call('HSET', KEYS[1], 'blob', ARGV[2], 'owner', ARGV[3], 'name', ARGV[4], 'state', 'pending', 'rank', ARGV[6],
  'def', ARGV[7], 'conc', ARGV[8], 'rate', ARGV[9], 'freq', ARGV[10])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call('ZADD', KEYS[2], 'NX', tonumber(ARGV[6]) * 1099511627776 + redis.call('INCR', KEYS[3]), ARGV[1])
return {'pending', ''}`),
		// KEYS: pending set. ARGV: task key prefix, count, worker, time (ms), claim token, limit key
		// prefix. A task whose definition's limits are reached goes back in its place once the
		// claim is done, and the claim looks on (a task a worker already holds, put back by an
		// IN_PROGRESS update, keeps its slot), up to 64 tasks past what it needs: per definition, a
		// set of the ids workers hold (its members whose task is gone are dropped as it is
		// counted) and a sorted set of the hand-outs of the rate window (queuelimits.go).
		claim: redis.NewScript(`
local out = {}
local back = {}
local n = tonumber(ARGV[2])
local now = tonumber(ARGV[4])
local popped = 0
while #out < 3 * n and popped < 3 * n + 64 do
  local m = redis.call('ZPOPMIN', KEYS[1])
  if #m == 0 then break end
  popped = popped + 1
  local k = ARGV[1] .. m[1]
  if redis.call('HGET', k, 'state') == 'pending' then
    local lim = redis.call('HMGET', k, 'def', 'conc', 'rate', 'freq')
    local def = lim[1] or ''
    local conc = tonumber(lim[2] or '0') or 0
    local rate = tonumber(lim[3] or '0') or 0
    local freq = tonumber(lim[4] or '0') or 0
    local ik = ARGV[6] .. 'inprogress:' .. def
    local rk = ARGV[6] .. 'rate:' .. def
    local ok = true
    if conc > 0 and redis.call('SISMEMBER', ik, m[1]) == 0 then
      local held = 0
      for _, id in ipairs(redis.call('SMEMBERS', ik)) do
        if redis.call('EXISTS', ARGV[1] .. id) == 1 then held = held + 1 else redis.call('SREM', ik, id) end
      end
      ok = held < conc
    end
    if ok and rate > 0 and freq > 0 then
      redis.call('ZREMRANGEBYSCORE', rk, '-inf', now - freq * 1000)
      ok = redis.call('ZCARD', rk) < rate
    end
    if not ok then
      table.insert(back, m[2])
      table.insert(back, m[1])
    end
    if ok and rate > 0 and freq > 0 then
      redis.call('ZADD', rk, now, m[1] .. ':' .. ARGV[5])
      redis.call('PEXPIRE', rk, freq * 1000)
    end
    if ok then
      if conc > 0 then
        redis.call('SADD', ik, m[1])
      end
      redis.call('HSET', k, 'state', 'claimed', 'worker', ARGV[3], 'claimedAt', ARGV[4], 'token', ARGV[5])
      table.insert(out, m[1])
      table.insert(out, redis.call('HGET', k, 'blob'))
      table.insert(out, redis.call('HGET', k, 'owner'))
    end
  end
end
if #back > 0 then
  redis.call('ZADD', KEYS[1], unpack(back))
end
return out`),
		// KEYS: task hash, pending set, delayed set. ARGV: id, owner.
		drop: redis.NewScript(`
if redis.call('HGET', KEYS[1], 'owner') == ARGV[2] then
  redis.call('DEL', KEYS[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  redis.call('ZREM', KEYS[3], ARGV[1])
  return 1
end
return 0`),
		// KEYS: task hash, pending set, sequence, delayed set. ARGV: id.
		back: redis.NewScript(`
redis.call('ZREM', KEYS[4], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'state', 'pending')
  local rank = tonumber(redis.call('HGET', KEYS[1], 'rank') or '100')
  redis.call('ZADD', KEYS[2], rank * 1099511627776 + redis.call('INCR', KEYS[3]), ARGV[1])
  return 1
end
return 0`),
	}
}

func (s *sharedQueue) taskKey(id string) string     { return sharedPrefix + "task:" + id }
func (s *sharedQueue) pendingKey(qn string) string  { return sharedPrefix + "pending:" + qn }
func (s *sharedQueue) seqKey() string               { return sharedPrefix + "seq" }
func (s *sharedQueue) offersChannel() string        { return sharedPrefix + "offers" }
func (s *sharedQueue) ownerChannel(o string) string { return sharedPrefix + "owner:" + o }

// signalsChannel carries the ids of runs another process just stored a
// signal for (engine.WithSignalNotify): every process hears it, the one
// executing the run takes the signal at once.
func (s *sharedQueue) signalsChannel() string { return sharedPrefix + "signals" }

// signalStored tells every process that a signal for run id waits in the
// run store. A lost notice costs the executor's next look (about a
// second): the signal stays stored.
func (s *sharedQueue) signalStored(ctx context.Context, id string) {
	s.c.Publish(ctx, s.signalsChannel(), id)
}

// sharedTask is what the shared queue holds of a task (sealed).
type sharedTask struct {
	Task      engine.RemoteTask `json:"task"`
	Scheduled int64             `json:"scheduled"`
}

// transitKind is what a shared task's blob is sealed as (with entryBinding).
const transitKind = "shared queue task"

// entryBinding is what a shared task's blob is bound to: its id and the
// queue (task type and domain) it is offered in. Redis is storage, not
// trusted: an id moved into another queue's pending set must not open
// there, or a worker allowed to poll only that queue would get the task,
// its ${workflow.secrets.*} resolved. The hand-off a claim leads to is
// bound to the claim's token (sharedhandoff.go).
func entryBinding(id, queue string) string { return id + "\x00" + queue }

// put offers d; it reports the worker holding it when a poll already
// claimed it (a run taken over from a process that died).
func (s *sharedQueue) put(ctx context.Context, d *delivery) (claimedBy string, claimed bool, err error) {
	plain, err := json.Marshal(sharedTask{Task: d.t, Scheduled: d.scheduled.UnixMilli()})
	if err != nil {
		return "", false, err
	}
	blob, err := s.transit.Seal(plain, transitKind, entryBinding(d.id, d.queue))
	if err != nil {
		return "", false, err
	}
	res, err := s.offer.Run(ctx, s.c, []string{s.taskKey(d.id), s.pendingKey(d.queue), s.seqKey()},
		d.id, blob, s.self, d.queue, sharedTaskTTL.Milliseconds(), rank(d.t.Priority),
		d.t.Name, d.t.ConcurrentExecLimit, d.t.RateLimitPerFrequency, d.t.RateLimitFrequencyInSeconds).StringSlice()
	if err != nil {
		return "", false, fmt.Errorf("shared task queue: offer %s: %w", d.id, err)
	}
	if len(res) == 2 && res[0] == "claimed" {
		return res[1], true, nil
	}
	s.c.Publish(ctx, s.offersChannel(), d.queue)
	return "", false, nil
}

// claimed is a task a poll took from the shared queue.
type claimed struct {
	id, owner string
	token     string // the claim's: its hand-off is bound to it
	task      sharedTask
}

// take claims up to n pending tasks of name for workerID.
func (s *sharedQueue) take(ctx context.Context, name, workerID string, n int, now time.Time) ([]claimed, error) {
	token := newRunID()
	res, err := s.claim.Run(ctx, s.c, []string{s.pendingKey(name)}, sharedPrefix+"task:", n, workerID, now.UnixMilli(), token, sharedPrefix+"limits:").StringSlice()
	if err != nil {
		return nil, fmt.Errorf("shared task queue: poll %s: %w", name, err)
	}
	var out []claimed
	for i := 0; i+2 < len(res); i += 3 {
		c := claimed{id: res[i], owner: res[i+2], token: token}
		plain, err := s.transit.Open([]byte(res[i+1]), transitKind, entryBinding(c.id, name))
		if err == nil {
			err = json.Unmarshal(plain, &c.task)
		}
		if err != nil {
			// Not ours to hand out (another keyring, damaged, sealed by a
			// version that bound it to its id only, or moved here from
			// another queue): the owner applies the recorded claim as a
			// poll, and the task's response timeout retries it, offered
			// in its own queue.
			s.refused(c.id, name)
			continue
		}
		out = append(out, c)
	}
	return out, nil
}

// refused says a poll of queue claimed task id and could not open its
// entry: it hands it to no worker.
func (s *sharedQueue) refused(id, queue string) {
	if s.warn != nil {
		s.warn("shared task queue: an entry does not open in the queue it was polled from; not handed out", "taskId", id, "queue", queue)
	}
}

// remove drops task id if this process still owns it.
func (s *sharedQueue) remove(ctx context.Context, id, name string) {
	s.drop.Run(ctx, s.c, []string{s.taskKey(id), s.pendingKey(name), s.delayedKey(name)}, id, s.self)
}

// forget drops task id whoever owns it: its attempt no longer waits (its
// run ended, or the attempt was replaced) — a poll that claimed it hands
// it to no worker.
func (s *sharedQueue) forget(ctx context.Context, id, name string) {
	s.c.Del(ctx, s.taskKey(id))
	s.c.ZRem(ctx, s.pendingKey(name), id)
	s.c.ZRem(ctx, s.delayedKey(name), id)
}

// claim is a poll of a task recorded in Redis.
type claim struct {
	worker string
	at     time.Time
}

// claims returns the recorded claims of the tasks ids (claimed now) and the
// ids the queue has no entry for (lost: see reoffer), and renews their time
// to live: ids are the live tasks of this process.
func (s *sharedQueue) claims(ctx context.Context, ids []string) (map[string]claim, []string, error) {
	pipe := s.c.Pipeline()
	cmds := make([]*redis.SliceCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HMGet(ctx, s.taskKey(id), "state", "worker", "claimedAt")
		pipe.PExpire(ctx, s.taskKey(id), sharedTaskTTL)
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, nil, err
	}
	out := map[string]claim{}
	var missing []string
	for i, cmd := range cmds {
		v, err := cmd.Result()
		if err == nil && len(v) == 3 && v[0] == nil {
			missing = append(missing, ids[i])
			continue
		}
		if err != nil || len(v) != 3 || v[0] != "claimed" {
			continue
		}
		worker, _ := v[1].(string)
		at, _ := v[2].(string)
		if ms := atoiOr(at, 0); ms > 0 {
			out[ids[i]] = claim{worker: worker, at: time.UnixMilli(ms)}
		}
	}
	return out, missing, nil
}

// requeue offers a task again (after a worker's callbackAfterSeconds).
func (s *sharedQueue) requeue(ctx context.Context, id, name string) {
	if n, err := s.back.Run(ctx, s.c, []string{s.taskKey(id), s.pendingKey(name), s.seqKey(), s.delayedKey(name)}, id).Int(); err == nil && n == 1 {
		s.c.Publish(ctx, s.offersChannel(), name)
	}
}

// ownerOf returns the process executing task id's run.
func (s *sharedQueue) ownerOf(ctx context.Context, id string) (string, error) {
	o, err := s.c.HGet(ctx, s.taskKey(id), "owner").Result()
	if errors.Is(err, redis.Nil) {
		return "", fmt.Errorf("%w: %s", ErrUnknownTask, id)
	}
	return o, err
}

// Messages to a task's owner: "handoff <id> <token> <worker>" (a poll
// claimed it: resolve and hand over), "polled <id> <worker>", "progress
// <id> <token> <sealed update>" (sharedprogress.go), "answered <id> -",
// "resetcallbacks <run id> -".
func (s *sharedQueue) tell(ctx context.Context, owner string, parts ...string) bool {
	if len(parts) > 0 && parts[0] == "polled" && s.dropPolled.Load() {
		return false
	}
	n, err := s.c.Publish(ctx, s.ownerChannel(owner), strings.Join(parts, " ")).Result()
	return err == nil && n > 0
}

// listen delivers offers of other processes (wake pollers of the name),
// messages to this process and stored-signal notices (told "signal <run
// id> -") until ctx ends. It returns once subscribed.
func (s *sharedQueue) listen(ctx context.Context, offered func(name string), told func(kind, id, arg string)) error {
	ps := s.c.Subscribe(ctx, s.offersChannel(), s.ownerChannel(s.self), s.signalsChannel())
	if _, err := ps.Receive(ctx); err != nil {
		_ = ps.Close()
		return fmt.Errorf("shared task queue: subscribe: %w", err)
	}
	ch := ps.Channel()
	go func() {
		defer ps.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case m, ok := <-ch:
				if !ok {
					return
				}
				if m.Channel == s.offersChannel() {
					offered(m.Payload)
					continue
				}
				if m.Channel == s.signalsChannel() {
					told("signal", m.Payload, "-")
					continue
				}
				parts := strings.SplitN(m.Payload, " ", 3)
				if len(parts) == 3 {
					told(parts[0], parts[1], parts[2])
				}
			}
		}
	}()
	return nil
}

func atoiOr(s string, def int64) int64 {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return def
	}
	return n
}
