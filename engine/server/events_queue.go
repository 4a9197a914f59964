package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/runsecrets"
)

// Conductor's own event queues ("conductor:…" sinks of EVENT tasks) always
// exist in wfrun serve, as they do in Conductor (ConductorEventQueueProvider
// over its QueueDAO): an EVENT task publishes to them without any
// --event-sink, and the event handlers registered through /api/event
// consume them. The queue lives in the run store's records
// (eventRecordQueue: bolt, so it outlives a restart) or, when
// serve processes share Redis, in one Redis stream per queue
// (eventStreamQueue), each message delivered to one of them at a time.

// eventMessage is a message of a conductor queue: its id (the publishing
// task's id, as Conductor's Message id), its payload (the EVENT task's
// output as JSON, masked), its publisher (the run and principal, from the
// engine; nil when the message did not come from an EVENT task: it acts
// as nobody) and, for a Redis stream, its entry id.
type eventMessage struct {
	Queue     string
	ID        string
	Payload   []byte
	Publisher *engine.EventPublisher
	entry     string
	epoch     string // the message's place in its queue's ledger (Redis)
	seq       uint64
}

// publisherOf is the publisher the engine gave Publish.
func publisherOf(ctx context.Context) *engine.EventPublisher {
	if p, ok := engine.EventPublisherOf(ctx); ok {
		return &p
	}
	return nil
}

// eventQueue is the conductor queue type of the server: the engine
// publishes to it (engine.EventSink, EventAcker), the event processor
// takes messages, records the actions it runs for them in the queue's
// ledger (events_ledger.go) and their executions (events_exec.go), and
// acknowledges a message once every action ran.
type eventQueue interface {
	engine.EventSink
	engine.EventAcker
	// take returns up to n messages of the queues named (served in turn),
	// waiting up to wait for one.
	take(ctx context.Context, queues []string, n int, wait time.Duration) ([]eventMessage, error)
	// begin is errEventReplay when m was handled already, was withdrawn,
	// or is not of its queue's ledger.
	begin(ctx context.Context, m eventMessage) error
	// startAction records action key of m as started, with its execution
	// x (IN_PROGRESS); false when it was started before (by this delivery
	// of m or an earlier one).
	startAction(ctx context.Context, m eventMessage, key string, x *eventExecution) (bool, error)
	// endAction records the outcome x of action key of m; with again, the
	// action is taken out instead (x is removed): the next delivery of m
	// runs it, unless m's actions failed so eventTransientMax times: then
	// x is recorded with status FAILED (the action is given up).
	endAction(ctx context.Context, m eventMessage, key string, x *eventExecution, again bool) error
	// record stores an execution that ran nothing (SKIPPED).
	record(ctx context.Context, x *eventExecution) error
	// finish marks m handled and removes it; errEventReplay when it was
	// handled already (it is removed all the same).
	finish(ctx context.Context, m eventMessage) error
	// release leaves m, taken and not finished, to a later delivery.
	release(ctx context.Context, m eventMessage)
	// executions are the executions kept for handler, newest first.
	executions(ctx context.Context, handler string) ([]eventExecution, error)
	// dropExecutions removes every execution kept for handler (deleted,
	// or listening to another event now).
	dropExecutions(ctx context.Context, handler string) error
	// expireUnheard drops (marks handled and removes) the messages
	// published before cutoff on the queues not in listened, and returns
	// them (events_expire.go).
	expireUnheard(ctx context.Context, listened map[string]bool, cutoff time.Time) ([]eventMessage, error)
}

// errEventReplay: a message was handled already (or withdrawn), or does
// not belong to its queue's current sequence.
var errEventReplay = errors.New("event message already handled")

// eventQueuedMax bounds the messages the conductor queues keep, all queues
// together (queue names can come from a run's input): generous, as each
// queue has its own bound, eventQueueMax.
const eventQueuedMax = 100000

