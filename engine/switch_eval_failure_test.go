package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// A SWITCH whose expression throws, as Conductor records it:
// SwitchTaskMapper.getMappedTasks catches whatever the evaluator throws and
// maps the SWITCH alone, status FAILED, reasonForIncompletion the
// exception's message, its input the task's input (no "case", no output,
// started). A SWITCH is built-in (TaskType.isBuiltIn): DeciderService.retry
// never retries it and throws TerminateWorkflowException("Task <id> failed
// with status: FAILED and reason: '<message>'"), so the run FAILS with that
// reason, the SWITCH its failed task. An optional SWITCH ends
// COMPLETED_WITH_ERRORS and the run goes on past it (retry() returns no
// retry, the decider marks it so and schedules the next task).
//
// A DECISION whose caseExpression throws: DecisionTaskMapper.
// getEvaluatedCaseValue throws TerminateWorkflowException("Error while
// evaluating script: <caseExpression>") before any task is built
// (DecisionTaskMapperTest expects that message), and WorkflowExecutor.decide
// terminates the run with it: FAILED, no DECISION record, no failed task,
// optional or not.
func TestSwitchExpressionThatThrows(t *testing.T) {
	next := `{"name":"echo","taskReferenceName":"after","inputParameters":{}}`
	sw := func(evaluator, expr, extra string) string {
		return `{"name":"w","tasks":[{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"` + evaluator + `",
		  "expression":"` + expr + `","inputParameters":{"a":"${workflow.input.a}","tok":"${workflow.secrets.api_token}"}` + extra + `,
		  "decisionCases":{"x":[{"name":"echo","taskReferenceName":"inx","inputParameters":{}}]}},` + next + `]}`
	}
	const typeErr = "Error evaluating the script `TypeError: Cannot read property 'b' of undefined` at line 1"
	for _, c := range []struct{ name, evaluator, expr, want string }{
		{"javascript", "javascript", "$.a.b.c", typeErr},
		{"graaljs", "graaljs", "$.a.b.c", typeErr},
		{"second line", "javascript", "var x = 1;\\n$.a.b.c", strings.Replace(typeErr, "line 1", "line 2", 1)},
		// The thrown text quotes the secret the input resolved to.
		{"throws a secret", "graaljs", "(function(){ throw new Error('no ' + $.tok) })()", ""},
		{"expr", "expr", "a.b.c + 1", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			res := h.run(sw(c.evaluator, c.expr, ""), `{"a":null}`)
			wf := viewRun(t, h.e, res.RunID)
			checkTasks(t, wf.Tasks, "SWITCH:FAILED")
			s := wf.Tasks[0]
			if s.Reason == "" || strings.HasPrefix(s.Reason, "expression: ") {
				t.Fatalf("SWITCH reason %q", s.Reason)
			}
			// ScriptEvaluator words what a script throws "Error evaluating
			// the script `<PolyglotException message>` at line <N>".
			if c.evaluator != "expr" && (!strings.HasPrefix(s.Reason, "Error evaluating the script `") || !strings.Contains(s.Reason, "` at line ")) {
				t.Fatalf("SWITCH reason %q", s.Reason)
			}
			if c.want != "" && s.Reason != c.want {
				t.Fatalf("SWITCH reason %q, want %q", s.Reason, c.want)
			}
			want := "Task " + s.TaskID + " failed with status: FAILED and reason: '" + s.Reason + "'"
			if res.Status != engine.StatusFailed || wf.Status != engine.StatusFailed || wf.Reason != want {
				t.Fatalf("run %s %q, want FAILED %q", wf.Status, wf.Reason, want)
			}
			if len(wf.FailedRefs) != 1 || wf.FailedRefs[0] != "s" {
				t.Fatalf("failedReferenceTaskNames %v", wf.FailedRefs)
			}
			if _, ok := s.Input["case"]; ok || len(s.Output) != 0 || s.Input["a"] != nil || len(s.Input) != 2 {
				t.Fatalf("SWITCH input %v output %v", s.Input, s.Output)
			}
			var start struct {
				Tasks []struct {
					StartTime int64 `json:"startTime"`
				} `json:"tasks"`
			}
			b, err := h.e.Show(context.Background(), res.RunID)
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &start); err != nil || start.Tasks[0].StartTime == 0 {
				t.Fatal("SWITCH has no startTime")
			}
			noSecretAnywhere(t, h, res.RunID)
		})
	}
	t.Run("optional", func(t *testing.T) {
		h := newHarness(t, nil)
		res := h.run(sw("javascript", "$.a.b.c", `,"optional":true`), `{"a":null}`)
		wf := viewRun(t, h.e, res.RunID)
		if res.Status != engine.StatusCompleted {
			t.Fatalf("run %s %q", res.Status, res.Reason)
		}
		checkTasks(t, wf.Tasks, "SWITCH:COMPLETED_WITH_ERRORS", "echo:COMPLETED")
		if wf.Tasks[0].Reason == "" {
			t.Fatal("optional SWITCH has no reason")
		}
	})

	dec := func(expr, extra string) string {
		return `{"name":"w","tasks":[{"name":"echo","taskReferenceName":"before","inputParameters":{}},
		  {"name":"d","taskReferenceName":"d","type":"DECISION","caseExpression":"` + expr + `","caseValueParam":"a",
		  "inputParameters":{"a":"${workflow.input.a}","tok":"${workflow.secrets.api_token}"}` + extra + `,
		  "decisionCases":{"x":[{"name":"echo","taskReferenceName":"inx","inputParameters":{}}]}},` + next + `]}`
	}
	for _, c := range []struct{ name, extra string }{{"DECISION", ""}, {"optional DECISION", `,"optional":true`}} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			const expr = "$.a.b.c"
			res := h.run(dec(expr, c.extra), `{"a":null}`)
			wf := viewRun(t, h.e, res.RunID)
			if want := "Error while evaluating script: " + expr; res.Status != engine.StatusFailed || wf.Status != engine.StatusFailed || wf.Reason != want {
				t.Fatalf("run %s %q, want FAILED %q", wf.Status, wf.Reason, want)
			}
			checkTasks(t, wf.Tasks, "echo:COMPLETED")
			if len(wf.FailedRefs) != 0 || wf.Tasks[0].Seq != 1 {
				t.Fatalf("failedReferenceTaskNames %v, tasks %+v", wf.FailedRefs, wf.Tasks)
			}
			noSecretAnywhere(t, h, res.RunID)
		})
	}
	// caseExpression comes before caseValueParam (DecisionTaskMapper reads
	// caseValueParam only when caseExpression is blank): the same DECISION
	// whose expression does not throw takes its case.
	t.Run("caseExpression first", func(t *testing.T) {
		h := newHarness(t, nil)
		res := h.run(dec("'x'", ""), `{"a":"nope"}`)
		if res.Status != engine.StatusCompleted {
			t.Fatalf("run %s %q", res.Status, res.Reason)
		}
		checkTasks(t, viewRun(t, h.e, res.RunID).Tasks, "echo:COMPLETED", "DECISION:COMPLETED", "echo:COMPLETED", "echo:COMPLETED")
	})
}

// noSecretAnywhere: the run as stored and shown, and every event, hold no
// piece of the harness's secret.
func noSecretAnywhere(t *testing.T, h *harness, id string) {
	t.Helper()
	b, err := h.e.Show(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), token) || strings.Contains(string(b), token[:8]) {
		t.Fatalf("the secret shows in the run: %s", b)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range h.events {
		if strings.Contains(ev.Reason, token[:8]) {
			t.Fatalf("the secret shows in an event: %+v", ev)
		}
	}
}
