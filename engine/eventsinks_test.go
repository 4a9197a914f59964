package engine_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/internal/redistest"
)

// RedisStreamSink.Ack deletes the entries of one message, however far back
// in the stream (it reads the stream newest first, a page at a time);
// acking a message that is not there deletes nothing and is no error.
func TestRedisStreamSinkAck(t *testing.T) {
	srv := redistest.StartServer(t)
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rc.Close()
	ctx := context.Background()
	sink := engine.NewRedisStreamSink(rc, "p:")
	const n = 700
	for i := range n {
		if err := sink.Publish(ctx, "conductor:w:t", fmt.Sprintf("task-%d", i), []byte(`{}`)); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name, queue, id string
		left            int64
	}{
		{"newest", "conductor:w:t", fmt.Sprintf("task-%d", n-1), n - 1},
		{"behind several pages", "conductor:w:t", "task-3", n - 2},
		{"unknown message", "conductor:w:t", "task-none", n - 2},
		{"already acked", "conductor:w:t", "task-3", n - 2},
		{"unknown stream", "conductor:w:none", "task-5", n - 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := sink.Ack(ctx, c.queue, c.id); err != nil {
				t.Fatal(err)
			}
			if got, err := rc.XLen(ctx, "p:conductor:w:t").Result(); err != nil || got != c.left {
				t.Fatalf("stream holds %d (%v), want %d", got, err, c.left)
			}
		})
	}
	xs, err := rc.XRange(ctx, "p:conductor:w:t", "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range xs {
		if id := x.Values["id"]; id == "task-3" || id == fmt.Sprintf("task-%d", n-1) {
			t.Fatalf("acked message %v still there", id)
		}
	}
}