// eventQueueMax bounds the messages one conductor queue keeps: a workflow
// publishing where nobody listens fails its EVENT task once its queue is
// full, without filling the server's store (or Redis) for every other
// workflow's queues.
const eventQueueMax = 1000

// errEventQueueFull: a conductor queue holds eventQueueMax messages, or
// the queues eventQueuedMax.
var errEventQueueFull = errors.New("event queue full")

// queueFull: queue holds max messages (all, true: the queues together).
func queueFull(queue string, max int, all bool) error {
	what := fmt.Sprintf("the conductor queue %s holds %d messages", queue, max)
	if all {
		what = fmt.Sprintf("the conductor queues hold %d messages", max)
	}
	return fmt.Errorf("%w: %s no event handler has taken; not published to %s (register an active event handler for the event %s, or give --event-sink conductor=SINK)",
		errEventQueueFull, what, queue, queue)
}

// eventStreamPrefix names the Redis streams of the conductor queues; one
// hash tag, so one XREADGROUP reads several of them on Redis Cluster.
const eventStreamPrefix = "wfrun:{wfrun-events}:queue:"

// eventGroup is the consumer group of every serve process: a message is
// delivered to one of them.
const eventGroup = "wfrun-serve"

// eventTransitKind binds a sealed message to what it is.
const eventTransitKind = "conductor event"

// eventPublisherKind binds a message's sealed publisher to what it is (and
// to the message's queue and id, as its payload).
const eventPublisherKind = "conductor event publisher"

// eventReclaimIdle is how long a message taken and not finished (its
// process died, or an action failed for a transient reason) waits before
// it is delivered again, to any process.
const eventReclaimIdle = time.Minute

// Keys beside each queue's stream (same hash tag): its sealed ledger
// (events_ledger.go), the entry of each message id not yet handled (so a
// cancelled EVENT task's message is withdrawn without reading the
// stream), and the count of messages all queues hold.
const (
	eventLedgerPrefix = "wfrun:{wfrun-events}:ledger:"
	eventIDsPrefix    = "wfrun:{wfrun-events}:ids:"
	eventQueuedKey    = "wfrun:{wfrun-events}:queued"
)

// eventStreamQueue keeps each conductor queue in a Redis stream; messages
// are sealed with the keyring every serve process shares, bound to their
// queue, id and place in the queue's sequence (its ledger's epoch and
// number), so a message written into Redis by anyone else, moved to
// another queue, or added again after it was handled is not handled.
type eventStreamQueue struct {
	c       redis.UniversalClient
	transit *runsecrets.Transit
	self    string
	max     int // eventQueuedMax; smaller in tests
	perQ    int // eventQueueMax; smaller in tests
	mu      sync.Mutex
	groups  map[string]bool // streams whose group exists
	turn    int             // where the next take starts among the streams
	seen    seenLedgers     // the latest ledger version seen, by epoch
	// reclaimIdle is how long a message taken and not finished waits
	// before it is delivered again (eventReclaimIdle; shorter in tests).
	reclaimIdle time.Duration
}

func newEventStreamQueue(c redis.UniversalClient, transit *runsecrets.Transit) *eventStreamQueue {
	return &eventStreamQueue{c: c, transit: transit, self: newRunID(), max: eventQueuedMax, perQ: eventQueueMax, groups: map[string]bool{}, reclaimIdle: eventReclaimIdle,
		seen: seenLedgers{ver: map[string]uint64{}}}
}

// messageBinding binds a sealed message (payload and publisher) to its
// queue, id and place in the queue's sequence.
func messageBinding(queue, id, epoch string, seq uint64) string {
	return queue + "\x00" + id + "\x00" + epoch + "\x00" + strconv.FormatUint(seq, 10)
}

