package engine_test

import (
	"encoding/json"
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
// condition>, exception <what it threw>". The loop's output keeps the
// iteration that just ended (DoWhile.execute records it before it
// evaluates the condition; core DoWhileSpec "the condition is
// incorrect"), whether the loop fails the run, lets it go on (permissive)
// or ends COMPLETED_WITH_ERRORS (optional).
func TestDoWhileConditionThatThrowsFailsTheLoop(t *testing.T) {
	cases := []struct{ flag, loop, run string }{
		{"", "FAILED_WITH_TERMINAL_ERROR", engine.StatusFailed},
		{`"permissive":true,`, "FAILED_WITH_TERMINAL_ERROR", engine.StatusFailed},
		{`"optional":true,`, "COMPLETED_WITH_ERRORS", engine.StatusCompleted},
	}
	for _, c := range cases {
		t.Run(c.flag, func(t *testing.T) {
			h := newHarness(t, nil)
			res := h.run(`{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE",`+c.flag+`
			  "loopCondition":"$.loop['iteration'] < 2 || $.nothing.here","loopOver":[{"name":"echo","taskReferenceName":"e","inputParameters":{"i":"${loop.output.iteration}"}}]}]}`, `{}`)
			v := viewRun(t, h.e, res.RunID)
			checkTasks(t, v.Tasks, "DO_WHILE:"+c.loop, "echo:COMPLETED", "echo:COMPLETED")
			if r := v.Tasks[0].Reason; !strings.HasPrefix(r, "Unable to evaluate condition $.loop['iteration'] < 2 || $.nothing.here, exception ") || res.Status != c.run {
				t.Fatalf("run %s, loop reason %q", res.Status, r)
			}
			b, _ := json.Marshal(v.Tasks[0].Output)
			jsonEq(t, b, `{"iteration":2,"1":{"e":{"echo":{"i":1}}},"2":{"e":{"echo":{"i":2}}}}`)
		})
	}
}

// A loop stopped by the engine's iteration limit keeps the iterations it ran.
func TestDoWhileStoppedAtTheLimitKeepsItsOutput(t *testing.T) {
	h := newHarness(t, nil, engine.WithMaxLoopIterations(2))
	res := h.run(`{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","optional":true,
	  "loopCondition":"true","loopOver":[{"name":"echo","taskReferenceName":"e","inputParameters":{"i":"${loop.output.iteration}"}}]}]}`, `{}`)
	v := viewRun(t, h.e, res.RunID)
	checkTasks(t, v.Tasks, "DO_WHILE:COMPLETED_WITH_ERRORS", "echo:COMPLETED", "echo:COMPLETED")
	b, _ := json.Marshal(v.Tasks[0].Output)
	jsonEq(t, b, `{"iteration":2,"1":{"e":{"echo":{"i":1}}},"2":{"e":{"echo":{"i":2}}}}`)
}
