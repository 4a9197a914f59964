package server

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"
)

// TestEventUnheardMessagesExpire: a queue no handler listens to, full at
// its bound, frees itself: the messages that waited past the cutoff are
// dropped (marked handled: a copy is refused, none is taken later), the
// newer ones and those of a queue a handler listens to stay, and the
// queue takes new messages again. On the run store and on Redis.
func TestEventUnheardMessagesExpire(t *testing.T) {
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
				for _, queue := range []string{"conductor:wf:dead", "conductor:wf:heard"} {
					if err := q.Publish(ctx, queue, "m"+strconv.Itoa(i), []byte(`{"n":`+strconv.Itoa(i)+`}`)); err != nil {
						t.Fatal(err)
					}
				}
			}
			if err := q.Publish(ctx, "conductor:wf:dead", "m3", []byte(`{}`)); !errors.Is(err, errEventQueueFull) {
				t.Fatalf("publish to a full queue: %v", err)
			}
			// Nothing is old yet: nothing goes.
			if got, err := q.expireUnheard(ctx, map[string]bool{"wf:heard": true}, time.Now().Add(-time.Hour)); err != nil || len(got) != 0 {
				t.Fatalf("expired before their time: %v %v", got, err)
			}
			time.Sleep(5 * time.Millisecond)
			cutoff := time.Now()
			got, err := q.expireUnheard(ctx, map[string]bool{"wf:heard": true}, cutoff)
			if err != nil || len(got) != 3 {
				t.Fatalf("expired %v, %v; want the dead queue's 3", got, err)
			}
			for _, m := range got {
				if m.Queue != "wf:dead" {
					t.Errorf("expired a message of %s", m.Queue)
				}
				if err := q.begin(ctx, m); !errors.Is(err, errEventReplay) {
					t.Errorf("a copy of expired %s is not refused: %v", m.ID, err)
				}
			}
			if err := q.Publish(ctx, "conductor:wf:dead", "m4", []byte(`{}`)); err != nil {
				t.Fatalf("the dead queue did not free itself: %v", err)
			}
			// The listened queue kept its 3, the dead one has only the new one.
			heard, err := q.take(ctx, []string{"wf:heard"}, 10, 100*time.Millisecond)
			if err != nil || len(heard) != 3 {
				t.Errorf("listened queue: %d messages, %v", len(heard), err)
			}
			dead, err := q.take(ctx, []string{"wf:dead"}, 10, 100*time.Millisecond)
			if err != nil || len(dead) != 1 || dead[0].ID != "m4" {
				t.Errorf("dead queue after expiry: %v %v", dead, err)
			}
			// Once empty, it is forgotten and sweeping it costs nothing.
			if err := q.finish(ctx, dead[0]); err != nil {
				t.Fatal(err)
			}
			if got, err := q.expireUnheard(ctx, nil, time.Now().Add(time.Hour)); err != nil || len(got) != 3 {
				t.Errorf("second sweep (everything old, nothing listened): %d %v; want the listened queue's 3", len(got), err)
			}
		})
	}
}