// Publish appends the sealed message to its queue's stream, numbered in
// its queue's ledger, unless it holds q.perQ messages or the queues q.max.
func (q *eventStreamQueue) Publish(ctx context.Context, queue, id string, payload []byte) error {
	name, ok := strings.CutPrefix(queue, engine.ConductorQueueType+":")
	if !ok {
		return fmt.Errorf("not a conductor queue: %s", queue)
	}
	stream := eventStreamPrefix + name
	// The bound is read before the transaction: publishers racing may
	// pass it by a few. The count is only moved by entries that opened
	// (an entry written by someone else is dropped uncounted); one who
	// can write to Redis can move it anyway, which only refuses or allows
	// publications.
	if n, err := q.c.XLen(ctx, stream).Result(); err == nil && n >= int64(q.perQ) {
		return queueFull(queue, q.perQ, false)
	}
	if n, err := q.c.Get(ctx, eventQueuedKey).Int(); err == nil && n >= q.max {
		return queueFull(queue, q.max, true)
	}
	pub := publisherOf(ctx)
	var entry, epoch string
	var seq uint64
	err := q.updateLedger(ctx, name, true, func(l *eventLedger, pipe redis.Pipeliner) error {
		l.Next++
		epoch, seq = l.Epoch, l.Next
		binding := messageBinding(name, id, epoch, seq)
		sealed, err := q.transit.Seal(payload, eventTransitKind, binding)
		if err != nil {
			return err
		}
		values := []any{"id", id, "epoch", epoch, "seq", seq, "sealed", string(sealed)}
		if pub != nil {
			plain, _ := json.Marshal(pub)
			sp, err := q.transit.Seal(plain, eventPublisherKind, binding)
			if err != nil {
				return err
			}
			values = append(values, "publisher", string(sp))
		}
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: values})
		pipe.Incr(ctx, eventQueuedKey)
		pipe.SAdd(ctx, eventQueuesKey, name) // events_expire.go
		return nil
	}, func(cmds []redis.Cmder) {
		for _, c := range cmds {
			if x, ok := c.(*redis.StringCmd); ok && x.Args()[0] == "xadd" {
				entry = x.Val()
			}
		}
	})
	if err != nil {
		return fmt.Errorf("publish to %s: %w", queue, err)
	}
	// Where the message is, for Ack (a failure here only costs a
	// cancelled task's message being handled all the same).
	q.c.HSet(ctx, eventIDsPrefix+name, id, entry+" "+epoch+" "+strconv.FormatUint(seq, 10))
	return nil
}

// Ack withdraws the message id (a cancelled EVENT task's): one not
// handled yet is not handled, nor is a copy of it added again.
func (q *eventStreamQueue) Ack(ctx context.Context, queue, id string) error {
	name := strings.TrimPrefix(queue, engine.ConductorQueueType+":")
	where, err := q.c.HGet(ctx, eventIDsPrefix+name, id).Result()
	if errors.Is(err, redis.Nil) {
		return nil // handled, or never published here
	}
	if err != nil {
		return fmt.Errorf("ack on %s: %w", queue, err)
	}
	var entry, epoch string
	var seq uint64
	if _, err := fmt.Sscanf(where, "%s %s %d", &entry, &epoch, &seq); err != nil {
		q.c.HDel(ctx, eventIDsPrefix+name, id)
		return nil
	}
	if err := q.finish(ctx, eventMessage{Queue: name, ID: id, entry: entry, epoch: epoch, seq: seq}); err != nil && !errors.Is(err, errEventReplay) {
		return fmt.Errorf("ack on %s: %w", queue, err)
	}
	return nil
}

// group creates the consumer group of a stream once (from its first entry:
// messages published before any handler existed are handled, as
// Conductor's queue keeps them until it is listened to).
func (q *eventStreamQueue) group(ctx context.Context, stream string) error {
	q.mu.Lock()
	ok := q.groups[stream]
	q.mu.Unlock()
	if ok {
		return nil
	}
	err := q.c.XGroupCreateMkStream(ctx, stream, eventGroup, "0").Err()
	if err != nil && !strings.Contains(err.Error(), "BUSYGROUP") {
		return err
	}
	q.mu.Lock()
	q.groups[stream] = true
	q.mu.Unlock()
	return nil
}

