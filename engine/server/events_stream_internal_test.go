package server

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store/seal"
)

func newTestStreamQueue(t *testing.T) (*eventStreamQueue, *redis.Client) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: redistest.Start(t)})
	t.Cleanup(func() { _ = c.Close() })
	return newEventStreamQueue(c, newTestTransit(t)), c
}

func newTestTransit(t *testing.T) *runsecrets.Transit {
	t.Helper()
	key, err := seal.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	ring, err := seal.NewKeyring(key)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := runsecrets.NewTransit(ring)
	if err != nil {
		t.Fatal(err)
	}
	return tr
}

// TestEventStreamQueueBoundAndAck: the Redis queues hold at most q.max
// messages, all queues together (a publication past it fails naming its
// queue; a handled message makes room); a cancelled EVENT task's message
// is withdrawn by its id, and its entry added again is not handled.
func TestEventStreamQueueBoundAndAck(t *testing.T) {
	ctx := context.Background()
	q, c := newTestStreamQueue(t)
	q.max = 3
	for _, name := range []string{"wf:a", "wf:b", "wf:a"} {
		if err := q.Publish(ctx, "conductor:"+name, "m-"+name+"-"+time.Now().Format("150405.000000"), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	err := q.Publish(ctx, "conductor:wf:c", "over", []byte(`{}`))
	if !errors.Is(err, errEventQueueFull) || !strings.Contains(err.Error(), "conductor:wf:c") {
		t.Fatalf("past the bound: %v", err)
	}
	got, err := q.take(ctx, []string{"wf:b"}, 5, time.Second)
	if err != nil || len(got) != 1 {
		t.Fatalf("take: %v %v", got, err)
	}
	if err := q.begin(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	if err := q.finish(ctx, got[0]); err != nil {
		t.Fatal(err)
	}
	if err := q.Publish(ctx, "conductor:wf:c", "room", []byte(`{}`)); err != nil {
		t.Fatalf("after a message was handled: %v", err)
	}

	// Withdrawn by id.
	if err := q.Publish(ctx, "conductor:wf:c", "cancelled", []byte(`{}`)); err == nil {
		t.Fatal("past the bound again: published")
	}
	q.max = 100
	if err := q.Publish(ctx, "conductor:wf:d", "cancelled", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := q.Publish(ctx, "conductor:wf:d", "kept", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	entries, _ := c.XRange(ctx, eventStreamPrefix+"wf:d", "-", "+").Result()
	if err := q.Ack(ctx, "conductor:wf:d", "cancelled"); err != nil {
		t.Fatal(err)
	}
	if n, _ := c.XLen(ctx, eventStreamPrefix+"wf:d").Result(); n != 1 {
		t.Errorf("after Ack the stream holds %d entries, want 1", n)
	}
	// The withdrawn entry, added again verbatim.
	c.XAdd(ctx, &redis.XAddArgs{Stream: eventStreamPrefix + "wf:d", Values: entries[0].Values})
	got, err = q.take(ctx, []string{"wf:d"}, 5, time.Second)
	if err != nil || len(got) != 2 {
		t.Fatalf("take: %v %v", got, err)
	}
	for _, m := range got {
		err := q.begin(ctx, m)
		if m.ID == "cancelled" && !errors.Is(err, errEventReplay) {
			t.Errorf("the withdrawn message, added again, begun: %v", err)
		}
		if m.ID == "kept" && err != nil {
			t.Errorf("begin of a published message: %v", err)
		}
	}
}

// TestEventStreamQueueSecondDeliveryRefused: an entry one process took
// and has not finished yet, delivered to another process too (XAUTOCLAIM
// once its delivery is idle), runs each action once: an action one of
// them started is not started by the other, and once one finished the
// message the other starts nothing more (errEventReplay).
func TestEventStreamQueueSecondDeliveryRefused(t *testing.T) {
	ctx := context.Background()
	q1, c := newTestStreamQueue(t)
	q2 := newEventStreamQueue(c, q1.transit)
	if err := q1.Publish(ctx, "conductor:wf:a", "m1", []byte(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	got1, err := q1.take(ctx, []string{"wf:a"}, 16, time.Second)
	if err != nil || len(got1) != 1 {
		t.Fatalf("take: %v %v", got1, err)
	}
	// The second process takes the same pending entry over.
	stream := eventStreamPrefix + "wf:a"
	claimed, err := c.XClaim(ctx, &redis.XClaimArgs{Stream: stream, Group: eventGroup, Consumer: q2.self, MinIdle: 0, Messages: []string{got1[0].entry}}).Result()
	if err != nil || len(claimed) != 1 {
		t.Fatalf("xclaim: %v %v", claimed, err)
	}
	got2 := q2.open(ctx, stream, claimed)
	if len(got2) != 1 {
		t.Fatalf("open: %v", got2)
	}
	x := func(i int) *eventExecution {
		return &eventExecution{ID: "m1_" + string(rune('0'+i)), MessageID: "m1", Name: "h", Status: execInProgress}
	}
	if ok, err := q1.startAction(ctx, got1[0], actionKey("h", 0), x(0)); !ok || err != nil {
		t.Fatalf("the first start: %v %v", ok, err)
	}
	if ok, err := q2.startAction(ctx, got2[0], actionKey("h", 0), x(0)); ok || err != nil {
		t.Errorf("an action started by the first delivery was started by the second: %v %v", ok, err)
	}
	if ok, err := q2.startAction(ctx, got2[0], actionKey("h", 1), x(1)); !ok || err != nil {
		t.Fatalf("the second delivery's start of another action: %v %v", ok, err)
	}
	if err := q2.finish(ctx, got2[0]); err != nil {
		t.Fatal(err)
	}
	if ok, err := q1.startAction(ctx, got1[0], actionKey("h", 2), x(2)); ok || !errors.Is(err, errEventReplay) {
		t.Errorf("an action started after the message was finished: %v %v", ok, err)
	}
	if err := q1.begin(ctx, got1[0]); !errors.Is(err, errEventReplay) {
		t.Errorf("a finished message begun again: %v", err)
	}
	execs, err := q1.executions(ctx, "h")
	if err != nil || len(execs) != 2 {
		t.Errorf("executions: %v %v", execs, err)
	}
}
