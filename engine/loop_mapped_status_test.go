package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// The tasks the decision that fails a DO_WHILE maps and does not execute
// (the successor of the iteration's failed permissive task when the
// decider does not execute it, and what a DO_WHILE successor's
// scheduleNextIteration or a SWITCH's mapper brings) are recorded as their
// Conductor mapper creates them: IN_PROGRESS for INLINE, SET_VARIABLE,
// WAIT, HUMAN… (InlineTaskMapper, WaitTaskMapper, …), with a startTime;
// SCHEDULED for an HTTP, SUB_WORKFLOW or EVENT task (HTTPTaskMapper, …),
// with a startTime too (scheduleTask gives one to every system task that
// has none), and for a worker task, which has none; the next decision
// cancels them. A NOOP successor is synchronous (Noop.execute): COMPLETED.
func TestDoWhileMappedTasksRecordedAsTheirMapperCreatesThem(t *testing.T) {
	x := `{"name":"fail","taskReferenceName":"x","permissive":true,"retryCount":0,"inputParameters":{}}`
	inline := `{"name":"c","taskReferenceName":"c","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}}`
	setVar := `{"name":"v","taskReferenceName":"v","type":"SET_VARIABLE","inputParameters":{"seen":true}}`
	wait := `{"name":"w","taskReferenceName":"w","type":"WAIT","inputParameters":{"duration":"1 hour"}}`
	human := `{"name":"h","taskReferenceName":"h","type":"HUMAN","inputParameters":{}}`
	noop := `{"name":"n","taskReferenceName":"n","type":"NOOP"}`
	echo := `{"name":"echo","taskReferenceName":"e","inputParameters":{}}`
	http := `{"name":"hp","taskReferenceName":"hp","type":"HTTP","inputParameters":{"http_request":{"uri":"http://127.0.0.1:1/x","method":"GET"}}}`
	// Inline: SubWorkflowTaskMapper looks no version up (it throws for a
	// child it cannot find).
	sub := `{"name":"sw","taskReferenceName":"sw","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"child","workflowDefinition":{"name":"child","tasks":[
	  {"name":"echo","taskReferenceName":"ce","inputParameters":{}}]}}}`
	fork := `{"name":"fk","taskReferenceName":"fk","type":"FORK_JOIN","forkTasks":[[` + http + `]]},{"name":"jn","taskReferenceName":"jn","type":"JOIN","joinOn":["hp"]}`
	event := `{"name":"ev","taskReferenceName":"ev","type":"EVENT","sink":"conductor"}`
	inner := func(first string) string {
		return `{"name":"inner","taskReferenceName":"inner","type":"DO_WHILE","loopCondition":"false","loopOver":[` + first + `]}`
	}
	sw := func(first string) string {
		return inner(`{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","expression":"k","inputParameters":{"k":"a"},
		  "decisionCases":{"a":[` + first + `]}}`)
	}
	loop := func(body string) string {
		return `{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"false","loopOver":[` + x + `,` + body + `]},
		  {"name":"echo","taskReferenceName":"after","inputParameters":{}}]}`
	}
	cases := []struct {
		name, def, ref string
		// the statuses its record is stored with while the run goes on
		// (the write that fails the loop holds it as mapped); its status
		// at the end, and whether it has a startTime then
		stored, end string
		started     bool
	}{
		{"a WAIT successor", loop(wait), "w__1", "IN_PROGRESS", "CANCELED", true},
		{"a HUMAN successor", loop(human), "h__1", "IN_PROGRESS", "CANCELED", true},
		{"a worker successor", loop(echo), "e__1", "SCHEDULED", "CANCELED", false},
		{"a NOOP successor", loop(noop), "n__1", "COMPLETED", "COMPLETED", true},
		{"a loop's first INLINE", loop(inner(inline)), "c__1__1", "IN_PROGRESS", "CANCELED", true},
		{"a loop's first SET_VARIABLE", loop(inner(setVar)), "v__1__1", "IN_PROGRESS", "CANCELED", true},
		{"a loop's first WAIT", loop(inner(wait)), "w__1__1", "IN_PROGRESS", "CANCELED", true},
		{"a loop's first worker task", loop(inner(echo)), "e__1__1", "SCHEDULED", "CANCELED", false},
		{"a loop's SWITCH case's INLINE", loop(sw(inline)), "c__1__1", "IN_PROGRESS", "CANCELED", true},
		{"an HTTP successor", loop(http), "hp__1", "SCHEDULED", "CANCELED", true},
		{"a DO_WHILE successor", loop(inner(echo)), "inner__1", "IN_PROGRESS", "CANCELED", true},
		{"a FORK successor", loop(fork), "fk__1", "COMPLETED", "COMPLETED", true},
		{"a FORK successor's JOIN", loop(fork), "jn__1", "IN_PROGRESS", "CANCELED", true},
		{"a FORK successor's HTTP branch", loop(fork), "hp__1", "SCHEDULED", "CANCELED", true},
		{"a loop's SWITCH", loop(sw(echo)), "s__1__1", "IN_PROGRESS", "CANCELED", true},
		{"a SUB_WORKFLOW successor", loop(sub), "sw__1", "SCHEDULED", "CANCELED", true},
		{"an EVENT successor", loop(event), "ev__1", "SCHEDULED", "CANCELED", true},
		{"a loop's first HTTP", loop(inner(http)), "hp__1__1", "SCHEDULED", "CANCELED", true},
		{"a loop's SWITCH case's SUB_WORKFLOW", loop(sw(sub)), "sw__1__1", "SCHEDULED", "CANCELED", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rs := &recordingStore{Store: runstore.NewMemory()}
			h := newHarness(t, rs, engine.WithRegistry(tasks.NewDefaultRegistry()))
			res := h.run(c.def, `{}`)
			if res.Status != engine.StatusFailed {
				t.Fatalf("run %s %q", res.Status, res.Reason)
			}
			var got []string
			for _, st := range rs.records(t, c.ref) {
				if len(got) == 0 || got[len(got)-1] != st.Status {
					got = append(got, st.Status)
				}
			}
			if strings.Join(got, " ") != c.stored {
				t.Fatalf("%s stored %q, want %q", c.ref, strings.Join(got, " "), c.stored)
			}
			b, err := h.e.Show(context.Background(), res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			var v struct {
				Tasks []storedTask `json:"tasks"`
			}
			if err := json.Unmarshal(b, &v); err != nil {
				t.Fatal(err)
			}
			var end *storedTask
			for i := range v.Tasks {
				if v.Tasks[i].Ref == c.ref {
					end = &v.Tasks[i]
				}
			}
			if end == nil || end.Status != c.end || (end.StartTime > 0) != c.started {
				t.Fatalf("%s at the end: %v", c.ref, end)
			}
		})
	}
}