func (q *eventStreamQueue) take(ctx context.Context, queues []string, n int, wait time.Duration) ([]eventMessage, error) {
	if len(queues) == 0 {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(wait):
			return nil, nil
		}
	}
	// The streams in turn, starting one further every time.
	q.mu.Lock()
	start := q.turn % len(queues)
	q.turn++
	q.mu.Unlock()
	streams := make([]string, 0, 2*len(queues))
	for i := range queues {
		s := eventStreamPrefix + queues[(start+i)%len(queues)]
		if err := q.group(ctx, s); err != nil {
			return nil, err
		}
		streams = append(streams, s)
	}
	var out []eventMessage
	// Messages taken and not finished a while ago: their process died, or
	// left them for a later delivery (an action failed for a transient
	// reason). One a live process is still handling may come back too:
	// the ledger lets each action start once (events_ledger.go).
	for _, s := range streams {
		if len(out) >= n {
			break
		}
		claimed, _, err := q.c.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: s, Group: eventGroup, Consumer: q.self,
			MinIdle: q.reclaimIdle, Start: "0", Count: int64(n - len(out))}).Result()
		if err == nil {
			out = append(out, q.open(ctx, s, claimed)...)
		}
	}
	if len(out) > 0 {
		return out, nil
	}
	for range queues {
		streams = append(streams, ">")
	}
	res, err := q.c.XReadGroup(ctx, &redis.XReadGroupArgs{Group: eventGroup, Consumer: q.self, Streams: streams,
		Count: int64(n), Block: wait}).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		if strings.Contains(err.Error(), "NOGROUP") {
			// The stream was deleted (FLUSHALL, an operator): make it again.
			q.mu.Lock()
			q.groups = map[string]bool{}
			q.mu.Unlock()
		}
		return nil, err
	}
	for _, st := range res {
		out = append(out, q.open(ctx, st.Stream, st.Messages)...)
	}
	return out, nil
}

// open unseals entries; one that does not open (not sealed by a process
// sharing the keyring, or moved from another queue, id or place) is
// dropped.
func (q *eventStreamQueue) open(ctx context.Context, stream string, entries []redis.XMessage) []eventMessage {
	name := strings.TrimPrefix(stream, eventStreamPrefix)
	var out []eventMessage
	for _, e := range entries {
		id, _ := e.Values["id"].(string)
		epoch, _ := e.Values["epoch"].(string)
		seqText, _ := e.Values["seq"].(string)
		seq, _ := strconv.ParseUint(seqText, 10, 64)
		sealed, _ := e.Values["sealed"].(string)
		binding := messageBinding(name, id, epoch, seq)
		plain, err := q.transit.Open([]byte(sealed), eventTransitKind, binding)
		if err != nil {
			q.c.XAck(ctx, stream, eventGroup, e.ID)
			q.c.XDel(ctx, stream, e.ID)
			continue
		}
		m := eventMessage{Queue: name, ID: id, Payload: plain, entry: e.ID, epoch: epoch, seq: seq}
		if sp, _ := e.Values["publisher"].(string); sp != "" {
			// A publisher that does not open leaves the message
			// without one: it acts as nobody.
			var p engine.EventPublisher
			if b, err := q.transit.Open([]byte(sp), eventPublisherKind, binding); err == nil && json.Unmarshal(b, &p) == nil {
				m.Publisher = &p
			}
		}
		out = append(out, m)
	}
	return out
}

// doneScript removes a message's entry, counting it out of the queued
// messages only when it was still there, and its id's entry when it
// names this one.
var doneScript = redis.NewScript(`
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
if redis.call('XDEL', KEYS[1], ARGV[2]) == 1 then
  if redis.call('DECR', KEYS[2]) < 0 then redis.call('SET', KEYS[2], 0) end
end
local w = redis.call('HGET', KEYS[3], ARGV[3])
if w and string.sub(w, 1, string.len(ARGV[2]) + 1) == ARGV[2] .. ' ' then redis.call('HDEL', KEYS[3], ARGV[3]) end
return 1`)

