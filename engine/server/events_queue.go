package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
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
// consume them. The queue lives in this process (eventMemQueue) or, when
// serve processes share Redis, in one Redis stream per queue
// (eventStreamQueue), each message taken by exactly one of them.

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
}

// publisherOf is the publisher the engine gave Publish.
func publisherOf(ctx context.Context) *engine.EventPublisher {
	if p, ok := engine.EventPublisherOf(ctx); ok {
		return &p
	}
	return nil
}

// eventQueue is the conductor queue type of the server: the engine
// publishes to it (engine.EventSink, EventAcker), the event processor polls
// and acknowledges.
type eventQueue interface {
	engine.EventSink
	engine.EventAcker
	// take returns up to n messages of the queues named, waiting up to
	// wait for one.
	take(ctx context.Context, queues []string, n int, wait time.Duration) ([]eventMessage, error)
	// done removes a handled message.
	done(ctx context.Context, m eventMessage) error
}

// eventMemQueue keeps the messages in this process; they do not outlive
// it (a restarted serve has no message that was not handled).
type eventMemQueue struct {
	mu     sync.Mutex
	msgs   map[string][]eventMessage
	notify chan struct{} // closed and replaced on every publish
}

// eventMemQueueMax bounds the messages one in-process queue keeps: a
// workflow publishing where nobody listens fails its EVENT task rather
// than fill the server's memory.
const eventMemQueueMax = 10000

// errEventQueueFull: an in-process conductor queue is full.
var errEventQueueFull = errors.New("event queue full")

func newEventMemQueue() *eventMemQueue {
	return &eventMemQueue{msgs: map[string][]eventMessage{}, notify: make(chan struct{})}
}

// Publish adds the message at the end of its queue.
func (q *eventMemQueue) Publish(ctx context.Context, queue, id string, payload []byte) error {
	name, ok := strings.CutPrefix(queue, engine.ConductorQueueType+":")
	if !ok {
		return fmt.Errorf("not a conductor queue: %s", queue)
	}
	q.mu.Lock()
	if len(q.msgs[name]) >= eventMemQueueMax {
		q.mu.Unlock()
		return fmt.Errorf("%w: %s holds %d messages no event handler has taken (register one for the event %s, or give --event-sink conductor=SINK)",
			errEventQueueFull, queue, eventMemQueueMax, queue)
	}
	q.msgs[name] = append(q.msgs[name], eventMessage{Queue: name, ID: id, Payload: append([]byte(nil), payload...), Publisher: publisherOf(ctx)})
	close(q.notify)
	q.notify = make(chan struct{})
	q.mu.Unlock()
	return nil
}

// Ack withdraws a message not yet taken (a cancelled EVENT task's).
func (q *eventMemQueue) Ack(_ context.Context, queue, id string) error {
	name := strings.TrimPrefix(queue, engine.ConductorQueueType+":")
	q.mu.Lock()
	defer q.mu.Unlock()
	list := q.msgs[name]
	for i, m := range list {
		if m.ID == id {
			q.msgs[name] = append(list[:i:i], list[i+1:]...)
			return nil
		}
	}
	return nil
}

func (q *eventMemQueue) take(ctx context.Context, queues []string, n int, wait time.Duration) ([]eventMessage, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		q.mu.Lock()
		var out []eventMessage
		for _, name := range queues {
			list := q.msgs[name]
			k := min(n-len(out), len(list))
			out = append(out, list[:k]...)
			if k == len(list) {
				delete(q.msgs, name)
			} else {
				q.msgs[name] = list[k:]
			}
			if len(out) == n {
				break
			}
		}
		ch := q.notify
		q.mu.Unlock()
		if len(out) > 0 {
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-timer.C:
			return nil, nil
		case <-ch:
		}
	}
}

func (q *eventMemQueue) done(context.Context, eventMessage) error { return nil }

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

// eventReclaimIdle is how long a message taken by a process that did not
// handle it (it died) waits before another process takes it.
const eventReclaimIdle = time.Minute

// eventStreamQueue keeps each conductor queue in a Redis stream; messages
// are sealed with the keyring every serve process shares (bound to their
// queue and id), so a message written into Redis by anyone else, or moved
// to another queue, is not handled.
type eventStreamQueue struct {
	c       redis.UniversalClient
	transit *runsecrets.Transit
	self    string
	mu      sync.Mutex
	groups  map[string]bool // streams whose group exists
}

