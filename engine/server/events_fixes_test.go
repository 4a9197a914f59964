package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/testkit"
	"github.com/wfrun/wfrun/store/memory"
	"github.com/wfrun/wfrun/tasks"
)

// tasksOf returns the tasks of a run view.
func tasksOf(doc map[string]any) []map[string]any {
	var out []map[string]any
	list, _ := doc["tasks"].([]any)
	for _, it := range list {
		if t, ok := it.(map[string]any); ok {
			out = append(out, t)
		}
	}
	return out
}

// TestEventCompleteTaskByIDOfEndedAttempt: complete_task by taskId
// completes THE task of that id; an attempt that already ended (FAILED,
// retried under a new id) is not updated, and its retry is left alone, as
// Conductor ignores an update of an ended task.
func TestEventCompleteTaskByIDOfEndedAttempt(t *testing.T) {
	es := newEventServer(t, false)
	es.mustAs(t, "", "POST", "/api/metadata/taskdefs", `[{"name":"approve_retry","retryCount":1,"retryDelaySeconds":0,"responseTimeoutSeconds":3600}]`)
	es.mustAs(t, "", "POST", "/api/metadata/workflow", `{"name":"wants_approval","version":1,"schemaVersion":2,"tasks":[
	  {"name":"approve_retry","taskReferenceName":"approve","type":"SIMPLE"}]}`)
	es.mustAs(t, "", "POST", "/api/metadata/workflow", emitDef)
	es.mustAs(t, "", "POST", "/api/event", `{"name":"by_id","event":"conductor:emit_action:byid","active":true,
	  "actions":[{"action":"complete_task","complete_task":{"taskId":"${taskId}","output":{"by":"${who}"}}}]}`)
	run := es.mustAs(t, "", "POST", "/api/workflow", `{"name":"wants_approval","input":{}}`)
	es.waitTasks(t, run)
	view := func() map[string]any {
		var doc map[string]any
		_ = json.Unmarshal([]byte(es.mustAs(t, "", "GET", "/api/workflow/"+run+"?includeTasks=true", "")), &doc)
		return doc
	}
	first := tasksOf(view())[0]["taskId"].(string)
	es.mustAs(t, "", "POST", "/api/tasks/"+run+"/approve/FAILED", `{}`)
	deadline := time.Now().Add(5 * time.Second)
	for len(tasksOf(view())) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no retry of approve: %v", view())
		}
		time.Sleep(10 * time.Millisecond)
	}
	input, _ := json.Marshal(map[string]any{"q": "byid", "who": "bob", "taskId": first})
	es.mustAs(t, "", "POST", "/api/workflow", `{"name":"emit_action","input":`+string(input)+`}`)
	es.waitLog(t, "event handler action", "by_id", "complete_task")
	doc := view()
	list := tasksOf(doc)
	if doc["status"] != "RUNNING" || len(list) != 2 || list[0]["status"] != "FAILED" || list[1]["status"] != "SCHEDULED" {
		t.Errorf("an update of the ended attempt %s reached the run: %v, tasks %v", first, doc["status"], list)
	}
}

