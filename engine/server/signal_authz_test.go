package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// signalYAML: ops manages outer runs, and nothing of inner.
const signalYAML = `
applications:
  - keyId: admin
    keySecret: admin-secret-0123456789
    scopes: ["*"]
  - keyId: ops
    keySecret: ops-secret-0123456789
    scopes: ["workflows:manage:outer"]
`

// TestSignalSyncHidesAnUnreadableHolder: a synchronous signal answers the
// run now blocking (BLOCKING_WORKFLOW, BLOCKING_TASK) only when the caller
// may read it: ops, who manages outer runs but may not read inner ones,
// signals outer's WAIT task; outer then waits on its inner child's WAIT
// task, and ops gets outer's view, not the child's. Admin gets the
// child's.
func TestSignalSyncHidesAnUnreadableHolder(t *testing.T) {
	es := newAuthEventServer(t, signalYAML, "admin", "ops")
	es.mustAs(t, "admin", "POST", "/api/metadata/workflow", `{"name":"inner","version":1,"schemaVersion":2,"tasks":[
	  {"name":"iw","taskReferenceName":"iw","type":"WAIT"}]}`)
	es.mustAs(t, "admin", "POST", "/api/metadata/workflow", `{"name":"outer","version":1,"schemaVersion":2,"tasks":[
	  {"name":"w1","taskReferenceName":"w1","type":"WAIT"},
	  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"inner","version":1}}]}`)
	for _, c := range []struct {
		who, strategy string
		child         bool // the answer is the child's (or its task's)
	}{
		{"ops", "BLOCKING_WORKFLOW", false},
		{"ops", "BLOCKING_TASK", false},
		{"admin", "BLOCKING_WORKFLOW", true},
		{"admin", "BLOCKING_TASK", true},
	} {
		id := es.mustAs(t, "admin", "POST", "/api/workflow/outer", `{}`)
		es.waitTasks(t, id)
		var resp map[string]any
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			code, out := es.as(t, c.who, "POST", "/api/tasks/"+id+"/COMPLETED/signal/sync?returnStrategy="+c.strategy+"&timeoutMillis=5000", `{}`)
			if code != 200 {
				t.Fatalf("%s %s: %d %s", c.who, c.strategy, code, out)
			}
			if err := json.Unmarshal([]byte(out), &resp); err != nil {
				t.Fatalf("%s %s: %s", c.who, c.strategy, out)
			}
			if resp["signalTimeout"] != true || time.Now().After(deadline) {
				break
			}
		}
		runID, _ := resp["workflowId"].(string)
		if runID == "" {
			runID, _ = resp["workflowInstanceId"].(string) // a TaskRun
		}
		body, _ := json.Marshal(resp)
		if child := runID != id; child != c.child {
			t.Errorf("%s %s answered run %s (outer %s): %s", c.who, c.strategy, runID, id, body)
		}
		if !c.child && strings.Contains(string(body), `"iw"`) {
			t.Errorf("%s %s: the child's task is in the answer: %s", c.who, c.strategy, body)
		}
	}
}
