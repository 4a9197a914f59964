package tasks_test

import (
	"strings"
	"testing"

	"github.com/wfrun/wfrun/tasks"
)

// A try/catch handler gets the caught message masked by the run's masker,
// which wfrun hands to the rewritten query. A query cannot take that
// masker's place — by binding a variable under the masker's name, or by
// defining a function named like the one the rewrite calls — and so get
// gojq's message with a secret's head (a 30-byte preview no masking of the
// output recognises).
func TestJQCaughtMaskerCannotBeShadowed(t *testing.T) {
	secret := leakToken + "-and-more-of-it-1234567890"
	for _, c := range []struct{ query, status string }{
		{`try (.tok + 1) catch .`, "COMPLETED"},
		{`. as $__wfrun_masker | try (.tok + 1) catch .`, "COMPLETED"},
		{`def f($__wfrun_masker): try (.tok + 1) catch .; f(1)`, "COMPLETED"},
		{`. as {tok: $__wfrun_masker} | try (.tok + 1) catch .`, "COMPLETED"},
		{`reduce (.tok, .tok) as $__wfrun_masker (null; try ($__wfrun_masker + 1) catch .)`, "COMPLETED"},
		{`def _wfrun_caught(f): .; try (.tok + 1) catch .`, "COMPLETED"},
		{`def _wfrun_caught($m): .; try (.tok + 1) catch .`, "COMPLETED"},
	} {
		res := execute(t, tasks.TypeJSONJQTransform, map[string]any{"queryExpression": c.query, "tok": secret}, &tasks.Services{Masker: maskerWith(secret)})
		// The whole value is masked where the output is stored; a piece is not.
		out := strings.ReplaceAll(string(res.Output)+res.Reason, secret, "***")
		if string(res.Status) != c.status || strings.Contains(out, secret[:12]) {
			t.Errorf("%s: %s %s: a piece of the secret reached the task, or the query did not run", c.query, res.Status, out)
		}
		if !strings.Contains(out, "***") {
			t.Errorf("%s: the caught message was not handed over masked: %s", c.query, out)
		}
	}
}