// TestEventSlowConditionDoesNotStallOthers: a handler whose condition
// spins costs its messages eventConditionTimeout, not the evaluator's 5 s,
// holds no other handler's messages (they are handled several at a time),
// and after three time-outs in a row it is disabled with a log line.
func TestEventSlowConditionDoesNotStallOthers(t *testing.T) {
	es := newEventServer(t, false)
	es.mustAs(t, "", "POST", "/api/metadata/workflow", emitDef)
	es.mustAs(t, "", "POST", "/api/metadata/workflow", `{"name":"fast_out","version":1,"schemaVersion":2,"tasks":[{"name":"w","taskReferenceName":"w","type":"WAIT"}]}`)
	es.mustAs(t, "", "POST", "/api/event", `{"name":"spins","event":"conductor:emit_action:slow","active":true,"condition":"while(true){}; true",
	  "actions":[{"action":"start_workflow","start_workflow":{"name":"fast_out","correlationId":"never","input":{}}}]}`)
	es.mustAs(t, "", "POST", "/api/event", `{"name":"fast","event":"conductor:emit_action:slow","active":true,"condition":"$.who != 'x'",
	  "actions":[{"action":"start_workflow","start_workflow":{"name":"fast_out","correlationId":"c${who}","input":{}}}]}`)
	t0 := time.Now()
	const n = 5
	for i := range n {
		es.mustAs(t, "", "POST", "/api/workflow", `{"name":"emit_action","input":{"q":"slow","who":"`+string(rune('0'+i))+`"}}`)
	}
	for i := range n {
		for len(es.correlated(t, "fast_out", "c"+string(rune('0'+i)))) == 0 {
			if time.Since(t0) > 4*time.Second {
				t.Fatalf("message %d not handled after %s: a spinning condition holds the others", i, time.Since(t0))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	es.waitLog(t, "event handler disabled", "spins")
	if got := es.correlated(t, "fast_out", "never"); len(got) != 0 {
		t.Errorf("the spinning handler acted: %v", got)
	}
	t.Logf("%d messages handled in %s", n, time.Since(t0).Round(10*time.Millisecond))
}

// flakyRuns is a run store whose next failSignals PutSignal calls fail,
// as a store that went away for a moment.
type flakyRuns struct {
	runstore.Store
	failSignals atomic.Int32
}

func (f *flakyRuns) PutSignal(ctx context.Context, id, key string, payload []byte) error {
	if f.failSignals.Add(-1) >= 0 {
		return errors.New("run store unavailable")
	}
	return f.Store.PutSignal(ctx, id, key, payload)
}

// TestEventActionRetriedOnStoreFailure: an action whose call fails for a
// transient reason (the run store answered 500) is tried again; one that
// keeps failing leaves the message unacknowledged, as Conductor's
// DefaultEventProcessor does, and the message is delivered again: its
// failed action runs then, and the action before it, which completed,
// does not run a second time (one run started per message).
func TestEventActionRetriedOnStoreFailure(t *testing.T) {
	runs := &flakyRuns{Store: runstore.NewMemory()}
	logs := &testkit.SyncBuffer{}
	srv, err := server.New(memory.New(), server.WithLogger(slog.New(slog.NewJSONHandler(logs, nil))),
		server.WithConductor(t.TempDir(), engine.WithRunStore(runs), engine.WithRegistry(tasks.NewDefaultRegistry())))
	if err != nil {
		t.Fatal(err)
	}
	server.SetEventRedelivery(srv, 300*time.Millisecond)
	es := &eventServer{conductorServer: &conductorServer{testServer: &testServer{Server: serveTest(t, srv), srv: srv, logs: logs}, runs: runs.Store},
		tokens: map[string]string{}}
	es.mustAs(t, "", "POST", "/api/metadata/workflow", string(readConductorFile(t, "wait_for_approval_workflow.json")))
	es.mustAs(t, "", "POST", "/api/metadata/workflow", emitDef)
	es.mustAs(t, "", "POST", "/api/event", `{"name":"approve","event":"conductor:emit_action:flaky","active":true,
	  "actions":[{"action":"start_workflow","start_workflow":{"name":"wait_for_order_approval","correlationId":"${who}-started","input":{"orderId":"x"}}},
	    {"action":"complete_task","complete_task":{"workflowId":"${waiter}","taskRefName":"approval","output":{"by":"${who}"}}}]}`)
	for _, c := range []struct {
		fail int32
		who  string
	}{{1, "one"}, {2, "two"}, {3, "three"}, {5, "five"}} {
		waiter := es.mustAs(t, "", "POST", "/api/workflow", `{"name":"wait_for_order_approval","input":{"orderId":"o"}}`)
		es.waitTasks(t, waiter)
		runs.failSignals.Store(c.fail)
		es.mustAs(t, "", "POST", "/api/workflow", `{"name":"emit_action","input":{"q":"flaky","who":"`+c.who+`","waiter":"`+waiter+`"}}`)
		if c.fail >= 3 {
			es.waitLog(t, "event handler action", "IN_PROGRESS", "delivered again")
		}
		if doc := es.waitRun(t, "", waiter); doc["status"] != "COMPLETED" {
			t.Errorf("failing %d times: %v, want COMPLETED", c.fail, doc["status"])
		}
		time.Sleep(100 * time.Millisecond)
		if n := len(es.correlated(t, "wait_for_order_approval", c.who+"-started")); n != 1 {
			t.Errorf("failing %d times: the start_workflow action before it ran %d times, want 1", c.fail, n)
		}
	}
	if !strings.Contains(logs.String(), "COMPLETED") || strings.Count(logs.String(), `"status":"FAILED"`) != 0 {
		t.Errorf("an action recorded FAILED: %s", logs.String())
	}
}

// TestEventReplayInRedisHandledOnce: someone who can write to Redis but
// holds no keyring adds a handled message's entry again, verbatim, before
// and after it was handled, with the queue's ledger deleted too: the one
// published message starts one run.
func TestEventReplayInRedisHandledOnce(t *testing.T) {
	ss := newSharedServers(t)
	a, _ := ss.start(t)
	for _, f := range []string{"fulfill_order_workflow.json", "publish_internal_event_workflow.json"} {
		if st, _, body := a.do(t, "POST", "/api/metadata/workflow", string(readConductorFile(t, f))); st != 200 {
			t.Fatalf("register %s: %d %s", f, st, body)
		}
	}
	rc := redis.NewClient(&redis.Options{Addr: ss.addr})
	t.Cleanup(func() { _ = rc.Close() })
	ctx := context.Background()
	const stream = "wfrun:{wfrun-events}:queue:publish_order_event:order-status"
	const ledger = "wfrun:{wfrun-events}:ledger:publish_order_event:order-status"
	for _, order := range []string{"ord-r1", "ord-r2"} {
		if st, _, body := a.do(t, "POST", "/api/workflow", `{"name":"publish_order_event","input":{"orderId":"`+order+`","status":"READY"}}`); st != 200 {
			t.Fatalf("start: %d %s", st, body)
		}
	}
	var entries []redis.XMessage
	for deadline := time.Now().Add(10 * time.Second); len(entries) != 2; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the stream holds %v", entries)
		}
		entries, _ = rc.XRange(ctx, stream, "-", "+").Result()
	}
	runsOf := func(order string) int {
		_, _, body := a.do(t, "GET", "/api/workflow/fulfill_order/correlated/"+order+"?includeClosed=true", "")
		var runs []map[string]any
		_ = json.Unmarshal([]byte(body), &runs)
		return len(runs)
	}
	replay := func(values map[string]any, times int) {
		t.Helper()
		for range times {
			if err := rc.XAdd(ctx, &redis.XAddArgs{Stream: stream, Values: values}).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Replayed twice before any handler took it.
	replay(entries[0].Values, 2)
	if st, _, body := a.do(t, "POST", "/api/event", string(readConductorFile(t, "start_workflow_handler.json"))); st != 200 {
		t.Fatalf("handler: %d %s", st, body)
	}
	for deadline := time.Now().Add(10 * time.Second); runsOf("ord-r1") == 0 || runsOf("ord-r2") == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the published messages started nothing")
		}
	}
	// Replayed after they were handled, and again with the queue's
	// ledger deleted.
	replay(entries[0].Values, 1)
	replay(entries[1].Values, 1)
	rc.Del(ctx, ledger)
	replay(entries[1].Values, 1)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if n, _ := rc.XLen(ctx, stream).Result(); n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("replayed entries still in the stream")
		}
	}
	time.Sleep(200 * time.Millisecond)
	if n1, n2 := runsOf("ord-r1"), runsOf("ord-r2"); n1 != 1 || n2 != 1 {
		t.Errorf("one message each started %d and %d runs", n1, n2)
	}
	if !strings.Contains(a.logs.String(), "event message not handled") {
		t.Error("no log line says a replayed message was not handled")
	}
}
