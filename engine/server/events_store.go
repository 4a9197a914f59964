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

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/runsecrets"
)

// eventRecordQueue keeps the conductor queues in the run store's records
// (runstore.Records) when serve processes do not share Redis: bolt by
// default, so messages not handled yet outlive a restart and are
// delivered by the next serve (an in-memory run store keeps them as long
// as the process). Each queue has a space holding its sealed ledger
// (events_ledger.go), its sealed messages by number and an index of their
// ids; each handler a space of sealed executions (events_exec.go).
type eventRecordQueue struct {
	recs    runstore.Records
	transit *runsecrets.Transit
	max     int // eventQueuedMax; smaller in tests
	perQ    int // eventQueueMax; smaller in tests
	seen    seenLedgers
	// redeliver is how long a released message waits before it is taken
	// again (eventReclaimIdle; shorter in tests).
	redeliver time.Duration

	mu       sync.Mutex
	turn     int
	inFlight map[string]bool      // queue \x00 number: taken, not finished
	notUntil map[string]time.Time // released: not taken again before
	notify   chan struct{}        // closed and replaced on every publish
}

func newEventRecordQueue() *eventRecordQueue {
	return &eventRecordQueue{max: eventQueuedMax, perQ: eventQueueMax, seen: seenLedgers{ver: map[string]uint64{}}, redeliver: eventReclaimIdle,
		inFlight: map[string]bool{}, notUntil: map[string]time.Time{}, notify: make(chan struct{})}
}

// Spaces and keys of the records.
const (
	eventQueueSpace   = "event-queue:" // + queue: "ledger", "m/<number>", "id/<message id>"
	eventExecSpace    = "event-exec:"  // + handler: "t/<created>/<id>", "i/<id>"
	eventCountSpace   = "event-queues"
	eventCountKey     = "queued"
	eventLedgerRecord = "ledger"
)

func msgKey(seq uint64) string { return fmt.Sprintf("m/%020d", seq) }

// storedEventMessage is a message as its queue keeps it.
type storedEventMessage struct {
	ID        string `json:"id"`
	Epoch     string `json:"epoch"`
	Seq       uint64 `json:"seq"`
	Sealed    []byte `json:"sealed"`
	Publisher []byte `json:"publisher,omitempty"`
	// At is when it was published (Unix ms): unheard, it expires
	// (events_expire.go).
	At int64 `json:"at,omitempty"`
}

// ledger reads the queue's ledger in tx: nil when it is missing, does not
// open, or is older than one this process saw.
func (q *eventRecordQueue) ledger(tx runstore.RecordTx, name string) *eventLedger {
	raw := tx.Get(eventQueueSpace+name, eventLedgerRecord)
	if raw == nil {
		return nil
	}
	plain, err := q.transit.Open(raw, eventLedgerKind, name)
	if err != nil {
		return nil
	}
	var l eventLedger
	if json.Unmarshal(plain, &l) != nil || l.Epoch == "" || q.seen.rolledBack(&l) {
		return nil
	}
	return &l
}

// updateLedger is eventStreamQueue.updateLedger over the records: f
// changes the ledger (and the records) in one transaction.
func (q *eventRecordQueue) updateLedger(ctx context.Context, name string, create bool, f func(*eventLedger, runstore.RecordTx) error) error {
	var written *eventLedger
	err := q.recs.UpdateRecords(ctx, func(tx runstore.RecordTx) error {
		l := q.ledger(tx, name)
		if l == nil {
			if !create {
				return fmt.Errorf("%w: queue %s has no ledger of its epoch (missing, damaged or put back)", errEventReplay, name)
			}
			l = &eventLedger{Epoch: newRunID()}
		}
		if err := f(l, tx); err != nil {
			return err
		}
		l.Ver++
		written = l
		if l.settled() {
			return tx.Delete(eventQueueSpace+name, eventLedgerRecord)
		}
		plain, _ := json.Marshal(l)
		sealed, err := q.transit.Seal(plain, eventLedgerKind, name)
		if err != nil {
			return err
		}
		return tx.Put(eventQueueSpace+name, eventLedgerRecord, sealed)
	})
	if err == nil && written != nil {
		q.seen.note(written)
	}
	return err
}

func queuedCount(tx runstore.RecordTx) int {
	n, _ := strconv.Atoi(string(tx.Get(eventCountSpace, eventCountKey)))
	return n
}

