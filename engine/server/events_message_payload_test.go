package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/redistest"
)

// TestEventMessageShowsPayload: GET /api/event/message/{event} shows each
// message's payload (Orkes' EventMessage payload, the text, and
// fullPayload, the object) as a view shows a run: a `_secrets` subtree and
// a value the server knows as a secret "***". Only a caller who may read
// the event's workflow sees the message at all; the payload is no member
// of the EventExecutions (GET /api/event/execution/{handler}). On the run
// store and on a shared Redis.
func TestEventMessageShowsPayload(t *testing.T) {
	const known = "known-secret-VALUE-3141"
	const sealed = "sealed-leaf-VALUE-2718"
	backends := map[string]func(t *testing.T) []server.Option{
		"run store": func(*testing.T) []server.Option { return nil },
		"redis": func(t *testing.T) []server.Option {
			rs := redistest.StartServer(t)
			rc := redis.NewClient(&redis.Options{Addr: rs.Addr()})
			t.Cleanup(func() { _ = rc.Close() })
			return []server.Option{server.WithSharedQueue(rc)}
		},
	}
	for name, backend := range backends {
		t.Run(name, func(t *testing.T) {
			es := newEventServer(t, true, backend(t)...)
			es.mustAs(t, "admin", "PUT", "/api/secrets/known_one", known)
			es.mustAs(t, "admin", "POST", "/api/metadata/workflow", emitDef)
			es.mustAs(t, "admin", "POST", "/api/event", `{"name":"payload_watch","event":"conductor:emit_action:watch","active":true,
			  "condition":"$.who == 'nobody'","actions":[{"action":"start_workflow","start_workflow":{"name":"fulfill_order"}}]}`)
			id := es.mustAs(t, "admin", "POST", "/api/workflow", `{"name":"emit_action","input":{"q":"watch","who":"`+known+`","doc":{"plain":"visible","_secrets":{"k":"`+sealed+`"}}}}`)
			es.waitRun(t, "admin", id)
			const path = "/api/event/message/conductor:emit_action:watch"
			var msgs []map[string]any
			for deadline := time.Now().Add(10 * time.Second); len(msgs) == 0; time.Sleep(20 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatal("no message listed")
				}
				_ = json.Unmarshal([]byte(es.mustAs(t, "admin", "GET", path, "")), &msgs)
			}
			m := msgs[0]
			payload, _ := m["payload"].(string)
			full, _ := m["fullPayload"].(map[string]any)
			doc, _ := full["doc"].(map[string]any)
			if full["who"] != "***" || doc["plain"] != "visible" || doc["_secrets"] != "***" || !strings.Contains(payload, `"visible"`) {
				t.Errorf("message = %v", m)
			}
			execs, _ := m["eventExecutions"].([]any)
			if len(execs) != 1 {
				t.Fatalf("executions: %v", m["eventExecutions"])
			}
			if _, has := execs[0].(map[string]any)["payload"]; has {
				t.Errorf("an EventExecution carries the payload: %v", execs[0])
			}
			byHandler := es.mustAs(t, "admin", "GET", "/api/event/execution/payload_watch", "")
			if strings.Contains(byHandler, `"payload"`) {
				t.Errorf("GET /api/event/execution/{handler} carries the payload: %s", byHandler)
			}
			// intern may not read emit_action runs: no message, no payload.
			if st, body := es.as(t, "intern", "GET", path, ""); st != 200 || strings.TrimSpace(body) != "[]" {
				t.Errorf("intern: %d %s, want 200 []", st, body)
			}
			for _, who := range []string{"admin", "intern"} {
				_, body := es.as(t, who, "GET", path, "")
				if strings.Contains(body, known) || strings.Contains(body, sealed) {
					t.Errorf("%s sees a secret value: %s", who, body)
				}
			}
			if strings.Contains(es.logs.String(), known) || strings.Contains(es.logs.String(), sealed) {
				t.Error("a secret value is logged")
			}
		})
	}
}

// TestEventExecutionsBelongToTheirHandlerDefinition: an execution is
// shown as its handler's only while the handler is the definition it was
// made under: once the handler is updated (same name, same event), or
// deleted and registered again, the earlier executions are in none of its
// views (its executions, the summaries' message counts, the event's
// messages), and what the new definition does is.
func TestEventExecutionsBelongToTheirHandlerDefinition(t *testing.T) {
	const event = "conductor:emit_action:gen"
	handler := func(cond string) string {
		return `{"name":"gen_watch","event":"` + event + `","active":true,"condition":"` + cond + `",
		  "actions":[{"action":"start_workflow","start_workflow":{"name":"fulfill_order"}}]}`
	}
	changes := map[string]func(t *testing.T, es *eventServer){
		"updated": func(t *testing.T, es *eventServer) {
			es.mustAs(t, "admin", "PUT", "/api/event", handler("$.who == 'nobody at all'"))
		},
		"deleted and registered again": func(t *testing.T, es *eventServer) {
			es.mustAs(t, "admin", "DELETE", "/api/event/gen_watch", "")
			es.mustAs(t, "admin", "POST", "/api/event", handler("$.who == 'nobody'"))
		},
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			es := newEventServer(t, true)
			es.mustAs(t, "admin", "POST", "/api/metadata/workflow", emitDef)
			es.mustAs(t, "admin", "POST", "/api/event", handler("$.who == 'nobody'"))
			publish := func(who string) {
				id := es.mustAs(t, "admin", "POST", "/api/workflow", `{"name":"emit_action","input":{"q":"gen","who":"`+who+`"}}`)
				es.waitRun(t, "admin", id)
				for deadline := time.Now().Add(10 * time.Second); !strings.Contains(es.mustAs(t, "admin", "GET", "/api/event/execution/gen_watch", ""), who); time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("no execution recorded for %s", who)
					}
				}
			}
			publish("before-change")
			change(t, es)
			for _, path := range []string{"/api/event/execution/gen_watch", "/api/event/message/" + event} {
				if body := es.mustAs(t, "admin", "GET", path, ""); strings.Contains(body, "before-change") {
					t.Errorf("GET %s shows an execution of the earlier definition: %s", path, body)
				}
			}
			for _, path := range []string{"/api/event/execution", "/api/event/message"} {
				if body := es.mustAs(t, "admin", "GET", path, ""); !strings.Contains(body, `"numberOfMessages":0`) {
					t.Errorf("GET %s counts the earlier definition's messages: %s", path, body)
				}
			}
			// The processor reads the handlers again at its next take
			// (within eventPollWait, 500 ms): a message taken before acts
			// under the definition it read, and is shown as that one's.
			time.Sleep(time.Second)
			publish("after-change")
			if body := es.mustAs(t, "admin", "GET", "/api/event/message/"+event, ""); !strings.Contains(body, "after-change") || strings.Contains(body, "before-change") {
				t.Errorf("messages after the change: %s", body)
			}
		})
	}
}
