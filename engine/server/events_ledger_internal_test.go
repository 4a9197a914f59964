package server

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestEventLedgerKeepsARetriedMessagePastItsGaps: a message whose action
// failed for a transient reason (taken out of Acts, the message released
// for a later delivery) is still delivered once eventLedgerGaps later
// messages of its queue finished and the Floor passed it: its action runs
// then (and the one it completed before does not run again), it finishes,
// and only then is a copy of it refused and the ledger settled.
func TestEventLedgerKeepsARetriedMessagePastItsGaps(t *testing.T) {
	l := &eventLedger{Epoch: "e"}
	msg := func(seq uint64) eventMessage { return eventMessage{Queue: "q", ID: "m", epoch: "e", seq: seq} }
	l.Next = eventLedgerGaps + 2
	stuck := msg(1)
	for i := range 2 {
		if ok, err := l.startAction(stuck, actionKey("h", i)); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	if !l.dropAction(stuck, actionKey("h", 1)) { // transient failure: delivered again later
		t.Fatal("given up at the first failure")
	}
	for s := uint64(2); s <= uint64(eventLedgerGaps)+2; s++ {
		if err := l.finish(msg(s)); err != nil {
			t.Fatal(err)
		}
	}
	if l.Floor < 1 {
		t.Fatalf("the floor did not pass the retried message (floor %d, %d done)", l.Floor, len(l.Done))
	}
	if len(l.Done) > eventLedgerGaps {
		t.Errorf("Done holds %d numbers, more than %d", len(l.Done), eventLedgerGaps)
	}
	if l.settled() {
		t.Error("the ledger would be deleted with a message held for its next delivery")
	}
	if ok, err := l.startAction(stuck, actionKey("h", 0)); ok || err != nil {
		t.Errorf("the action the message completed before: started again %v, %v", ok, err)
	}
	if ok, err := l.startAction(stuck, actionKey("h", 1)); !ok || err != nil {
		t.Errorf("the redelivered message's action is refused (floor %d): %v %v", l.Floor, ok, err)
	}
	if err := l.finish(stuck); err != nil {
		t.Fatal(err)
	}
	if err := l.check(stuck); !errors.Is(err, errEventReplay) {
		t.Errorf("a copy of the finished message: %v", err)
	}
	if !l.settled() || len(l.Tries) != 0 || len(l.Acts) != 0 {
		t.Errorf("ledger not settled: floor %d next %d tries %v acts %v", l.Floor, l.Next, l.Tries, l.Acts)
	}
}

// TestEventLedgerKeepsEveryHeldMessage: more messages than
// eventLedgerGaps failing for a transient reason at once each keep their
// hold while later messages finish and the Floor passes them all: each is
// delivered again, and its action is given up (the caller records it
// FAILED) at its eventTransientMax-th failure, none refused as handled.
func TestEventLedgerKeepsEveryHeldMessage(t *testing.T) {
	l := &eventLedger{Epoch: "e"}
	msg := func(seq uint64) eventMessage {
		return eventMessage{Queue: "q", ID: "m" + strconv.FormatUint(seq, 10), epoch: "e", seq: seq}
	}
	held := uint64(eventLedgerGaps + 100)
	l.Next = 2*held + 1
	for s := uint64(1); s <= held; s++ {
		if ok, err := l.startAction(msg(s), actionKey("h", 0)); !ok || err != nil {
			t.Fatal(s, ok, err)
		}
		if !l.dropAction(msg(s), actionKey("h", 0)) {
			t.Fatal("given up at the first failure")
		}
	}
	for s := held + 1; s <= 2*held+1; s++ {
		if err := l.finish(msg(s)); err != nil {
			t.Fatal(err)
		}
	}
	if l.Floor < held {
		t.Fatalf("the floor did not pass the held messages (floor %d)", l.Floor)
	}
	lost := 0
	for s := uint64(1); s <= held; s++ {
		if err := l.check(msg(s)); err != nil {
			lost++
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d held messages lost their hold", lost, held)
	}
	for s := uint64(1); s <= held; s++ {
		m := msg(s)
		for try := 2; ; try++ {
			ok, err := l.startAction(m, actionKey("h", 0))
			if !ok || err != nil {
				t.Fatalf("message %d, try %d: %v %v", s, try, ok, err)
			}
			if !l.dropAction(m, actionKey("h", 0)) {
				if try != eventTransientMax {
					t.Fatalf("message %d given up at try %d", s, try)
				}
				break
			}
		}
		if err := l.finish(m); err != nil {
			t.Fatalf("message %d given up: %v", s, err)
		}
	}
	if !l.settled() {
		t.Errorf("ledger not settled: floor %d next %d tries %d", l.Floor, l.Next, len(l.Tries))
	}
}

// TestEventActionGivenUpAfterTransientFailures: an action that keeps
// failing for a transient reason is delivered again eventTransientMax-1
// times; at its eventTransientMax-th failure it is recorded FAILED (not
// removed) and the message finishes. On the run store and on Redis.
func TestEventActionGivenUpAfterTransientFailures(t *testing.T) {
	queues := map[string]func(t *testing.T) eventQueue{
		"run store": func(t *testing.T) eventQueue {
			q := newTestRecordQueue(t)
			q.redeliver = 10 * time.Millisecond
			return q
		},
		"redis": func(t *testing.T) eventQueue {
			q, _ := newTestStreamQueue(t)
			q.reclaimIdle = 10 * time.Millisecond
			return q
		},
	}
	for name, mk := range queues {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			q := mk(t)
			if err := q.Publish(ctx, "conductor:wf:a", "m1", []byte(`{"n":1}`)); err != nil {
				t.Fatal(err)
			}
			for try := 1; try <= eventTransientMax; try++ {
				var got []eventMessage
				for deadline := time.Now().Add(5 * time.Second); len(got) == 0; {
					var err error
					if got, err = q.take(ctx, []string{"wf:a"}, 1, 100*time.Millisecond); err != nil {
						t.Fatal(err)
					}
					if time.Now().After(deadline) {
						t.Fatalf("delivery %d: the message is not delivered again", try)
					}
				}
				m := got[0]
				if err := q.begin(ctx, m); err != nil {
					t.Fatalf("delivery %d: %v", try, err)
				}
				x := &eventExecution{ID: "m1_0", MessageID: "m1", Name: "h", Event: "conductor:wf:a", Status: execInProgress,
					Output: map[string]any{"exception": "busy"}}
				if ok, err := q.startAction(ctx, m, actionKey("h", 0), x); !ok || err != nil {
					t.Fatalf("delivery %d: start %v %v", try, ok, err)
				}
				if err := q.endAction(ctx, m, actionKey("h", 0), x, true); err != nil {
					t.Fatal(err)
				}
				if try < eventTransientMax {
					if x.Status != execInProgress {
						t.Fatalf("delivery %d: given up early (%s)", try, x.Status)
					}
					q.release(ctx, m)
					continue
				}
				if x.Status != execFailed {
					t.Fatalf("delivery %d: not given up (%s)", try, x.Status)
				}
				if err := q.finish(ctx, m); err != nil {
					t.Fatal(err)
				}
			}
			execs, err := q.executions(ctx, "h")
			if err != nil || len(execs) != 1 || execs[0].Status != execFailed || execs[0].Output["exception"] != "busy" {
				t.Errorf("executions: %+v %v", execs, err)
			}
			if got, _ := q.take(ctx, []string{"wf:a"}, 1, 200*time.Millisecond); len(got) != 0 {
				t.Errorf("the given-up message is delivered again: %v", got)
			}
		})
	}
}

