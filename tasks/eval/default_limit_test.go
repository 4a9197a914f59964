package eval

import (
	"testing"
	"time"
)

// A script runs at most 4 seconds by default: Conductor's ScriptEvaluator
// interrupts one after CONDUCTOR_SCRIPT_MAX_EXECUTION_SECONDS, 4 unless
// set. An evaluator built with no options has that limit, and a script it
// stops reads as ScriptEvaluator words it (TestInterruptedMessage runs one
// with a 1 s limit), naming 4 seconds. No script is run for 4 s here.
func TestScriptTimeLimitDefaultsToConductors(t *testing.T) {
	if got := defaultConfig().timeout; got != 4*time.Second {
		t.Fatalf("default time limit %v, want 4s", got)
	}
	for _, typ := range []string{TypeJavaScript, TypeGraalJS} {
		ev, err := New(typ)
		if err != nil {
			t.Fatal(err)
		}
		js, ok := ev.(*jsEvaluator)
		if !ok || js.cfg.timeout != 4*time.Second {
			t.Fatalf("%s: evaluator %T with no options, limit not 4s", typ, ev)
		}
		e := &Error{Evaluator: typ, Phase: PhaseEval, Kind: ErrTimeout, limit: js.cfg.timeout}
		const want = "Script not evaluated within 4 seconds, interrupted."
		if got, ok := InterruptedMessage(e); !ok || got != want {
			t.Fatalf("%s: %q %v, want %q", typ, got, ok, want)
		}
	}
}
