package engine_test

import (
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// A script runs at most 4 seconds by default: Conductor's ScriptEvaluator
// interrupts one after CONDUCTOR_SCRIPT_MAX_EXECUTION_SECONDS, 4 unless
// set, and its message names the limit. Through an engine built with no
// evaluator options.
func TestScriptTimeLimitDefaultsToConductors(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(`{"name":"slow","tasks":[{"name":"sw","taskReferenceName":"sw","type":"SWITCH",
	  "evaluatorType":"javascript","expression":"while(true){}","inputParameters":{},
	  "decisionCases":{"a":[{"name":"x","taskReferenceName":"x","type":"SET_VARIABLE","inputParameters":{"v":1}}]}}]}`, `{}`)
	v := viewRun(t, h.e, res.RunID)
	const want = "Script not evaluated within 4 seconds, interrupted."
	if res.Status != engine.StatusFailed || len(v.Tasks) != 1 || v.Tasks[0].Reason != want {
		t.Fatalf("run %s %q, tasks %+v; want the SWITCH FAILED with %q", res.Status, res.Reason, v.Tasks, want)
	}
}
