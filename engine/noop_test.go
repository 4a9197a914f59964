package engine_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// NOOP (Conductor's Noop system task) completes at once with an empty
// output; here as the SWITCH branch that has nothing to do, the way
// workflows use it.
func TestNoopTask(t *testing.T) {
	e := harnessEngine(t, nil)
	d, err := e.Parse([]byte(`{"name":"noop_switch","version":1,"schemaVersion":2,"tasks":[
	  {"name":"route","taskReferenceName":"route","type":"SWITCH","evaluatorType":"value-param","expression":"kind",
	   "inputParameters":{"kind":"${workflow.input.kind}"},
	   "decisionCases":{"loud":[{"name":"shout","taskReferenceName":"shout","type":"INLINE",
	     "inputParameters":{"evaluatorType":"javascript","expression":"'HEY'"}}]},
	   "defaultCase":[{"name":"nothing","taskReferenceName":"nothing","type":"NOOP","inputParameters":{"ignored":"${workflow.input.kind}"}}]},
	  {"name":"after","taskReferenceName":"after","type":"NOOP"}],
	  "outputParameters":{"shout":"${shout.output.result}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, json.RawMessage(`{"kind":"quiet"}`), engine.WithRunID("noop-1"))
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%+v %v", res, err)
	}
	wf := viewRun(t, e, "noop-1")
	checkTasks(t, wf.Tasks, "SWITCH:COMPLETED", "NOOP:COMPLETED", "NOOP:COMPLETED")
	for _, tk := range wf.Tasks[1:] {
		if len(tk.Output) != 0 {
			t.Fatalf("NOOP %s output %v, want {}", tk.Ref, tk.Output)
		}
	}
	if wf.Tasks[1].Input["ignored"] != "quiet" {
		t.Fatalf("NOOP input %v", wf.Tasks[1].Input)
	}
}
