package engine_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// TestSubWorkflowMappedNeverStartedShowsItsMapperInput: a SUB_WORKFLOW
// the decision that fails a DO_WHILE maps (the successor of the
// iteration's failed permissive task) is created by Conductor's
// SubWorkflowTaskMapper and cancelled with the run, never started; the
// mapper fills its inputData all the same (subWorkflowName,
// subWorkflowVersion, or subWorkflowDefinition for an inline child,
// priority, subWorkflowTaskToDomain, idempotencyKey, idempotencyStrategy,
// the task's input under workflowInput) and sets its callbackAfterSeconds
// to its startDelay. The record showed the task's input alone ({"k":"v"}
// here) and no callbackAfterSeconds.
func TestSubWorkflowMappedNeverStartedShowsItsMapperInput(t *testing.T) {
	dir := t.TempDir()
	for v, file := range []string{"c1.json", "c2.json"} {
		def := `{"name":"mapped_child","version":` + string(rune('1'+v)) + `,"schemaVersion":2,"tasks":[{"name":"echo","taskReferenceName":"e","inputParameters":{}}]}`
		if err := os.WriteFile(filepath.Join(dir, file), []byte(def), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	inline := `{"name":"inline_child","version":3,"schemaVersion":2,"tasks":[{"name":"echo","taskReferenceName":"e","inputParameters":{}}]}`
	loop := func(param string) string {
		return `{"name":"mapped_sub","version":1,"schemaVersion":2,"tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"false","loopOver":[
		  {"name":"fail","taskReferenceName":"x","permissive":true,"retryCount":0,"inputParameters":{}},
		  {"name":"sw","taskReferenceName":"sw","type":"SUB_WORKFLOW","startDelay":5,"inputParameters":{"k":"${workflow.input.k}"},"subWorkflowParam":` + param + `}]}]}`
	}
	cases := []struct {
		name, param string
		want        string
	}{
		{"by name, the latest version", `{"name":"mapped_child","priority":"${workflow.input.p}","idempotencyKey":"key-${workflow.input.k}","idempotencyStrategy":"RETURN_EXISTING"}`,
			`{"subWorkflowName":"mapped_child","subWorkflowVersion":2,"priority":4,"subWorkflowTaskToDomain":null,"subWorkflowDefinition":null,
			  "idempotencyKey":"key-v","idempotencyStrategy":"RETURN_EXISTING","workflowInput":{"k":"v"}}`},
		{"inline", `{"name":"inline_child","taskToDomain":{"echo":"d1"},"workflowDefinition":` + inline + `}`,
			`{"subWorkflowName":"inline_child","subWorkflowVersion":null,"priority":null,"subWorkflowTaskToDomain":{"echo":"d1"},"subWorkflowDefinition":` + inline + `,
			  "idempotencyKey":null,"idempotencyStrategy":null,"workflowInput":{"k":"v"}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithDefinitionsDir(dir))
			res := h.run(loop(c.param), `{"k":"v","p":4}`)
			if res.Status != engine.StatusFailed {
				t.Fatalf("run %s %q", res.Status, res.Reason)
			}
			_, recs := rawTasks(t, h.e, res.RunID)
			var sw map[string]any
			for _, tk := range recs {
				if tk["referenceTaskName"] == "sw__1" {
					sw = tk
				}
			}
			var want map[string]any
			if err := json.Unmarshal([]byte(c.want), &want); err != nil {
				t.Fatal(err)
			}
			if sw == nil || sw["status"] != engine.TaskCanceled || !reflect.DeepEqual(sw["inputData"], want) || sw["callbackAfterSeconds"] != 5.0 {
				t.Fatalf("sw__1: %v\nwant CANCELED, callbackAfterSeconds 5, inputData %v", sw, want)
			}
		})
	}
}
