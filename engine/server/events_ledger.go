package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// A conductor queue in Redis (eventStreamQueue) keeps a ledger: which of
// its messages were published and which handled. Redis is not trusted
// (anyone who can write to it, without the keyring, must not make a
// message act twice), so:
//
//   - the ledger is sealed with the keyring, bound to its queue; it has an
//     epoch (random, new whenever a ledger is started) and numbers the
//     messages published in it (Next); each message is sealed bound to its
//     queue, id, epoch and number, so it cannot be renumbered;
//   - a message is claimed in the ledger (its number marked handled, by a
//     compare-and-swap) before its handlers run, and handled only if the
//     claim succeeds: a copy of it added again, a second delivery (a
//     message reclaimed from a live process), or a withdrawn one is
//     refused;
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
// that message once per restart. A message is claimed before it is
// handled: a process that dies in between loses it (at most once, as a
// replayed message is never run).

// eventLedger is a queue's ledger: its epoch, the number of the last
// message published, every number up to Floor handled or withdrawn, and
// the handled ones above it (Done), under version Ver.
type eventLedger struct {
	Epoch string   `json:"epoch"`
	Next  uint64   `json:"next"`
	Floor uint64   `json:"floor"`
	Done  []uint64 `json:"done,omitempty"`
	Ver   uint64   `json:"ver"`
}

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
				if l.Floor == l.Next {
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

// claim marks message m handled in its queue's ledger; a message of
// another epoch, not numbered yet, or marked already is errEventReplay.
func (q *eventStreamQueue) claim(ctx context.Context, m eventMessage) error {
	return q.updateLedger(ctx, m.Queue, false, func(l *eventLedger, _ redis.Pipeliner) error {
		if l.Epoch != m.epoch || m.seq == 0 || m.seq > l.Next || m.seq <= l.Floor || slices.Contains(l.Done, m.seq) {
			return fmt.Errorf("%w: message %s of queue %s (epoch %s number %d; the ledger's epoch %s, %d published, %d and %v handled)",
				errEventReplay, m.ID, m.Queue, m.epoch, m.seq, l.Epoch, l.Next, l.Floor, l.Done)
		}
		l.Done = append(l.Done, m.seq)
		slices.Sort(l.Done)
		for len(l.Done) > 0 && l.Done[0] == l.Floor+1 {
			l.Floor++
			l.Done = l.Done[1:]
		}
		if extra := len(l.Done) - eventLedgerGaps; extra > 0 {
			l.Floor = l.Done[extra-1]
			l.Done = l.Done[extra:]
		}
		return nil
	}, nil)
}
