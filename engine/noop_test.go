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

// The operators' records carry the taskDefName Conductor's mappers give
// them (their type; FORK for a fork), other tasks their name.
func TestOperatorTaskDefNames(t *testing.T) {
	e := harnessEngine(t, nil)
	d, err := e.Parse([]byte(`{"name":"operator_names","version":1,"schemaVersion":2,"tasks":[
	  {"name":"route","taskReferenceName":"route","type":"SWITCH","evaluatorType":"value-param","expression":"k",
	   "inputParameters":{"k":"a"},"decisionCases":{"a":[{"name":"in_a","taskReferenceName":"in_a","type":"NOOP"}]}},
	  {"name":"old_route","taskReferenceName":"old_route","type":"DECISION","caseValueParam":"k",
	   "inputParameters":{"k":"b"},"decisionCases":{"b":[{"name":"in_b","taskReferenceName":"in_b","type":"NOOP"}]}},
	  {"name":"split","taskReferenceName":"split","type":"FORK_JOIN","forkTasks":[
	    [{"name":"left","taskReferenceName":"left","type":"NOOP"}],[{"name":"right","taskReferenceName":"right","type":"NOOP"}]]},
	  {"name":"meet","taskReferenceName":"meet","type":"JOIN","joinOn":["left","right"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if res, err := e.Start(context.Background(), d, json.RawMessage(`{}`), engine.WithRunID("names-1")); err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%+v %v", res, err)
	}
	b, err := e.Show(context.Background(), "names-1")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Tasks []struct {
			Ref     string `json:"referenceTaskName"`
			DefName string `json:"taskDefName"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"route": "SWITCH", "in_a": "in_a", "old_route": "DECISION", "in_b": "in_b",
		"split": "FORK", "left": "left", "right": "right", "meet": "JOIN"}
	for _, tk := range v.Tasks {
		if tk.DefName != want[tk.Ref] {
			t.Errorf("%s: taskDefName %q, want %q", tk.Ref, tk.DefName, want[tk.Ref])
		}
		delete(want, tk.Ref)
	}
	if len(want) != 0 {
		t.Errorf("no records for %v", want)
	}
}