func addQueued(tx runstore.RecordTx, d int) error {
	n := max(queuedCount(tx)+d, 0)
	return tx.Put(eventCountSpace, eventCountKey, []byte(strconv.Itoa(n)))
}

// Publish adds the sealed message at the end of its queue, numbered in
// its queue's ledger, unless it holds q.perQ messages or the queues q.max.
func (q *eventRecordQueue) Publish(ctx context.Context, queue, id string, payload []byte) error {
	name, ok := strings.CutPrefix(queue, engine.ConductorQueueType+":")
	if !ok {
		return fmt.Errorf("not a conductor queue: %s", queue)
	}
	pub := publisherOf(ctx)
	err := q.updateLedger(ctx, name, true, func(l *eventLedger, tx runstore.RecordTx) error {
		if l.waiting() >= uint64(q.perQ) {
			return queueFull(queue, q.perQ, false)
		}
		if queuedCount(tx) >= q.max {
			return queueFull(queue, q.max, true)
		}
		l.Next++
		binding := messageBinding(name, id, l.Epoch, l.Next)
		st := storedEventMessage{ID: id, Epoch: l.Epoch, Seq: l.Next, At: time.Now().UnixMilli()}
		var err error
		if st.Sealed, err = q.transit.Seal(payload, eventTransitKind, binding); err != nil {
			return err
		}
		if pub != nil {
			plain, _ := json.Marshal(pub)
			if st.Publisher, err = q.transit.Seal(plain, eventPublisherKind, binding); err != nil {
				return err
			}
		}
		b, _ := json.Marshal(st)
		space := eventQueueSpace + name
		if err := tx.Put(space, msgKey(l.Next), b); err != nil {
			return err
		}
		if err := tx.Put(space, "id/"+id, []byte(strconv.FormatUint(l.Next, 10))); err != nil {
			return err
		}
		if err := tx.Put(eventCountSpace, eventQueuesKeyPrefix+name, []byte{1}); err != nil {
			return err
		}
		return addQueued(tx, 1)
	})
	if err != nil {
		if errors.Is(err, errEventQueueFull) {
			return err
		}
		return fmt.Errorf("publish to %s: %w", queue, err)
	}
	q.mu.Lock()
	close(q.notify)
	q.notify = make(chan struct{})
	q.mu.Unlock()
	return nil
}

// removeMessage deletes message seq of queue name (and its id's entry).
func removeMessage(tx runstore.RecordTx, name string, seq uint64, id string) error {
	space := eventQueueSpace + name
	if tx.Get(space, msgKey(seq)) == nil {
		return nil
	}
	if err := tx.Delete(space, msgKey(seq)); err != nil {
		return err
	}
	if string(tx.Get(space, "id/"+id)) == strconv.FormatUint(seq, 10) {
		if err := tx.Delete(space, "id/"+id); err != nil {
			return err
		}
	}
	return addQueued(tx, -1)
}

// Ack withdraws the message id (a cancelled EVENT task's): one not
// handled yet is not handled, nor is a copy of it added again.
func (q *eventRecordQueue) Ack(ctx context.Context, queue, id string) error {
	name := strings.TrimPrefix(queue, engine.ConductorQueueType+":")
	var seq uint64
	_ = q.recs.ViewRecords(ctx, func(tx runstore.RecordTx) error {
		seq, _ = strconv.ParseUint(string(tx.Get(eventQueueSpace+name, "id/"+id)), 10, 64)
		return nil
	})
	if seq == 0 {
		return nil // handled, or never published here
	}
	var epoch string
	_ = q.recs.ViewRecords(ctx, func(tx runstore.RecordTx) error {
		var st storedEventMessage
		if json.Unmarshal(tx.Get(eventQueueSpace+name, msgKey(seq)), &st) == nil {
			epoch = st.Epoch
		}
		return nil
	})
	err := q.finish(ctx, eventMessage{Queue: name, ID: id, epoch: epoch, seq: seq})
	if err != nil && !errors.Is(err, errEventReplay) {
		return fmt.Errorf("ack on %s: %w", queue, err)
	}
	return nil
}

func flightKey(name string, seq uint64) string { return name + "\x00" + strconv.FormatUint(seq, 10) }

