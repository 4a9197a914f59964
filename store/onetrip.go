package store

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"
)

// ReadCommitter is a Storage that can read records and commit in one round
// trip. ReadCommit returns the records under keys as they were at one
// instant and, at that same instant, applies writes if every condition
// holds (committed reports whether it did). Audit record keys cannot be
// read this way.
//
// The Barrier uses it to read a run's secrets and record the reads' audit
// events in one round trip: it predicts the records from what it last saw,
// builds the events from the prediction, and commits them on condition that
// the records are exactly the predicted ones. When they are not, nothing is
// committed and the records returned are the next prediction.
type ReadCommitter interface {
	ReadCommit(ctx context.Context, keys []string, conds []Cond, writes []Write) (got [][]byte, committed bool, err error)
}

// readAuditedOnce is readAudited on a ReadCommitter: each attempt is one
// round trip, and the events are committed only if the records are those
// they were decided on (the same rule as the two-step path). done is false
// when the keys need no read (the caller's generic path handles them).
func (s *Barrier) readAuditedOnce(ctx context.Context, rc ReadCommitter, keys []Key, decide func(map[Key]*Secret, map[Key]error) []AuditEvent) (done bool, err error) {
	want, rkeys, invalid, err := recordKeys(keys)
	if err != nil {
		return true, err
	}
	if len(want) == 0 {
		return false, nil
	}
	l := s.sh.audit
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.cached {
		data, h, err := l.head(ctx)
		if err != nil {
			return true, err
		}
		l.cached, l.headData, l.headRecord = true, data, h
	}
	principal, _ := ctx.Value(ctxPrincipal).(string)
	ri := runInfoOf(ctx)
	read := append(append([]string(nil), rkeys...), auditHeadKey)
	pred := s.sh.seen.get(rkeys)
	for range 100 {
		found, errs := map[Key]*Secret{}, make(map[Key]error, len(invalid)+len(want))
		for k, e := range invalid {
			errs[k] = e
		}
		s.sh.openRecords(want, rkeys, pred, found, errs)
		evs := decide(found, errs)
		if len(evs) == 0 {
			return false, nil
		}
		now := s.sh.now().UTC().Truncate(time.Millisecond)
		writes, h, hdata, err := l.chain(l.headRecord, now, principal, ri, evs)
		if err != nil {
			return true, err
		}
		conds := make([]Cond, 0, len(rkeys)+1)
		conds = append(conds, Cond{auditHeadKey, l.headData})
		for i, k := range rkeys {
			conds = append(conds, Cond{k, pred[i]})
		}
		got, ok, err := rc.ReadCommit(ctx, read, conds, writes)
		if err != nil {
			l.cached = false
			return true, fmt.Errorf("audit: %w", err)
		}
		if len(got) != len(read) {
			l.cached = false
			return true, fmt.Errorf("audit: %w: storage returned %d records for %d keys", ErrIntegrity, len(got), len(read))
		}
		if ok {
			// The records were the predicted ones when the events were
			// committed: what decide saw is what the run reads.
			l.headData, l.headRecord = hdata, h
			s.sh.seen.put(rkeys, pred)
			return true, nil
		}
		// Something differed (a record, or the head: another process
		// appended). Nothing was committed; decide again on what was there.
		pred = got[:len(rkeys)]
		s.sh.seen.put(rkeys, pred)
		if head := got[len(rkeys)]; string(head) != string(l.headData) {
			fresh, err := l.openHead(head)
			if err != nil {
				l.cached = false
				return true, err
			}
			l.headData, l.headRecord = head, fresh
		}
	}
	return true, fmt.Errorf("audit: %w: the secrets kept changing while being read", ErrConflict)
}

// recordCache holds the last known sealed bytes of current records (never
// an opened value). It is only a prediction: a wrong entry costs a retry,
// never a wrong read, because commits are conditional on it.
type recordCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

// maxSeen bounds the cache; past it the cache starts over.
const maxSeen = 1 << 14

func (c *recordCache) get(keys []string) [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = c.m[k]
	}
	return out
}

func (c *recordCache) put(keys []string, vals [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m)+len(keys) > maxSeen {
		c.m = make(map[string][]byte, len(keys))
	}
	for i, k := range keys {
		if vals[i] == nil {
			delete(c.m, k) // absent is the default prediction
			continue
		}
		c.m[k] = vals[i]
	}
}

// rememberRead notes records read under keys.
func (b *barrier) rememberRead(keys []string, got [][]byte) {
	if _, ok := b.st.(ReadCommitter); ok {
		b.seen.put(keys, got)
	}
}

// remember notes the current records a commit wrote.
func (b *barrier) remember(writes []Write) {
	if _, ok := b.st.(ReadCommitter); !ok {
		return
	}
	var keys []string
	var vals [][]byte
	for _, w := range writes {
		if strings.HasPrefix(w.Key, kindCurrent+"/") {
			keys, vals = append(keys, w.Key), append(vals, w.Value)
		}
	}
	if len(keys) > 0 {
		b.seen.put(keys, vals)
	}
}
