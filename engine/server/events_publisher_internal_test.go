package server

import (
	"context"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
)

// TestEventStreamQueuePublisher: a message in Redis carries its publisher
// sealed and bound to the message: read back it is the publisher that
// published it; one published without any, one whose publisher field was
// removed, or swapped with another message's, has none (it acts as
// nobody).
func TestEventStreamQueuePublisher(t *testing.T) {
	ctx := context.Background()
	q, c := newTestStreamQueue(t)
	pub := func(who string) context.Context {
		return engine.ContextWithPublisher(ctx, engine.EventPublisher{RunID: "run-" + who, WorkflowType: "wf", Principal: engine.Principal{Name: who, Scopes: []string{"workflows:start:wf"}}})
	}
	for _, m := range []struct {
		ctx context.Context
		id  string
	}{{pub("alice"), "m1"}, {pub("bob"), "m2"}, {ctx, "m3"}} {
		if err := q.Publish(m.ctx, "conductor:wf:a", m.id, []byte(`{"x":1}`)); err != nil {
			t.Fatal(err)
		}
	}
	entries, err := c.XRange(ctx, eventStreamPrefix+"wf:a", "-", "+").Result()
	if err != nil || len(entries) != 3 {
		t.Fatalf("entries: %v %v", entries, err)
	}
	name := func(m eventMessage) string {
		if m.Publisher == nil {
			return ""
		}
		return m.Publisher.Principal.Name + "/" + m.Publisher.RunID
	}
	got := q.open(ctx, eventStreamPrefix+"wf:a", entries)
	if len(got) != 3 || name(got[0]) != "alice/run-alice" || name(got[1]) != "bob/run-bob" || name(got[2]) != "" {
		t.Fatalf("publishers read back: %q %q %q", name(got[0]), name(got[1]), name(got[2]))
	}
	copyOf := func(e redis.XMessage) redis.XMessage {
		v := map[string]any{}
		for k, x := range e.Values {
			v[k] = x
		}
		return redis.XMessage{ID: e.ID, Values: v}
	}
	swapped := []redis.XMessage{copyOf(entries[0]), copyOf(entries[1])}
	swapped[0].Values["publisher"], swapped[1].Values["publisher"] = entries[1].Values["publisher"], entries[0].Values["publisher"]
	removed := copyOf(entries[0])
	delete(removed.Values, "publisher")
	moved := copyOf(entries[2])
	moved.Values["publisher"] = entries[0].Values["publisher"]
	for _, m := range q.open(ctx, eventStreamPrefix+"wf:a", append(swapped, removed, moved)) {
		if m.Publisher != nil {
			t.Errorf("message %s read back with publisher %s", m.ID, name(m))
		}
	}
}
