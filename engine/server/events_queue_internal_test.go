package server

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
)

func newTestRecordQueue(t *testing.T) *eventRecordQueue {
	t.Helper()
	q := newEventRecordQueue()
	q.recs = runstore.NewMemory()
	q.transit = newTestTransit(t)
	return q
}

// TestEventMemQueue: messages wait in their queue until taken, in order;
// a withdrawn (acked) one is not taken; a queue nobody takes from stops
// at its bound with an error naming the queue.
func TestEventMemQueue(t *testing.T) {
	ctx := context.Background()
	q := newTestRecordQueue(t)
	for i := range 3 {
		if err := q.Publish(ctx, "conductor:wf:a", "m"+strconv.Itoa(i), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Publish(ctx, "sqs:x", "m", nil); err == nil {
		t.Error("a message of another queue type was taken")
	}
	if err := q.Ack(ctx, "conductor:wf:a", "m1"); err != nil {
		t.Fatal(err)
	}
	if got, _ := q.take(ctx, []string{"wf:b"}, 10, 10*time.Millisecond); len(got) != 0 {
		t.Errorf("another queue gave %v", got)
	}
	got, err := q.take(ctx, []string{"wf:a"}, 10, time.Second)
	if err != nil || len(got) != 2 || got[0].ID != "m0" || got[1].ID != "m2" || got[0].Queue != "wf:a" {
		t.Fatalf("take: %v %v", got, err)
	}
	done := make(chan []eventMessage)
	go func() {
		m, _ := q.take(ctx, []string{"wf:a"}, 10, 5*time.Second)
		done <- m
	}()
	time.Sleep(20 * time.Millisecond)
	_ = q.Publish(ctx, "conductor:wf:a", "late", []byte(`{}`))
	m := <-done
	if len(m) != 1 || m[0].ID != "late" {
		t.Errorf("a waiting take got %v", m)
	}
	// Handled messages leave the queue; one released is taken again.
	for _, x := range append(got, m...) {
		if err := q.finish(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	_ = q.Publish(ctx, "conductor:wf:a", "again", []byte(`{}`))
	q.redeliver = 50 * time.Millisecond
	first, _ := q.take(ctx, []string{"wf:a"}, 10, time.Second)
	if len(first) != 1 {
		t.Fatalf("take: %v", first)
	}
	q.release(ctx, first[0])
	if got, _ := q.take(ctx, []string{"wf:a"}, 10, 10*time.Millisecond); len(got) != 0 {
		t.Errorf("a released message was taken again at once: %v", got)
	}
	time.Sleep(60 * time.Millisecond)
	second, _ := q.take(ctx, []string{"wf:a"}, 10, time.Second)
	if len(second) != 1 || second[0].ID != "again" {
		t.Fatalf("a released message after its wait: %v", second)
	}
	if err := q.finish(ctx, second[0]); err != nil {
		t.Fatal(err)
	}
	// The bound is over all queues together (names can come from a run's
	// input): one message in each of many queues fills it too.
	q.max = 50
	for i := range q.max {
		if err := q.Publish(ctx, "conductor:wf:full"+strconv.Itoa(i), "m", nil); err != nil {
			t.Fatal(err)
		}
	}
	err = q.Publish(ctx, "conductor:wf:other", "over", nil)
	if !errors.Is(err, errEventQueueFull) || !strings.Contains(err.Error(), "conductor:wf:other") {
		t.Errorf("over the bound: %v", err)
	}
	// A message handled makes room.
	got, _ = q.take(ctx, []string{"wf:full7"}, 10, time.Second)
	if len(got) != 1 {
		t.Fatalf("take: %v", got)
	}
	if err := q.finish(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	if err := q.Publish(ctx, "conductor:wf:other", "room", nil); err != nil {
		t.Errorf("after a take: %v", err)
	}
}

// TestEventMemQueueTakesInTurn: a take serves every queue in turn, one
// message of each per round: a queue holding many messages does not
// starve the others, whatever their names.
func TestEventMemQueueTakesInTurn(t *testing.T) {
	ctx := context.Background()
	q := newTestRecordQueue(t)
	for i := range 20 {
		_ = q.Publish(ctx, "conductor:wf:a", "a"+strconv.Itoa(i), []byte(`{}`))
	}
	_ = q.Publish(ctx, "conductor:wf:z", "z0", []byte(`{}`))
	_ = q.Publish(ctx, "conductor:wf:z", "z1", []byte(`{}`))
	seen := map[string]bool{}
	for range 2 {
		got, err := q.take(ctx, []string{"wf:a", "wf:z"}, 2, time.Second)
		if err != nil || len(got) != 2 {
			t.Fatalf("take: %v %v", got, err)
		}
		for _, m := range got {
			seen[m.ID] = true
		}
	}
	if !seen["z0"] || !seen["z1"] {
		t.Errorf("two takes of 2 from a busy queue a and a queue z gave %v: z starved", seen)
	}
}

// TestEventRecordQueueReplayRefused: someone who can write to the run
// store but holds no keyring puts back a handled message's record (saved
// before it was handled), with the queue's ledger as it was then, or with
// the ledger deleted: the message runs no action again.
func TestEventRecordQueueReplayRefused(t *testing.T) {
	ctx := context.Background()
	q := newTestRecordQueue(t)
	for _, id := range []string{"m1", "m2"} {
		if err := q.Publish(ctx, "conductor:wf:a", id, []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	space := eventQueueSpace + "wf:a"
	saved := map[string][]byte{}
	_ = q.recs.ViewRecords(ctx, func(tx runstore.RecordTx) error {
		tx.Scan(space, "", func(k string, v []byte) bool {
			saved[k] = append([]byte(nil), v...)
			return true
		})
		return nil
	})
	got, err := q.take(ctx, []string{"wf:a"}, 1, time.Second)
	if err != nil || len(got) != 1 || got[0].ID != "m1" {
		t.Fatalf("take: %v %v", got, err)
	}
	x := &eventExecution{ID: "m1_0", MessageID: "m1", Name: "h", Status: execInProgress}
	if ok, err := q.startAction(ctx, got[0], actionKey("h", 0), x); !ok || err != nil {
		t.Fatalf("start: %v %v", ok, err)
	}
	if err := q.finish(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	putBack := func(withLedger bool) {
		t.Helper()
		if err := q.recs.UpdateRecords(ctx, func(tx runstore.RecordTx) error {
			if err := tx.Put(space, msgKey(1), saved[msgKey(1)]); err != nil {
				return err
			}
			if !withLedger {
				return tx.Delete(space, eventLedgerRecord)
			}
			return tx.Put(space, eventLedgerRecord, saved[eventLedgerRecord])
		}); err != nil {
			t.Fatal(err)
		}
	}
	for _, withLedger := range []bool{true, false} {
		putBack(withLedger)
		again, err := q.take(ctx, []string{"wf:a"}, 2, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range again {
			if m.ID != "m1" {
				continue
			}
			if err := q.begin(ctx, m); !errors.Is(err, errEventReplay) {
				t.Errorf("ledger put back %v: the handled message begins again: %v", withLedger, err)
			}
			if ok, err := q.startAction(ctx, m, actionKey("h", 1), x); ok || !errors.Is(err, errEventReplay) {
				t.Errorf("ledger put back %v: an action of the handled message starts: %v %v", withLedger, ok, err)
			}
			if err := q.finish(ctx, m); !errors.Is(err, errEventReplay) {
				t.Errorf("ledger put back %v: finish: %v", withLedger, err)
			}
		}
	}
}
