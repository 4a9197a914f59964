package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// A conductor queue (a Redis stream, or records in the run store) keeps a
// ledger: which of its messages were published, which handled, and which
// actions of the messages in flight were started. Storage is not trusted
// (anyone who can write to Redis or the run store, without the keyring,
// must not make a message act twice), so:
//
//   - the ledger is sealed with the keyring, bound to its queue; it has an
//     epoch (random, new whenever a ledger is started) and numbers the
//     messages published in it (Next); each message is sealed bound to its
//     queue, id, epoch and number, so it cannot be renumbered;
//   - before an action of a handler runs for a message, the action is
//     recorded as started in the ledger (Acts; a compare-and-swap in
//     Redis, a transaction in the run store), and it runs only if nobody
//     recorded it before: a message delivered again (its process died, or
//     an action failed for a transient reason) runs only the actions not
//     started yet, as Conductor's EventExecution records (IN_PROGRESS
//     first, refused when present) do. An action that failed for a
//     transient reason is taken out again, so the next delivery runs it;
//   - a message is marked handled (its number, Done/Floor) once all its
//     handlers' actions ran, and then acknowledged; a copy of it added
//     again, or a withdrawn one, is refused;
//   - a ledger that does not open, or is missing, handles nothing of its
//     old epoch (a publisher starts a new one): deleting or damaging it
//     loses messages not yet handled, and replays none;
//   - every process remembers the latest version of each ledger epoch it
//     saw: a ledger put back at an older version (a copy saved before the
//     message was handled) is refused as damaged.
//
// What remains: a writer who saves the ledger and puts it back, together
// with a handled message, after every serve process sharing the queue
// restarted (or after this memory of 100 000 epochs is reset), replays
// that message once per restart. An action started by a process that
// died before it recorded the outcome is not run again (it may have run):
// at most once per action.

// eventLedger is a queue's ledger: its epoch, the number of the last
// message published, every number up to Floor handled or withdrawn, and
// the handled ones above it (Done), under version Ver.
type eventLedger struct {
	Epoch string   `json:"epoch"`
	Next  uint64   `json:"next"`
	Floor uint64   `json:"floor"`
	Done  []uint64 `json:"done,omitempty"`
	Ver   uint64   `json:"ver"`
	// Acts are the actions started for each message in flight (by
	// number): "handler\x00index".
	Acts map[string][]string `json:"acts,omitempty"`
	// Tries counts the transient failures of the actions of each message
	// in flight (by number). Such a message is delivered again even once
	// Floor passed it, and its action is given up (recorded FAILED) at its
	// eventTransientMax-th failure: every one keeps its hold until then.
	Tries map[string]int `json:"tries,omitempty"`
}

// check reports errEventReplay unless m is a message of l not handled yet.
func (l *eventLedger) check(m eventMessage) error {
	held := l.Tries[strconv.FormatUint(m.seq, 10)] > 0
	if l.Epoch != m.epoch || m.seq == 0 || m.seq > l.Next || (m.seq <= l.Floor && !held) || slices.Contains(l.Done, m.seq) {
		return fmt.Errorf("%w: message %s of queue %s (epoch %s number %d; the ledger's epoch %s, %d published, %d and %v handled)",
			errEventReplay, m.ID, m.Queue, m.epoch, m.seq, l.Epoch, l.Next, l.Floor, l.Done)
	}
	return nil
}

// startAction records action key of m as started; false when it was.
func (l *eventLedger) startAction(m eventMessage, key string) (bool, error) {
	if err := l.check(m); err != nil {
		return false, err
	}
	n := strconv.FormatUint(m.seq, 10)
	if slices.Contains(l.Acts[n], key) {
		return false, nil
	}
	if l.Acts == nil {
		l.Acts = map[string][]string{}
	}
	l.Acts[n] = append(l.Acts[n], key)
	return true, nil
}

// dropAction takes action key of m, which failed for a transient reason,
// out: the next delivery runs it. At the eventTransientMax-th transient
// failure of m's actions it is left in instead and dropAction is false:
// the action is given up (the caller records it FAILED).
func (l *eventLedger) dropAction(m eventMessage, key string) bool {
	n := strconv.FormatUint(m.seq, 10)
	if l.Tries == nil {
		l.Tries = map[string]int{}
	}
	l.Tries[n]++
	if l.Tries[n] >= eventTransientMax {
		return false
	}
	l.Acts[n] = slices.DeleteFunc(l.Acts[n], func(k string) bool { return k == key })
	if len(l.Acts[n]) == 0 {
		delete(l.Acts, n)
	}
	// Not bounded here: every held message keeps its hold until it
	// finishes (its actions ran, or were given up and recorded FAILED).
	// A held message stays in its queue (a Redis stream entry, a record)
	// until then and counts in its queue's bound (eventQueueMax:
	// waiting, XLEN), so no more than that are held at once.
	return true
}

// eventTransientMax bounds the transient failures of a message's actions:
// at the last one the action is recorded FAILED and the message finishes.
const eventTransientMax = 10