// take serves the queues in turn, one message of each per round, starting
// one queue further every time: a busy queue does not starve the others.
// A message taken and not finished is not taken again by this process
// until it is released and its wait passed.
func (q *eventRecordQueue) take(ctx context.Context, queues []string, n int, wait time.Duration) ([]eventMessage, error) {
	timer := time.NewTimer(wait)
	defer timer.Stop()
	for {
		q.mu.Lock()
		ch := q.notify
		start := 0
		if len(queues) > 0 {
			start = q.turn % len(queues)
		}
		q.turn++
		q.mu.Unlock()
		out, bad, err := q.collect(ctx, queues, start, n)
		if err != nil {
			return nil, err
		}
		if len(bad) > 0 {
			// Not sealed by a process holding the keyring, or moved:
			// dropped.
			_ = q.recs.UpdateRecords(ctx, func(tx runstore.RecordTx) error {
				for _, b := range bad {
					if err := removeMessage(tx, b.Queue, b.seq, b.ID); err != nil {
						return err
					}
				}
				return nil
			})
		}
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

// collect reads up to n messages to take, and the ones that do not open.
func (q *eventRecordQueue) collect(ctx context.Context, queues []string, start, n int) (out, bad []eventMessage, err error) {
	if len(queues) == 0 {
		return nil, nil, nil // nobody listens: the store is not read
	}
	now := time.Now()
	q.mu.Lock()
	defer q.mu.Unlock()
	err = q.recs.ViewRecords(ctx, func(tx runstore.RecordTx) error {
		// The candidates of each queue, in order.
		cands := make([][]eventMessage, len(queues))
		for i := range queues {
			name := queues[(start+i)%len(queues)]
			tx.Scan(eventQueueSpace+name, "m/", func(_ string, v []byte) bool {
				var st storedEventMessage
				if json.Unmarshal(v, &st) != nil {
					return true
				}
				k := flightKey(name, st.Seq)
				if q.inFlight[k] || now.Before(q.notUntil[k]) {
					return true
				}
				m, ok := q.open(name, st)
				if !ok {
					bad = append(bad, eventMessage{Queue: name, ID: st.ID, seq: st.Seq})
					return true
				}
				cands[i] = append(cands[i], m)
				return len(cands[i]) < n
			})
		}
		for more := true; more && len(out) < n; {
			more = false
			for i := range cands {
				if len(cands[i]) == 0 || len(out) == n {
					continue
				}
				out = append(out, cands[i][0])
				cands[i] = cands[i][1:]
				more = more || len(cands[i]) > 0
			}
		}
		return nil
	})
	for _, m := range out {
		k := flightKey(m.Queue, m.seq)
		q.inFlight[k] = true
		delete(q.notUntil, k)
	}
	return out, bad, err
}

// open unseals a stored message of queue name.
func (q *eventRecordQueue) open(name string, st storedEventMessage) (eventMessage, bool) {
	binding := messageBinding(name, st.ID, st.Epoch, st.Seq)
	plain, err := q.transit.Open(st.Sealed, eventTransitKind, binding)
	if err != nil {
		return eventMessage{}, false
	}
	m := eventMessage{Queue: name, ID: st.ID, Payload: plain, epoch: st.Epoch, seq: st.Seq}
	if len(st.Publisher) > 0 {
		var p engine.EventPublisher
		if b, err := q.transit.Open(st.Publisher, eventPublisherKind, binding); err == nil && json.Unmarshal(b, &p) == nil {
			m.Publisher = &p
		}
	}
	return m, true
}

func (q *eventRecordQueue) begin(ctx context.Context, m eventMessage) error {
	var err error
	_ = q.recs.ViewRecords(ctx, func(tx runstore.RecordTx) error {
		l := q.ledger(tx, m.Queue)
		if l == nil {
			err = fmt.Errorf("%w: queue %s has no ledger of its epoch (missing, damaged or put back)", errEventReplay, m.Queue)
			return nil
		}
		err = l.check(m)
		return nil
	})
	return err
}

// putExecution writes x in tx, keeping the newest eventExecutionsKept of
// its handler.
func (q *eventRecordQueue) putExecution(tx runstore.RecordTx, x *eventExecution) error {
	sealed, err := sealExecution(q.transit.Seal, x)
	if err != nil {
		return err
	}
	space := eventExecSpace + x.Name
	if old := tx.Get(space, "i/"+x.ID); old != nil {
		if err := tx.Delete(space, string(old)); err != nil {
			return err
		}
	}
	tk := fmt.Sprintf("t/%013d/%s", x.Created, x.ID)
	if err := tx.Put(space, tk, sealed); err != nil {
		return err
	}
	if err := tx.Put(space, "i/"+x.ID, []byte(tk)); err != nil {
		return err
	}
	var keys []string
	tx.Scan(space, "t/", func(k string, _ []byte) bool {
		keys = append(keys, k)
		return true
	})
	for _, k := range keys[:max(len(keys)-eventExecutionsKept, 0)] {
		id := k[strings.LastIndexByte(k, '/')+1:]
		if err := tx.Delete(space, k); err != nil {
			return err
		}
		if err := tx.Delete(space, "i/"+id); err != nil {
			return err
		}
	}
	return nil
}

func (q *eventRecordQueue) dropExecutions(ctx context.Context, handler string) error {
	space := eventExecSpace + handler
	return q.recs.UpdateRecords(ctx, func(tx runstore.RecordTx) error {
		var keys []string
		tx.Scan(space, "", func(k string, _ []byte) bool {
			keys = append(keys, k)
			return true
		})
		for _, k := range keys {
			if err := tx.Delete(space, k); err != nil {
				return err
			}
		}
		return nil
	})
}

func deleteExecution(tx runstore.RecordTx, x *eventExecution) error {
	space := eventExecSpace + x.Name
	if old := tx.Get(space, "i/"+x.ID); old != nil {
		if err := tx.Delete(space, string(old)); err != nil {
			return err
		}
	}
	return tx.Delete(space, "i/"+x.ID)
}

func (q *eventRecordQueue) startAction(ctx context.Context, m eventMessage, key string, x *eventExecution) (bool, error) {
	var started bool
	err := q.updateLedger(ctx, m.Queue, false, func(l *eventLedger, tx runstore.RecordTx) error {
		var err error
		if started, err = l.startAction(m, key); err != nil || !started {
			return err
		}
		return q.putExecution(tx, x)
	})
	return started, err
}

func (q *eventRecordQueue) endAction(ctx context.Context, m eventMessage, key string, x *eventExecution, again bool) error {
	if !again {
		return q.recs.UpdateRecords(ctx, func(tx runstore.RecordTx) error { return q.putExecution(tx, x) })
	}
	return q.updateLedger(ctx, m.Queue, false, func(l *eventLedger, tx runstore.RecordTx) error {
		x.Status = execInProgress
		if !l.dropAction(m, key) {
			x.Status = execFailed
			return q.putExecution(tx, x)
		}
		return deleteExecution(tx, x)
	})
}

func (q *eventRecordQueue) record(ctx context.Context, x *eventExecution) error {
	return q.recs.UpdateRecords(ctx, func(tx runstore.RecordTx) error { return q.putExecution(tx, x) })
}

func (q *eventRecordQueue) finish(ctx context.Context, m eventMessage) error {
	var replay error
	err := q.updateLedger(ctx, m.Queue, false, func(l *eventLedger, tx runstore.RecordTx) error {
		if err := l.finish(m); err != nil {
			replay = err
			return err
		}
		return removeMessage(tx, m.Queue, m.seq, m.ID)
	})
	if replay != nil || errors.Is(err, errEventReplay) {
		// Handled already, or not of the ledger: removed all the same.
		if rerr := q.recs.UpdateRecords(ctx, func(tx runstore.RecordTx) error { return removeMessage(tx, m.Queue, m.seq, m.ID) }); rerr != nil {
			return rerr
		}
		if replay == nil {
			replay = err
		}
		err = replay
	}
	q.mu.Lock()
	delete(q.inFlight, flightKey(m.Queue, m.seq))
	q.mu.Unlock()
	return err
}

func (q *eventRecordQueue) release(_ context.Context, m eventMessage) {
	q.mu.Lock()
	defer q.mu.Unlock()
	k := flightKey(m.Queue, m.seq)
	delete(q.inFlight, k)
	q.notUntil[k] = time.Now().Add(q.redeliver)
}

func (q *eventRecordQueue) executions(ctx context.Context, handler string) ([]eventExecution, error) {
	sealed := map[string][]byte{}
	err := q.recs.ViewRecords(ctx, func(tx runstore.RecordTx) error {
		tx.Scan(eventExecSpace+handler, "t/", func(k string, v []byte) bool {
			sealed[k[strings.LastIndexByte(k, '/')+1:]] = append([]byte(nil), v...)
			return true
		})
		return nil
	})
	if err != nil {
		return nil, err
	}
	return openExecutions(q.transit.Open, handler, sealed), nil
}
