package server_test

import (
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/wfrun/wfrun/engine/server"
	"github.com/wfrun/wfrun/internal/redistest"
)

// TestEventExecutionsFollowTheirOwnEvent: an event execution is shown
// only to a caller who may read the event it was recorded for, not the
// one its handler names now. intern, who may not read emit_action runs,
// takes over a handler that recorded an emit_action message (its payload
// is in the SKIPPED execution's output) by re-pointing it, or by deleting
// it and registering its name again, on a queue intern may read; neither
// the handler's executions, the summaries nor the messages of either
// event show that payload. On the run store and on a shared Redis.
func TestEventExecutionsFollowTheirOwnEvent(t *testing.T) {
	const secret = "confidential-emit-data"
	takeovers := map[string]func(t *testing.T, es *eventServer){
		"re-pointed": func(t *testing.T, es *eventServer) {
			es.mustAs(t, "intern", "PUT", "/api/event", `{"name":"intern_watch","event":"conductor:publish_order_event:watch","active":true,
			  "actions":[{"action":"start_workflow","start_workflow":{"name":"fulfill_order"}}]}`)
		},
		"deleted and registered again": func(t *testing.T, es *eventServer) {
			es.mustAs(t, "intern", "DELETE", "/api/event/intern_watch", "")
			es.mustAs(t, "intern", "POST", "/api/event", `{"name":"intern_watch","event":"conductor:publish_order_event:watch","active":true,
			  "actions":[{"action":"start_workflow","start_workflow":{"name":"fulfill_order"}}]}`)
		},
	}
	backends := map[string]func(t *testing.T) []server.Option{
		"run store": func(*testing.T) []server.Option { return nil },
		"redis": func(t *testing.T) []server.Option {
			rs := redistest.StartServer(t)
			rc := redis.NewClient(&redis.Options{Addr: rs.Addr()})
			t.Cleanup(func() { _ = rc.Close() })
			return []server.Option{server.WithSharedQueue(rc)}
		},
	}
	for bname, backend := range backends {
		for tname, takeover := range takeovers {
			t.Run(bname+"/"+tname, func(t *testing.T) {
				es := newEventServer(t, true, backend(t)...)
				es.mustAs(t, "admin", "POST", "/api/metadata/workflow", emitDef)
				es.mustAs(t, "admin", "POST", "/api/event", `{"name":"intern_watch","event":"conductor:emit_action:watch","active":true,
				  "condition":"$.who == 'nobody'",
				  "actions":[{"action":"start_workflow","start_workflow":{"name":"fulfill_order"}}]}`)
				if st, _ := es.as(t, "intern", "GET", "/api/event/execution/intern_watch", ""); st != 403 {
					t.Fatalf("intern reads emit_action executions: %d", st)
				}
				id := es.mustAs(t, "admin", "POST", "/api/workflow", `{"name":"emit_action","input":{"q":"watch","who":"`+secret+`"}}`)
				es.waitRun(t, "admin", id)
				for deadline := time.Now().Add(10 * time.Second); !strings.Contains(es.mustAs(t, "admin", "GET", "/api/event/execution/intern_watch", ""), secret); time.Sleep(20 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("no execution recorded")
					}
				}
				takeover(t, es)
				for _, path := range []string{"/api/event/execution/intern_watch", "/api/event/execution", "/api/event/message",
					"/api/event/message/conductor:publish_order_event:watch", "/api/event/message/conductor:emit_action:watch"} {
					for _, who := range []string{"intern", "admin"} {
						st, body := es.as(t, who, "GET", path, "")
						if strings.Contains(body, secret) {
							t.Errorf("%s GET %s: %d shows the emit_action payload: %s", who, path, st, body)
						}
					}
				}
				if body := es.mustAs(t, "intern", "GET", "/api/event/execution", ""); !strings.Contains(body, `"numberOfMessages":0`) {
					t.Errorf("the summary counts the old event's messages: %s", body)
				}
			})
		}
	}
}