// finish marks m handled.
func (l *eventLedger) finish(m eventMessage) error {
	if err := l.check(m); err != nil {
		return err
	}
	n := strconv.FormatUint(m.seq, 10)
	delete(l.Tries, n)
	if m.seq > l.Floor {
		l.Done = append(l.Done, m.seq)
		slices.Sort(l.Done)
	} // else it was held past the floor by Tries: finished now.
	raise := func() {
		for len(l.Done) > 0 && l.Done[0] == l.Floor+1 {
			l.Floor++
			l.Done = l.Done[1:]
		}
	}
	raise()
	if extra := len(l.Done) - eventLedgerGaps; extra > 0 {
		l.Floor = l.Done[extra-1]
		l.Done = l.Done[extra:]
		raise()
	}
	for n := range l.Acts {
		if seq, err := strconv.ParseUint(n, 10, 64); err != nil || (seq <= l.Floor && l.Tries[n] == 0) || slices.Contains(l.Done, seq) {
			delete(l.Acts, n)
		}
	}
	return nil
}

// settled: every message the ledger numbered was handled (none is held
// for a delivery again either): it can be deleted.
func (l *eventLedger) settled() bool { return l.Floor == l.Next && len(l.Tries) == 0 }

// waiting is the number of messages published and not handled yet.
func (l *eventLedger) waiting() uint64 {
	n := l.Next - l.Floor - uint64(len(l.Done))
	for k := range l.Tries {
		if seq, err := strconv.ParseUint(k, 10, 64); err == nil && seq <= l.Floor {
			n++ // held past the floor
		}
	}
	return n
}

// actionKey names action i of handler in a ledger.
func actionKey(handler string, i int) string { return handler + "\x00" + strconv.Itoa(i) }

// eventLedgerKind binds a sealed ledger to what it is (and its queue).
const eventLedgerKind = "conductor event ledger"

// eventLedgerGaps bounds Done: past it, the oldest numbers not handled
// (messages lost or deleted from Redis) are given up (refused if they
// ever come).
const eventLedgerGaps = 4096

// seenLedgers is the latest version of each ledger epoch this process saw.
type seenLedgers struct {
	mu  sync.Mutex
	ver map[string]uint64
}

func (s *seenLedgers) rolledBack(l *eventLedger) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ver[l.Epoch] > l.Ver
}

func (s *seenLedgers) note(l *eventLedger) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.ver) >= 100000 {
		s.ver = map[string]uint64{}
	}
	if l.Ver > s.ver[l.Epoch] {
		s.ver[l.Epoch] = l.Ver
	}
}

// errLedgerBusy: the ledger changed under every try.
var errLedgerBusy = errors.New("event queue ledger busy")

// errLedgerStale: the ledger read is older than one this process saw.
var errLedgerStale = errors.New("event queue ledger older than seen")

// updateLedger reads the queue's ledger, lets f change it and queue
// commands in the same transaction, and writes it back sealed (deleted
// when every message it numbered was handled: a replay then finds no
// ledger of its epoch). A missing, damaged or rolled back ledger is a new
// one when create, else errEventReplay. after sees the executed commands.
func (q *eventStreamQueue) updateLedger(ctx context.Context, name string, create bool, f func(*eventLedger, redis.Pipeliner) error, after func([]redis.Cmder)) error {
	key := eventLedgerPrefix + name
	stale := 0
	for range 50 {
		var written *eventLedger
		err := q.c.Watch(ctx, func(tx *redis.Tx) error {
			var l *eventLedger
			raw, err := tx.Get(ctx, key).Bytes()
			switch {
			case errors.Is(err, redis.Nil):
			case err != nil:
				return err
			default:
				if plain, err := q.transit.Open(raw, eventLedgerKind, name); err == nil {
					var got eventLedger
					switch {
					case json.Unmarshal(plain, &got) != nil || got.Epoch == "":
					case !q.seen.rolledBack(&got):
						l = &got
					case stale < 5:
						// Older than one this process wrote: read
						// before that write landed, or put back.
						stale++
						return errLedgerStale
					}
				}
			}
			if l == nil {
				if !create {
					return fmt.Errorf("%w: queue %s has no ledger of its epoch (missing, damaged or put back)", errEventReplay, name)
				}
				l = &eventLedger{Epoch: newRunID()}
			}
			cmds, err := tx.TxPipelined(ctx, func(pipe redis.Pipeliner) error {
				if err := f(l, pipe); err != nil {
					return err
				}
				l.Ver++
				if l.settled() {
					pipe.Del(ctx, key)
					return nil
				}
				plain, _ := json.Marshal(l)
				sealed, err := q.transit.Seal(plain, eventLedgerKind, name)
				if err != nil {
					return err
				}
				pipe.Set(ctx, key, sealed, 0)
				return nil
			})
			if err != nil {
				return err
			}
			written = l
			if after != nil {
				after(cmds)
			}
			return nil
		}, key)
		if errors.Is(err, redis.TxFailedErr) {
			continue
		}
		if errors.Is(err, errLedgerStale) {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		if err == nil {
			q.seen.note(written)
		}
		return err
	}
	return fmt.Errorf("%w: queue %s", errLedgerBusy, name)
}

// finish marks message m handled in its queue's ledger; a message of
// another epoch, not numbered yet, or marked already is errEventReplay.
func (q *eventStreamQueue) finishLedger(ctx context.Context, m eventMessage) error {
	return q.updateLedger(ctx, m.Queue, false, func(l *eventLedger, _ redis.Pipeliner) error { return l.finish(m) }, nil)
}