func newEventStreamQueue(c redis.UniversalClient, transit *runsecrets.Transit) *eventStreamQueue {
	return &eventStreamQueue{c: c, transit: transit, self: newRunID(), groups: map[string]bool{}}
}

func messageBinding(queue, id string) string { return queue + "\x00" + id }

// Publish appends the sealed message to its queue's stream.
func (q *eventStreamQueue) Publish(ctx context.Context, queue, id string, payload []byte) error {
	name, ok := strings.CutPrefix(queue, engine.ConductorQueueType+":")
	if !ok {
		return fmt.Errorf("not a conductor queue: %s", queue)
	}
	sealed, err := q.transit.Seal(payload, eventTransitKind, messageBinding(name, id))
	if err != nil {
		return fmt.Errorf("publish to %s: %w", queue, err)
	}
	values := []any{"id", id, "sealed", string(sealed)}
	if p := publisherOf(ctx); p != nil {
		plain, _ := json.Marshal(p)
		sp, err := q.transit.Seal(plain, eventPublisherKind, messageBinding(name, id))
		if err != nil {
			return fmt.Errorf("publish to %s: %w", queue, err)
		}
		values = append(values, "publisher", string(sp))
	}
	if err := q.c.XAdd(ctx, &redis.XAddArgs{Stream: eventStreamPrefix + name, Values: values}).Err(); err != nil {
		return fmt.Errorf("publish to %s: %w", queue, err)
	}
	return nil
}

// Ack removes the entries carrying message id (a cancelled EVENT task's):
// one not handled yet is not handled.
func (q *eventStreamQueue) Ack(ctx context.Context, queue, id string) error {
	name := strings.TrimPrefix(queue, engine.ConductorQueueType+":")
	stream := eventStreamPrefix + name
	msgs, err := q.c.XRange(ctx, stream, "-", "+").Result()
	if err != nil {
		return fmt.Errorf("ack on %s: %w", queue, err)
	}
	for _, m := range msgs {
		if m.Values["id"] == id {
			q.c.XAck(ctx, stream, eventGroup, m.ID)
			if err := q.c.XDel(ctx, stream, m.ID).Err(); err != nil {
				return fmt.Errorf("ack on %s: %w", queue, err)
			}
		}
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
	streams := make([]string, 0, 2*len(queues))
	for _, name := range queues {
		s := eventStreamPrefix + name
		if err := q.group(ctx, s); err != nil {
			return nil, err
		}
		streams = append(streams, s)
	}
	var out []eventMessage
	// Messages a dead process took and never handled.
	for _, s := range streams {
		claimed, _, err := q.c.XAutoClaim(ctx, &redis.XAutoClaimArgs{Stream: s, Group: eventGroup, Consumer: q.self,
			MinIdle: eventReclaimIdle, Start: "0", Count: int64(n)}).Result()
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
// sharing the keyring, or moved from another queue or id) is dropped.
func (q *eventStreamQueue) open(ctx context.Context, stream string, entries []redis.XMessage) []eventMessage {
	name := strings.TrimPrefix(stream, eventStreamPrefix)
	var out []eventMessage
	for _, e := range entries {
		id, _ := e.Values["id"].(string)
		sealed, _ := e.Values["sealed"].(string)
		plain, err := q.transit.Open([]byte(sealed), eventTransitKind, messageBinding(name, id))
		if err != nil {
			q.c.XAck(ctx, stream, eventGroup, e.ID)
			q.c.XDel(ctx, stream, e.ID)
			continue
		}
		m := eventMessage{Queue: name, ID: id, Payload: plain, entry: e.ID}
		if sp, _ := e.Values["publisher"].(string); sp != "" {
			// A publisher that does not open leaves the message
			// without one: it acts as nobody.
			var p engine.EventPublisher
			if b, err := q.transit.Open([]byte(sp), eventPublisherKind, messageBinding(name, id)); err == nil && json.Unmarshal(b, &p) == nil {
				m.Publisher = &p
			}
		}
		out = append(out, m)
	}
	return out
}

func (q *eventStreamQueue) done(ctx context.Context, m eventMessage) error {
	stream := eventStreamPrefix + m.Queue
	if err := q.c.XAck(ctx, stream, eventGroup, m.entry).Err(); err != nil {
		return err
	}
	return q.c.XDel(ctx, stream, m.entry).Err()
}
