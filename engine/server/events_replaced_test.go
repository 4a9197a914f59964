package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestEventHandlerReplacedActsAtOnce: a message published after PUT
// /api/event answered is handled by the handler as it was replaced, never
// by the handler it replaced, even while the event processor was waiting
// for messages when the PUT came (it reads the handlers once it has the
// messages, not before it waits for them). Each round replaces the
// handler's condition, then publishes a message only the old condition
// matches (skipped: no run) and one the new condition matches (one run).
func TestEventHandlerReplacedActsAtOnce(t *testing.T) {
	es := newPublishersServer(t)
	es.mustAs(t, "admin", "POST", "/api/metadata/workflow", `{"name":"repl_out","version":1,"schemaVersion":2,"tasks":[{"name":"w","taskReferenceName":"w","type":"WAIT"}]}`)
	handler := func(cond string) string {
		return `{"name":"repl_h","event":"conductor:orders:q","active":true,"condition":"$.c == '` + cond + `'",
		  "actions":[{"action":"start_workflow","start_workflow":{"name":"repl_out","correlationId":"${n}","input":{}}}]}`
	}
	// handled counts the messages the handler has taken (run or skipped).
	handled := func() int {
		n := 0
		for _, line := range strings.Split(es.logs.String(), "\n") {
			if strings.Contains(line, `"handler":"repl_h"`) &&
				(strings.Contains(line, `"status":"SKIPPED"`) || strings.Contains(line, `"status":"COMPLETED"`) || strings.Contains(line, `"status":"FAILED"`)) {
				n++
			}
		}
		return n
	}
	waitHandled := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); handled() < want; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("the handler took %d message(s), want %d:\n%s", handled(), want, es.logs.String())
			}
		}
	}

	es.mustAs(t, "admin", "POST", "/api/event", handler("c0"))
	publishOrders(t, es, "admin", `{"c":"c0","n":"warm"}`)
	waitHandled(1)
	const rounds = 4
	for i := 1; i <= rounds; i++ {
		es.mustAs(t, "admin", "PUT", "/api/event", handler(fmt.Sprintf("c%d", i)))
		publishOrders(t, es, "admin", fmt.Sprintf(`{"c":"c%d","n":"stale-%d"}`, i-1, i))
		publishOrders(t, es, "admin", fmt.Sprintf(`{"c":"c%d","n":"fresh-%d"}`, i, i))
		waitHandled(1 + 2*i)
	}
	if n := len(es.correlated(t, "repl_out", "warm")); n != 1 {
		t.Errorf("the first message started %d run(s), want 1", n)
	}
	for i := 1; i <= rounds; i++ {
		if n := len(es.correlated(t, "repl_out", fmt.Sprintf("stale-%d", i))); n != 0 {
			t.Errorf("round %d: the replaced handler started %d run(s) for a message published after the PUT", i, n)
		}
		if n := len(es.correlated(t, "repl_out", fmt.Sprintf("fresh-%d", i))); n != 1 {
			t.Errorf("round %d: the current handler started %d run(s), want 1", i, n)
		}
	}
}
