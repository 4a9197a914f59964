package engine_test

import (
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// Conductor's DoWhile evaluates the loop's items again after each iteration
// (evaluateCondition, then injectLoopVariables for the next one), so a list
// read from the run's variables follows what the iteration set: here the
// first iteration lengthens the list from [1,2] to [1,2,3] and the loop
// runs three times, its last loopItem 3; with a loopCondition too (both it
// and one more item needed). wfrun read the list once and stopped after two.
// The same list read from the run's input is read once, as it cannot change.
func TestDoWhileItemsReadAgainEachIteration(t *testing.T) {
	body := `"loopOver":[
	    {"name":"grow","taskReferenceName":"grow","type":"SET_VARIABLE","inputParameters":{"list":[1,2,3]}},
	    {"name":"echo","taskReferenceName":"e","inputParameters":{"item":"${l.output.loopItem}"}}]`
	for _, c := range []struct{ name, loop string }{
		{"items", `"loopCondition":"","items":"${workflow.variables.list}",`},
		{"items and a condition", `"loopCondition":"$.l['iteration'] < 10","items":"${workflow.variables.list}",`},
		{"_items", `"loopCondition":"","inputParameters":{"_items":"${workflow.variables.list}"},`},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			res := h.run(`{"name":"w","tasks":[
			  {"name":"init","taskReferenceName":"init","type":"SET_VARIABLE","inputParameters":{"list":[1,2]}},
			  {"name":"l","taskReferenceName":"l","type":"DO_WHILE",`+c.loop+body+`}]}`, `{}`)
			if res.Status != engine.StatusCompleted {
				t.Fatalf("run %s %q", res.Status, res.Reason)
			}
			v := viewRun(t, h.e, res.RunID)
			loop := v.Tasks[1].Output
			if loop["iteration"] != float64(3) || loop["loopItem"] != float64(3) || loop["loopIndex"] != float64(2) {
				t.Errorf("loop output %v; want iteration 3, loopItem 3, loopIndex 2", loop)
			}
			if n := h.calls["echo"].Load(); n != 3 {
				t.Errorf("echo ran %d times, want 3", n)
			}
		})
	}
	t.Run("run input", func(t *testing.T) {
		h := newHarness(t, nil)
		res := h.run(`{"name":"w","tasks":[{"name":"l","taskReferenceName":"l","type":"DO_WHILE","loopCondition":"","items":"${workflow.input.list}",`+body+`}]}`, `{"list":["a","b"]}`)
		v := viewRun(t, h.e, res.RunID)
		if res.Status != engine.StatusCompleted || v.Tasks[0].Output["iteration"] != float64(2) || v.Tasks[0].Output["loopItem"] != "b" {
			t.Errorf("run %s %q, loop output %v; want 2 iterations over the input's list", res.Status, res.Reason, v.Tasks[0].Output)
		}
	})
}
