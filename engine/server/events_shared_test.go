package server_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/redistest"
)

// TestEventQueueSharedAcrossProcesses: two serve processes sharing Redis
// (runs, task queue, definitions directory, keyring) share Conductor's
// event queues: the cookbook's handler starts exactly one fulfill_order
// per READY message, whichever process published it or took it; messages
// published before the handler was registered wait for it, as Conductor's
// queue keeps them; what rests in Redis is sealed (no payload in clear),
// and an entry written there by someone without the keyring starts
// nothing.
func TestEventQueueSharedAcrossProcesses(t *testing.T) {
	ss := newSharedServers(t)
	a, _ := ss.start(t)
	b, _ := ss.start(t)
	for _, f := range []string{"fulfill_order_workflow.json", "publish_internal_event_workflow.json"} {
		if st, _, body := a.do(t, "POST", "/api/metadata/workflow", string(readConductorFile(t, f))); st != 200 {
			t.Fatalf("register %s: %d %s", f, st, body)
		}
	}
	orders := []string{"ord-a0", "ord-b1", "ord-a2", "ord-b3", "ord-a4", "ord-b5"}
	publish := func(order string) {
		t.Helper()
		s := a
		if strings.HasPrefix(order, "ord-b") {
			s = b
		}
		if st, _, body := s.do(t, "POST", "/api/workflow", `{"name":"publish_order_event","input":{"orderId":"`+order+`","status":"READY"}}`); st != 200 {
			t.Fatalf("start: %d %s", st, body)
		}
	}
	for _, o := range orders[:2] {
		publish(o) // before any handler
	}
	rc := redis.NewClient(&redis.Options{Addr: ss.addr})
	t.Cleanup(func() { _ = rc.Close() })
	ctx := context.Background()
	stream := "wfrun:{wfrun-events}:queue:publish_order_event:order-status"
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, _ := rc.XLen(ctx, stream).Result()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("stream %s holds %d messages, want 2", stream, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	entries, err := rc.XRange(ctx, stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		for _, v := range e.Values {
			if s, _ := v.(string); strings.Contains(s, "ord-") || strings.Contains(s, "READY") {
				t.Fatalf("a message rests in clear in Redis: %v", e.Values)
			}
		}
	}
	// Forged: a real message's sealed payload under another message id.
	forged := map[string]any{"id": "forged-1", "sealed": entries[0].Values["sealed"]}
	if err := rc.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: forged}).Err(); err != nil {
		t.Fatal(err)
	}

	if st, _, body := b.do(t, "POST", "/api/event", string(readConductorFile(t, "start_workflow_handler.json"))); st != 200 {
		t.Fatalf("handler: %d %s", st, body)
	}
	for _, o := range orders[2:] {
		publish(o)
	}
	for _, o := range orders {
		deadline := time.Now().Add(15 * time.Second)
		for {
			_, _, body := a.do(t, "GET", "/api/workflow/fulfill_order/correlated/"+o+"?includeClosed=true", "")
			var runs []map[string]any
			_ = json.Unmarshal([]byte(body), &runs)
			if len(runs) > 1 {
				t.Fatalf("order %s started %d runs: %s", o, len(runs), body)
			}
			if len(runs) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("order %s started no fulfill_order", o)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Every message was handled once: a second look finds no second run,
	// and the stream is empty (the forged entry dropped unhandled).
	time.Sleep(time.Second)
	total := 0
	for _, o := range orders {
		_, _, body := b.do(t, "GET", "/api/workflow/fulfill_order/correlated/"+o+"?includeClosed=true", "")
		var runs []map[string]any
		_ = json.Unmarshal([]byte(body), &runs)
		total += len(runs)
	}
	if total != len(orders) {
		t.Errorf("%d fulfill_order runs for %d messages", total, len(orders))
	}
	if n, _ := rc.XLen(ctx, stream).Result(); n != 0 {
		t.Errorf("stream still holds %d entries", n)
	}
	if strings.Contains(a.logs.String()+b.logs.String(), "forged-1") {
		t.Errorf("the forged message was handled")
	}
}

// TestEventQueueRedisGoesAway: while the shared Redis is down an EVENT
// task to a conductor queue fails with the publication's error (as
// Conductor's does), the event processor logs the outage once, and once
// Redis is back (empty: its streams and group gone) messages flow again.
func TestEventQueueRedisGoesAway(t *testing.T) {
	rs := redistest.StartServer(t)
	rc := redis.NewClient(&redis.Options{Addr: rs.Addr(), MaxRetries: -1})
	t.Cleanup(func() { _ = rc.Close() })
	ts := newConductorServer(t, nil, server.WithSharedQueue(rc))
	registerConductorDef(t, ts, "fulfill_order_workflow.json")
	registerConductorDef(t, ts, "publish_internal_event_workflow.json")
	if st, _, body := ts.do(t, "POST", "/api/event", string(readConductorFile(t, "start_workflow_handler.json"))); st != 200 {
		t.Fatalf("handler: %d %s", st, body)
	}
	publish := func(order string) string {
		t.Helper()
		st, _, id := ts.do(t, "POST", "/api/workflow", `{"name":"publish_order_event","input":{"orderId":"`+order+`","status":"READY"}}`)
		if st != 200 {
			t.Fatalf("start: %d %s", st, id)
		}
		return id
	}
	waitFulfilled := func(order string) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			_, _, body := ts.do(t, "GET", "/api/workflow/fulfill_order/correlated/"+order+"?includeClosed=true", "")
			if strings.Contains(body, `"COMPLETED"`) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("no fulfill_order for %s:\n%s", order, ts.logs.String())
			}
		}
	}
	publish("before")
	waitFulfilled("before")

	rs.Stop()
	id := publish("down")
	d := ts.waitRun(t, id, "ended", func(d runDoc) bool { return d.Status != "RUNNING" })
	if d.Status != "FAILED" || len(d.Tasks) != 1 || d.Tasks[0].Status != "FAILED" || !strings.Contains(d.Tasks[0].Reason, "publish to conductor:publish_order_event:order-status") {
		t.Fatalf("EVENT while Redis is down: %+v", d)
	}
	time.Sleep(2500 * time.Millisecond)
	if n := strings.Count(ts.logs.String(), "event queue: taking messages (retrying"); n != 1 {
		t.Errorf("the outage was logged %d times, want once", n)
	}
	rs.Restart()
	publish("after")
	waitFulfilled("after")
	if !strings.Contains(ts.logs.String(), "event queue: taking messages again") {
		t.Error("the recovery is not logged")
	}
}
