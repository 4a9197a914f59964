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
	for i := range eventQueuedMax {
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
