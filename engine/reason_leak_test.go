package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// A run's reasonForIncompletion is stored masked: a DYNAMIC task whose name
// comes from a `_secrets` leaf of an earlier output fails the run with a
// reason quoting that name, and neither the stored run nor the raw store
// holds the value.
func TestReasonForIncompletionIsMasked(t *testing.T) {
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			g := newRig(t, backend, 2)
			tok := "tok-" + randHex(16)
			g.put(t, "tok", tok)
			e := g.engine(t, rotationRegistry(false))
			d, err := e.Parse([]byte(`{"name":"reason_leak","version":1,"tasks":[
 {"name":"pick","taskReferenceName":"pick","type":"INLINE","inputParameters":{"v":"${workflow.secrets.tok}",
  "evaluatorType":"javascript","expression":"({_secrets: {name: $.v}})"}},
 {"name":"dyn","taskReferenceName":"dyn","type":"DYNAMIC","dynamicTaskNameParam":"taskToExecute",
  "inputParameters":{"taskToExecute":"${pick.output.result._secrets.name}"}}]}`))
			if err != nil {
				t.Fatal(err)
			}
			res, err := e.Start(context.Background(), d, json.RawMessage(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != engine.StatusFailed || !strings.Contains(res.Reason, "Cannot find task by name ***") {
				t.Fatalf("want FAILED naming the masked task name, got %s %q", res.Status, res.Reason)
			}
			g.leakCheck(t, e, nil, tok)
		})
	}
}
