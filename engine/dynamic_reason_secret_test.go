package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

// TestDynamicReasonHidesSecretsMembers: a DYNAMIC task naming no task fails
// the run with its input quoted in the reason (DynamicTaskMapper's
// "Cannot map a dynamic task … input= …"). The input holds an earlier task's
// `_secrets` member: its values are "***" there whatever their length — a
// leaf too short for the masker to register (3 bytes) included — in the
// reason, the stored run and everything else the run shows.
func TestDynamicReasonHidesSecretsMembers(t *testing.T) {
	g := newRig(t, "bolt", 2)
	e := g.engine(t, rotationRegistry(false))
	d, err := e.Parse([]byte(`{"name":"dyn_reason_secret","version":1,"tasks":[
	  {"name":"prev","taskReferenceName":"prev","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"({_secrets:{s:'q'+(3+4)+'z', l:'longleaf-'+(77000+123)}, plain:'visible'})"}},
	  {"name":"dyn","taskReferenceName":"dyn","type":"DYNAMIC","dynamicTaskNameParam":"taskToExecute","inputParameters":{"p":"${prev.output.result}"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != "FAILED" || !strings.Contains(res.Reason, "Cannot map a dynamic task based on the parameter and input. Parameter= taskToExecute, input= ") {
		t.Fatalf("status %s reason %q: want FAILED with DynamicTaskMapper's reason", res.Status, res.Reason)
	}
	if !strings.Contains(res.Reason, "plain=visible") || !strings.Contains(res.Reason, "s=***") {
		t.Errorf("reason %q: want the input shown, its _secrets leaves as ***", res.Reason)
	}
	for _, s := range []string{"q7z", "longleaf-77123"} {
		if strings.Contains(res.Reason, s) {
			t.Errorf("reason holds the _secrets value %q: %q", s, res.Reason)
		}
	}
	raw, _, err := g.runs.Load(context.Background(), res.RunID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte("q7z")) {
		t.Errorf("stored run holds the short _secrets value")
	}
	g.leakCheck(t, e, nil, "longleaf-77123")
}
