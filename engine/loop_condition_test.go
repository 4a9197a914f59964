package engine_test

import (
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// Conductor's DoWhile evaluates the loopCondition as JavaScript
// (ScriptEvaluator.evalBool) whatever evaluatorType the task gives: with
// value-param, or a type no evaluator has, the condition still reads as
// JavaScript, and the definition registers.
func TestDoWhileConditionIsJavaScriptWhateverTheEvaluatorType(t *testing.T) {
	for _, typ := range []string{"value-param", "nope", "javascript", "graaljs"} {
		t.Run(typ, func(t *testing.T) {
			h := newHarness(t, nil)
			res := h.run(`{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","evaluatorType":"`+typ+`",
			  "loopCondition":"$.loop['iteration'] < 3","loopOver":[{"name":"echo","taskReferenceName":"e","inputParameters":{}}]}]}`, `{}`)
			if res.Status != engine.StatusCompleted || h.calls["echo"].Load() != 3 {
				t.Fatalf("run %s %q, echo ran %d times, want 3", res.Status, res.Reason, h.calls["echo"].Load())
			}
		})
	}
}

// A loopCondition that throws fails the loop FAILED_WITH_TERMINAL_ERROR
// with DoWhile.execute's words: "Unable to evaluate condition <the
// condition>, exception <what it threw>".
func TestDoWhileConditionThatThrowsFailsTheLoop(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(`{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",
	  "loopCondition":"$.nothing.here","loopOver":[{"name":"echo","taskReferenceName":"e","inputParameters":{}}]}]}`, `{}`)
	v := viewRun(t, h.e, res.RunID)
	checkTasks(t, v.Tasks, "DO_WHILE:FAILED_WITH_TERMINAL_ERROR", "echo:COMPLETED")
	if r := v.Tasks[0].Reason; !strings.HasPrefix(r, "Unable to evaluate condition $.nothing.here, exception ") || res.Status != engine.StatusFailed {
		t.Fatalf("run %s, loop reason %q", res.Status, r)
	}
}