func (q *eventStreamQueue) done(ctx context.Context, m eventMessage) error {
	keys := []string{eventStreamPrefix + m.Queue, eventQueuedKey, eventIDsPrefix + m.Queue}
	return doneScript.Run(ctx, q.c, keys, eventGroup, m.entry, m.ID).Err()
}

// executionKeys are the hash of a handler's sealed executions (by id) and
// their index by creation time.
func executionKeys(handler string) []string {
	return []string{eventExecPrefix + handler, eventExecPrefix + "index:" + handler}
}

// eventExecPrefix names the executions' keys (same hash tag).
const eventExecPrefix = "wfrun:{wfrun-events}:exec:"

// putExecutionScript stores a sealed execution and keeps the newest
// ARGV[4] of its handler.
const putExecutionScript = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local n = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if n > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, n - 1)) do redis.call('HDEL', KEYS[1], id) end
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, n - 1)
end
return 1`

// putExecution queues the write of x in pipe (nil: at once).
func (q *eventStreamQueue) putExecution(ctx context.Context, pipe redis.Cmdable, x *eventExecution) error {
	sealed, err := sealExecution(q.transit.Seal, x)
	if err != nil {
		return err
	}
	if pipe == nil {
		pipe = q.c
	}
	return pipe.Eval(ctx, putExecutionScript, executionKeys(x.Name), x.ID, string(sealed), x.Created, eventExecutionsKept).Err()
}

func (q *eventStreamQueue) begin(ctx context.Context, m eventMessage) error {
	return q.updateLedger(ctx, m.Queue, false, func(l *eventLedger, _ redis.Pipeliner) error { return l.check(m) }, nil)
}

func (q *eventStreamQueue) startAction(ctx context.Context, m eventMessage, key string, x *eventExecution) (bool, error) {
	var started bool
	err := q.updateLedger(ctx, m.Queue, false, func(l *eventLedger, pipe redis.Pipeliner) error {
		var err error
		if started, err = l.startAction(m, key); err != nil || !started {
			return err
		}
		return q.putExecution(ctx, pipe, x)
	}, nil)
	return started, err
}

func (q *eventStreamQueue) endAction(ctx context.Context, m eventMessage, key string, x *eventExecution, again bool) error {
	if !again {
		return q.putExecution(ctx, nil, x)
	}
	return q.updateLedger(ctx, m.Queue, false, func(l *eventLedger, pipe redis.Pipeliner) error {
		x.Status = execInProgress
		if !l.dropAction(m, key) {
			x.Status = execFailed
			return q.putExecution(ctx, pipe, x)
		}
		keys := executionKeys(x.Name)
		pipe.HDel(ctx, keys[0], x.ID)
		pipe.ZRem(ctx, keys[1], x.ID)
		return nil
	}, nil)
}

func (q *eventStreamQueue) record(ctx context.Context, x *eventExecution) error {
	return q.putExecution(ctx, nil, x)
}

func (q *eventStreamQueue) finish(ctx context.Context, m eventMessage) error {
	err := q.finishLedger(ctx, m)
	if err != nil && !errors.Is(err, errEventReplay) {
		return err
	}
	if derr := q.done(ctx, m); derr != nil {
		return derr
	}
	return err
}

// release leaves m pending: once it was idle reclaimIdle, a take (of any
// process) claims it again.
func (q *eventStreamQueue) release(context.Context, eventMessage) {}

func (q *eventStreamQueue) dropExecutions(ctx context.Context, handler string) error {
	return q.c.Del(ctx, executionKeys(handler)...).Err()
}

func (q *eventStreamQueue) executions(ctx context.Context, handler string) ([]eventExecution, error) {
	all, err := q.c.HGetAll(ctx, executionKeys(handler)[0]).Result()
	if err != nil {
		return nil, err
	}
	sealed := make(map[string][]byte, len(all))
	for id, v := range all {
		sealed[id] = []byte(v)
	}
	return openExecutions(q.transit.Open, handler, sealed), nil
}
