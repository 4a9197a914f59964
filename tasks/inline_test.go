package tasks

import (
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/tasks/eval"
)

func TestInline(t *testing.T) {
	r := NewDefaultRegistry()
	cases := []struct {
		name string
		in   map[string]any
		want any
	}{
		{"conductor docs function", map[string]any{"a": 1, "b": 2, "expression": "(function(){ return $.a + $.b; })()"}, 3.0},
		{"default evaluator is javascript", map[string]any{"value": "x", "expression": "$.value + $.evaluatorType"}, "xundefined"},
		{"graaljs", map[string]any{"evaluatorType": "graaljs", "x": "a", "expression": "$.x == 'a' ? 'caseA' : 'other'"}, "caseA"},
		{"value-param", map[string]any{"evaluatorType": "value-param", "k": []any{1, 2}, "expression": "k"}, []any{1.0, 2.0}},
		{"expr", map[string]any{"evaluatorType": "expr", "n": 4, "expression": "$.n * n"}, 16.0},
		{"whole input is $", map[string]any{"expression": "Object.keys($).sort().join(',')", "z": 1}, "expression,z"},
		{"object result", map[string]any{"expression": "({ list: [1, 'two'], nested: { ok: true } })"}, map[string]any{"list": []any{1.0, "two"}, "nested": map[string]any{"ok": true}}},
		{"null result", map[string]any{"expression": "null"}, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, r, TypeInline, tc.in, nil)
			wantStatus(t, res, Completed)
			out := output(t, res)
			if _, ok := out["result"]; !ok || len(out) != 1 {
				t.Fatalf("output %s", res.Output)
			}
			if got, want := jsonText(t, out["result"]), jsonText(t, tc.want); got != want {
				t.Fatalf("result %s, want %s", got, want)
			}
		})
	}
}

func TestInlineFailures(t *testing.T) {
	r := NewDefaultRegistry(WithEvalOptions(eval.WithTimeout(50 * time.Millisecond)))
	cases := []struct {
		name   string
		in     any
		status Status
		reason string
	}{
		{"missing expression", map[string]any{"evaluatorType": "javascript"}, FailedTerminal, "Empty 'expression'"},
		{"blank expression", map[string]any{"expression": "  "}, FailedTerminal, "Empty 'expression'"},
		{"blank evaluator", map[string]any{"evaluatorType": "", "expression": "1"}, FailedTerminal, "Empty 'evaluatorType'"},
		{"unknown evaluator", map[string]any{"evaluatorType": "python", "expression": "1"}, FailedTerminal, `unknown evaluator type "python"`},
		{"syntax error", map[string]any{"expression": "function ("}, FailedTerminal, "javascript: compile at 1:"},
		// Conductor's ScriptEvaluator throws TerminateWorkflowException for a
		// script that throws; Inline records it FAILED_WITH_TERMINAL_ERROR.
		{"runtime error", map[string]any{"expression": "$.a.b.c"}, FailedTerminal, "Error evaluating the script `TypeError: Cannot read property 'b' of undefined` at line 1"},
		{"thrown on line 2", map[string]any{"expression": "var x = 1;\nthrow 'no ' + x"}, FailedTerminal, "Error evaluating the script `no 1` at line 2"},
		// ScriptEvaluator's NonTransientException, in whole seconds of its
		// limit (50 ms here): Inline records it FAILED.
		{"infinite loop", map[string]any{"expression": "while(true){}"}, Failed, "Script not evaluated within 0 seconds, interrupted."},
		{"not an object", `"text"`, FailedTerminal, "not a JSON object"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := run(t, r, TypeInline, tc.in, nil)
			wantStatus(t, res, tc.status, tc.reason)
			if e, _ := output(t, res)["error"].(string); !strings.Contains(e, tc.reason) {
				t.Fatalf("output error %q", e)
			}
		})
	}
}

func TestInlineMasksErrors(t *testing.T) {
	const secret = "hunter2-token"
	res := run(t, NewDefaultRegistry(), TypeInline, map[string]any{"tok": secret, "expression": "throw 'bad ' + $.tok"}, newServices(secret))
	wantStatus(t, res, FailedTerminal)
	if strings.Contains(res.Reason, secret) || strings.Contains(string(res.Output), secret) || !strings.Contains(res.Reason, "`bad ***`") {
		t.Fatalf("not masked: %q %s", res.Reason, res.Output)
	}
}
