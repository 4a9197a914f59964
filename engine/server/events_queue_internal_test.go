package server

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
)

// TestEventMemQueue: messages wait in their queue until taken, in order;
// a withdrawn (acked) one is not taken; a queue nobody takes from stops
// at its bound with an error naming the queue.
func TestEventMemQueue(t *testing.T) {
	ctx := context.Background()
	q := newEventMemQueue()
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
	if m := <-done; len(m) != 1 || m[0].ID != "late" {
		t.Errorf("a waiting take got %v", m)
	}
	for i := range eventMemQueueMax {
		if err := q.Publish(ctx, "conductor:wf:full", strconv.Itoa(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.Publish(ctx, "conductor:wf:full", "over", nil); !errors.Is(err, errEventQueueFull) {
		t.Errorf("over the bound: %v", err)
	}
}