// TestEventQueueBoundPerQueue: one conductor queue nobody takes from
// stops at its own bound, with a one-line error naming it, while the
// other queues still take messages; a message of it handled makes room.
// On the run store and on Redis.
func TestEventQueueBoundPerQueue(t *testing.T) {
	queues := map[string]func(t *testing.T) eventQueue{
		"run store": func(t *testing.T) eventQueue {
			q := newTestRecordQueue(t)
			q.perQ = 3
			return q
		},
		"redis": func(t *testing.T) eventQueue {
			q, _ := newTestStreamQueue(t)
			q.perQ = 3
			return q
		},
	}
	for name, mk := range queues {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			q := mk(t)
			for i := range 3 {
				if err := q.Publish(ctx, "conductor:wf:deaf", "m"+strconv.Itoa(i), []byte(`{}`)); err != nil {
					t.Fatal(err)
				}
			}
			err := q.Publish(ctx, "conductor:wf:deaf", "over", []byte(`{}`))
			if !errors.Is(err, errEventQueueFull) || !strings.Contains(err.Error(), "conductor queue conductor:wf:deaf holds 3 messages") || strings.Contains(err.Error(), "\n") {
				t.Fatalf("past the queue's bound: %v", err)
			}
			for i := range 3 {
				if err := q.Publish(ctx, "conductor:wf:other", "o"+strconv.Itoa(i), []byte(`{}`)); err != nil {
					t.Fatalf("another queue refused: %v", err)
				}
			}
			got, err := q.take(ctx, []string{"wf:deaf"}, 1, time.Second)
			if err != nil || len(got) != 1 {
				t.Fatalf("take: %v %v", got, err)
			}
			if err := q.begin(ctx, got[0]); err != nil {
				t.Fatal(err)
			}
			if err := q.finish(ctx, got[0]); err != nil {
				t.Fatal(err)
			}
			if err := q.Publish(ctx, "conductor:wf:deaf", "room", []byte(`{}`)); err != nil {
				t.Errorf("after a message was handled: %v", err)
			}
		})
	}
}
