package engine_test

import (
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// A worker's task scheduled by a SWITCH's case in a fork's pass beside
// synchronous system tasks of other branches. Conductor's decide maps the
// whole pass, then scheduleTask stores its tasks and queues the ones that
// wait (TaskStatusListener.onTaskScheduled), and only then executes the
// pass's synchronous tasks: the worker's task is SCHEDULED before any of
// them runs, in the first pass (beside v1, v2) and in a later one (the
// SWITCH after a SET_VARIABLE, beside j). wfrun announced it once those
// had run.
func TestForkWorkerTaskScheduledBeforeItsPassRuns(t *testing.T) {
	sw := func(ref, worker string) string {
		return `{"name":"` + ref + `","taskReferenceName":"` + ref + `","type":"SWITCH","evaluatorType":"value-param","expression":"k",
		  "inputParameters":{"k":"a"},"decisionCases":{"a":[{"name":"echo","taskReferenceName":"` + worker + `","inputParameters":{"x":1}}]}}`
	}
	setVar := func(ref string) string {
		return `{"name":"` + ref + `","taskReferenceName":"` + ref + `","type":"SET_VARIABLE","inputParameters":{"` + ref + `":1}}`
	}
	jq := `{"name":"j","taskReferenceName":"j","type":"JSON_JQ_TRANSFORM","inputParameters":{"queryExpression":".a","a":1}}`
	def := `{"name":"w","tasks":[{"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	  [` + setVar("v1") + `],
	  [` + sw("s", "w") + `],
	  [` + setVar("v2") + `,` + jq + `],
	  [` + setVar("v3") + `,` + sw("s2", "w2") + `]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["v1","w","j","w2"]}]}`
	for i := range 20 { // the branches' goroutines in any order
		h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
		res := h.run(def, `{}`)
		if res.Status != engine.StatusCompleted {
			t.Fatalf("run %s %q", res.Status, res.Reason)
		}
		h.mu.Lock()
		at := map[string]int{}
		var seen []string
		for k, ev := range h.events {
			if ev.Kind != engine.EventTask {
				continue
			}
			key := ev.TaskRef + ":" + ev.Status
			seen = append(seen, key)
			if _, ok := at[key]; !ok {
				at[key] = k
			}
		}
		h.mu.Unlock()
		for _, c := range [][2]string{
			{"w:SCHEDULED", "v1:COMPLETED"}, {"w:SCHEDULED", "v2:COMPLETED"}, {"w:SCHEDULED", "v3:COMPLETED"},
			{"w2:SCHEDULED", "j:COMPLETED"},
		} {
			a, okA := at[c[0]]
			b, okB := at[c[1]]
			if !okA || !okB || a > b {
				t.Fatalf("run %d: %s after %s; events %s", i, c[0], c[1], strings.Join(seen, " "))
			}
		}
		// And after the pass that scheduled it: the SET_VARIABLE before the
		// second SWITCH ran first.
		if at["w2:SCHEDULED"] < at["v3:COMPLETED"] {
			t.Fatalf("run %d: w2 SCHEDULED before v3 ran; events %s", i, strings.Join(seen, " "))
		}
	}
}
