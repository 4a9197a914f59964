package server

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine/runstore"
)

// Messages nobody listens to. Conductor keeps a message of a conductor
// queue in its QueueDAO until an event handler's queue observer takes it
// (DefaultEventQueueManager observes only the events of active handlers),
// so a queue no handler listens to grows without end. wfrun bounds each
// queue (eventQueueMax) and, so that a dead queue frees itself instead of
// failing every EVENT task that publishes to it once full, drops a
// message that has waited eventUnheardTTL on a queue no active handler
// listens to: a handler registered within that time still gets the
// messages published before it, as in Conductor. A dropped message is
// marked handled in its queue's ledger (a copy added again is refused)
// and logged with its queue and id; it has no execution (no handler
// was there to run one).

// eventUnheardTTL is how long a message waits on a queue nobody listens
// to before it is dropped.
const eventUnheardTTL = time.Hour

// eventExpireEvery is how often the event processor drops them.
const eventExpireEvery = time.Minute

// eventQueuesKeyPrefix + name, in the records' space eventCountSpace,
// marks a queue of the record queue that holds messages.
const eventQueuesKeyPrefix = "q/"

// eventQueuesKey is the Redis set of the queues that hold messages (same
// hash tag as the streams).
const eventQueuesKey = "wfrun:{wfrun-events}:queues"

// expireUnheard drops the messages published before cutoff on the
// queues not in listened, and returns them.
func (q *eventRecordQueue) expireUnheard(ctx context.Context, listened map[string]bool, cutoff time.Time) ([]eventMessage, error) {
	var names []string
	err := q.recs.ViewRecords(ctx, func(tx runstore.RecordTx) error {
		tx.Scan(eventCountSpace, eventQueuesKeyPrefix, func(k string, _ []byte) bool {
			if name := strings.TrimPrefix(k, eventQueuesKeyPrefix); !listened[name] {
				names = append(names, name)
			}
			return true
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	var dropped []eventMessage
	for _, name := range names {
		var old []eventMessage
		empty := true
		if err := q.recs.ViewRecords(ctx, func(tx runstore.RecordTx) error {
			tx.Scan(eventQueueSpace+name, "m/", func(_ string, v []byte) bool {
				empty = false
				var st storedEventMessage
				if json.Unmarshal(v, &st) == nil && st.At < cutoff.UnixMilli() {
					old = append(old, eventMessage{Queue: name, ID: st.ID, epoch: st.Epoch, seq: st.Seq})
				}
				return true
			})
			return nil
		}); err != nil {
			return dropped, err
		}
		for _, m := range old {
			if err := q.finish(ctx, m); err != nil && !errors.Is(err, errEventReplay) {
				return dropped, err
			}
			dropped = append(dropped, m)
		}
		if empty || len(old) > 0 {
			// Forgotten once it holds nothing (a publish marks it again).
			if err := q.recs.UpdateRecords(ctx, func(tx runstore.RecordTx) error {
				left := false
				tx.Scan(eventQueueSpace+name, "m/", func(string, []byte) bool { left = true; return false })
				if left {
					return nil
				}
				return tx.Delete(eventCountSpace, eventQueuesKeyPrefix+name)
			}); err != nil {
				return dropped, err
			}
		}
	}
	return dropped, nil
}

// expireUnheard drops the entries published before cutoff (a stream
// entry's id is its time) on the queues not in listened.
func (q *eventStreamQueue) expireUnheard(ctx context.Context, listened map[string]bool, cutoff time.Time) ([]eventMessage, error) {
	names, err := q.c.SMembers(ctx, eventQueuesKey).Result()
	if err != nil {
		return nil, err
	}
	var dropped []eventMessage
	for _, name := range names {
		if listened[name] {
			continue
		}
		stream := eventStreamPrefix + name
		for {
			entries, err := q.c.XRangeN(ctx, stream, "-", strconv.FormatInt(cutoff.UnixMilli()-1, 10), 100).Result()
			if err != nil && !errors.Is(err, redis.Nil) {
				return dropped, err
			}
			if len(entries) == 0 {
				break
			}
			opened := q.open(ctx, stream, entries) // one that does not open is removed by open
			for _, m := range opened {
				if err := q.finish(ctx, m); err != nil && !errors.Is(err, errEventReplay) {
					return dropped, err
				}
				dropped = append(dropped, m)
			}
		}
		if n, err := q.c.XLen(ctx, stream).Result(); err == nil && n == 0 {
			// Forgotten once empty (a publish marks it again).
			q.c.SRem(ctx, eventQueuesKey, name)
		}
	}
	return dropped, nil
}

// expireUnheard drops what waited eventUnheardTTL on the queues no active
// handler listens to (byQueue's are listened to), logging each message.
func (s *Server) expireUnheard(ctx context.Context, q eventQueue, byQueue map[string][]*handlerLoaded, now time.Time) {
	listened := make(map[string]bool, len(byQueue))
	for name := range byQueue {
		listened[name] = true
	}
	dropped, err := q.expireUnheard(ctx, listened, now.Add(-eventUnheardTTL))
	for _, m := range dropped {
		s.log.Warn("event message dropped: no active event handler listened to its queue for "+eventUnheardTTL.String(),
			"queue", m.Queue, "messageId", m.ID)
	}
	if err != nil && ctx.Err() == nil {
		s.log.Warn("event queue: dropping messages nobody listens to", "error", s.masker.MaskString(err.Error()))
	}
}
