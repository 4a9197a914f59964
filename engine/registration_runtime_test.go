package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// inLoop puts task in a DO_WHILE's loopOver, where Conductor's
// registration does not check it (the list carries no @Valid).
func inLoop(task string) string {
	return `{"name":"w","tasks":[{"name":"l","taskReferenceName":"l","type":"DO_WHILE","loopCondition":"false","loopOver":[` + task + `]}]}`
}

// inChild puts task in an inline sub-workflow's definition, which
// Conductor's registration does not check either.
func inChild(task string) string {
	return `{"name":"w","tasks":[{"name":"c","taskReferenceName":"c","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"child","workflowDefinition":{"name":"child","tasks":[` + task + `]}}}]}`
}

// What Conductor's registration refuses only where it checks a task (the
// definition's tasks, cases, fork branches), it registers under a
// loopOver and in an inline sub-workflow, where its mappers and system
// tasks judge it when it runs; wfrun does the same, and refuses it at the
// top. Each run ends as Conductor's does: the mapper's
// TerminateWorkflowException fails the run with its words, a system task
// that catches what it throws fails itself. Where Conductor's decide would
// throw something else (the run staying RUNNING for ever), the run fails
// naming the problem.
func TestRegistrationChecksLeftToRunTime(t *testing.T) {
	for _, c := range []struct {
		name, task string
		status     string // the run's
		reason     string // the run's, as a prefix
		tasks      []string
	}{
		{name: "system task without a name", task: `{"taskReferenceName":"v","type":"SET_VARIABLE","inputParameters":{"x":1}}`,
			status: engine.StatusCompleted, tasks: []string{"DO_WHILE:COMPLETED", "SET_VARIABLE:COMPLETED"}},
		// Conductor schedules it under a null task type no worker polls.
		{name: "SIMPLE task without a name", task: `{"taskReferenceName":"s","type":"SIMPLE","inputParameters":{}}`,
			status: engine.StatusFailed, reason: `task "s" at /tasks/0/loopOver/0 has no name: a SIMPLE task is polled by its name`, tasks: []string{"DO_WHILE:CANCELED"}},
		// DynamicTaskMapper reads input.get(null).
		{name: "DYNAMIC without dynamicTaskNameParam", task: `{"name":"d","taskReferenceName":"d","type":"DYNAMIC","inputParameters":{"x":"echo"}}`,
			status: engine.StatusFailed, reason: "Cannot map a dynamic task based on the parameter and input. Parameter= null, input= {x=echo}", tasks: []string{"DO_WHILE:CANCELED"}},
		// Event.start calls startsWith on the null sink and fails the task.
		{name: "EVENT without sink", task: `{"name":"e","taskReferenceName":"e","type":"EVENT","inputParameters":{}}`,
			status: engine.StatusFailed, tasks: []string{"DO_WHILE:CANCELED", "EVENT:FAILED"}},
		// ForkJoinTaskMapper maps the FORK and the JOIN with nothing between.
		{name: "FORK_JOIN without branches", task: `{"name":"f","taskReferenceName":"f","type":"FORK_JOIN"},{"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":[]}`,
			status: engine.StatusCompleted, tasks: []string{"DO_WHILE:COMPLETED", "FORK:COMPLETED", "JOIN:COMPLETED"}},
		// scheduleNextIteration takes the first task of an empty list.
		{name: "DO_WHILE with an empty loopOver", task: `{"name":"l2","taskReferenceName":"l2","type":"DO_WHILE","loopCondition":"false","loopOver":[]}`,
			status: engine.StatusFailed, reason: `DO_WHILE "l2" at /tasks/0/loopOver/0 has no task in loopOver`, tasks: []string{"DO_WHILE:CANCELED"}},
		// DoWhile takes no condition as false: one iteration.
		{name: "DO_WHILE without loopCondition", task: `{"name":"l2","taskReferenceName":"l2","type":"DO_WHILE","loopOver":[{"name":"echo","taskReferenceName":"e","inputParameters":{}}]}`,
			status: engine.StatusCompleted, tasks: []string{"DO_WHILE:COMPLETED", "DO_WHILE:COMPLETED", "echo:COMPLETED"}},
		// SwitchTaskMapper finds no evaluator of a null type.
		{name: "SWITCH without evaluatorType", task: `{"name":"s","taskReferenceName":"s","type":"SWITCH","expression":"k","inputParameters":{"k":"a"},"decisionCases":{"a":[{"name":"echo","taskReferenceName":"e","inputParameters":{}}]}}`,
			status: engine.StatusFailed, reason: "No evaluator registered for type: null", tasks: []string{"DO_WHILE:CANCELED"}},
		// A value-param SWITCH without expression reads input.get(null):
		// the case "null", here the defaultCase.
		{name: "SWITCH without expression", task: `{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","inputParameters":{"k":"a"},
		   "decisionCases":{"a":[{"name":"fail","taskReferenceName":"x","inputParameters":{}}]},"defaultCase":[{"name":"echo","taskReferenceName":"e","inputParameters":{}}]}`,
			status: engine.StatusCompleted, tasks: []string{"DO_WHILE:COMPLETED", "SWITCH:COMPLETED", "echo:COMPLETED"}},
		// The script throws when evaluated: SwitchTaskMapper records the
		// SWITCH FAILED with the message.
		{name: "SWITCH javascript that does not compile", task: `{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"javascript","expression":"$.k ===","inputParameters":{"k":"a"},
		   "decisionCases":{"a":[{"name":"echo","taskReferenceName":"e","inputParameters":{}}]}}`,
			status: engine.StatusFailed, tasks: []string{"DO_WHILE:CANCELED", "SWITCH:FAILED"}},
		// DecisionTaskMapper throws its own words.
		{name: "DECISION caseExpression that does not compile", task: `{"name":"d","taskReferenceName":"d","type":"DECISION","caseExpression":"$.k ===","inputParameters":{"k":"a"},
		   "decisionCases":{"a":[{"name":"echo","taskReferenceName":"e","inputParameters":{}}]}}`,
			status: engine.StatusFailed, reason: "Error while evaluating script: $.k ===", tasks: []string{"DO_WHILE:CANCELED"}},
		// A DECISION with neither case field reads input.get(null): "null".
		{name: "DECISION without case fields", task: `{"name":"d","taskReferenceName":"d","type":"DECISION","inputParameters":{"k":"a"},
		   "decisionCases":{"a":[{"name":"fail","taskReferenceName":"x","inputParameters":{}}]},"defaultCase":[{"name":"echo","taskReferenceName":"e","inputParameters":{}}]}`,
			status: engine.StatusCompleted, tasks: []string{"DO_WHILE:COMPLETED", "DECISION:COMPLETED", "echo:COMPLETED"}},
		// Terminate.execute's cast throws out of Conductor's decide.
		{name: "TERMINATE status not text", task: `{"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":{"terminationStatus":7}}`,
			status: engine.StatusFailed, reason: `TERMINATE "t" at /tasks/0/loopOver/0/inputParameters/terminationStatus: terminationStatus 7 is not text`, tasks: []string{"DO_WHILE:CANCELED"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			res := h.run(inLoop(c.task), `{}`)
			v := viewRun(t, h.e, res.RunID)
			if res.Status != c.status || !strings.HasPrefix(res.Reason, c.reason) {
				t.Fatalf("run %s %q, want %s %q", res.Status, res.Reason, c.status, c.reason)
			}
			checkTasks(t, v.Tasks, c.tasks...)
			// In an inline child, the same: the child's run ends so.
			res = h.run(inChild(c.task), `{}`)
			pv := viewRun(t, h.e, res.RunID)
			if len(pv.Tasks) != 1 || pv.Tasks[0].SubWorkflowID == "" {
				t.Fatalf("parent %s %q, tasks %+v", res.Status, res.Reason, pv.Tasks)
			}
			child := viewRun(t, h.e, pv.Tasks[0].SubWorkflowID)
			if child.Status != c.status || !strings.HasPrefix(child.Reason, strings.Replace(c.reason, "/tasks/0/loopOver/0", "/tasks/0/subWorkflowParam/workflowDefinition/tasks/0", 1)) {
				t.Fatalf("child %s %q, want %s %q", child.Status, child.Reason, c.status, c.reason)
			}
		})
	}
}

// The task-level failures carry Conductor's words: Event.start's Java
// message for a null sink, the evaluator's for a script that does not
// compile.
func TestRegistrationChecksLeftToRunTimeTaskReasons(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(inLoop(`{"name":"e","taskReferenceName":"e","type":"EVENT","inputParameters":{}}`), `{}`)
	v := viewRun(t, h.e, res.RunID)
	if want := `Cannot invoke "String.startsWith(String)" because "sinkValue" is null`; len(v.Tasks) != 2 || v.Tasks[1].Reason != want {
		t.Fatalf("EVENT %+v, want reason %q", v.Tasks, want)
	}
	res = h.run(inLoop(`{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"javascript","expression":"$.k ===","inputParameters":{"k":"a"},
	  "decisionCases":{"a":[{"name":"echo","taskReferenceName":"e","inputParameters":{}}]}}`), `{}`)
	v = viewRun(t, h.e, res.RunID)
	if len(v.Tasks) != 2 || !strings.Contains(v.Tasks[1].Reason, "SyntaxError") {
		t.Fatalf("SWITCH %+v, want a SyntaxError", v.Tasks)
	}
}

// At the top (and in cases and fork branches, where the check cascades)
// registration refuses them, and so does wfrun, naming where.
func TestRegistrationChecksAtTheTop(t *testing.T) {
	for task, want := range map[string]string{
		`{"taskReferenceName":"s","type":"SIMPLE"}`:                                                                                         `/tasks/0/name: missing task name`,
		`{"name":"d","taskReferenceName":"d","type":"DYNAMIC"}`:                                                                             `/tasks/0/dynamicTaskNameParam: DYNAMIC needs dynamicTaskNameParam`,
		`{"name":"e","taskReferenceName":"e","type":"EVENT"}`:                                                                               `/tasks/0/sink: EVENT needs a sink`,
		`{"name":"f","taskReferenceName":"f","type":"FORK_JOIN"},{"name":"j","taskReferenceName":"j","type":"JOIN"}`:                        `/tasks/0/forkTasks: FORK_JOIN needs at least one branch`,
		`{"name":"l2","taskReferenceName":"l2","type":"DO_WHILE","loopCondition":"false"}`:                                                  `/tasks/0/loopOver: DO_WHILE needs at least one task in loopOver`,
		`{"name":"s","taskReferenceName":"s","type":"SWITCH","expression":"k","decisionCases":{"a":[]}}`:                                    `/tasks/0/evaluatorType: SWITCH "s" needs an evaluatorType`,
		`{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"javascript","expression":"$.k ===","decisionCases":{"a":[]}}`: `/tasks/0/expression: `,
		`{"name":"d","taskReferenceName":"d","type":"DECISION","caseExpression":"$.k ===","decisionCases":{"a":[]}}`:                        `/tasks/0/caseExpression: `,
		`{"name":"d","taskReferenceName":"d","type":"DECISION","decisionCases":{"a":[]}}`:                                                   `/tasks/0: DECISION needs a caseValueParam or a caseExpression`,
		`{"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":{"terminationStatus":7}}`:                                 `/tasks/0/inputParameters/terminationStatus: terminationStatus 7 is not`,
	} {
		h := newHarness(t, nil)
		_, err := h.e.Parse([]byte(`{"name":"w","tasks":[` + task + `]}`))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", task, err, want)
		}
	}
}

// A missing taskReferenceName stays refused everywhere: Conductor's
// DoWhile looks its tasks up by reference (WorkflowTask.has), which throws
// on a null one out of its decide, and wfrun keys every record by it.
func TestMissingReferenceRefusedEverywhere(t *testing.T) {
	for _, def := range []string{inLoop(`{"name":"echo","inputParameters":{}}`), inChild(`{"name":"echo","inputParameters":{}}`)} {
		if _, err := engine.ParseDefinition([]byte(def)); err == nil || !strings.Contains(err.Error(), "missing taskReferenceName") {
			t.Errorf("%s: %v", def, err)
		}
	}
}

// Conductor's registration requires a DO_WHILE's loopCondition whether or
// not it gives items (isDoWhileTaskValid: null is none, a blank one is
// given); with a blank one the items alone decide.
func TestDoWhileItemsNeedALoopCondition(t *testing.T) {
	h := newHarness(t, nil)
	loop := func(cond string) string {
		return `{"name":"w","tasks":[{"name":"l","taskReferenceName":"l","type":"DO_WHILE",` + cond + `"items":"${workflow.input.list}",
		  "loopOver":[{"name":"echo","taskReferenceName":"e","inputParameters":{"i":"${l.output.loopItem}"}}]}]}`
	}
	for _, cond := range []string{``, `"loopCondition":null,`} {
		if _, err := h.e.Parse([]byte(loop(cond))); err == nil || !strings.Contains(err.Error(), `/tasks/0/loopCondition: DO_WHILE "l" needs a loopCondition`) {
			t.Errorf("%q: %v", cond, err)
		}
	}
	res := h.run(loop(`"loopCondition":"",`), `{"list":[1,2,3]}`)
	if res.Status != engine.StatusCompleted || h.calls["echo"].Load() != 3 {
		t.Fatalf("run %s %q, echo ran %d times", res.Status, res.Reason, h.calls["echo"].Load())
	}
}

// Conductor's registration checks nothing of an INLINE task nor a LAMBDA's
// script, wherever it is: an expression that does not compile, an unknown
// evaluatorType, a missing expression register and fail the task when it
// runs (Inline.execute: FAILED_WITH_TERMINAL_ERROR). A secret in the
// program text stays refused (wfrun's rule, TestSecretRulesRefused).
func TestInlineAndLambdaScriptsCheckedWhenTheyRun(t *testing.T) {
	e := conductorEngine(t)
	for _, c := range []struct{ task, reason string }{
		{`{"name":"i","taskReferenceName":"i","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"$.a ==="}}`, "SyntaxError"},
		{`{"name":"i","taskReferenceName":"i","type":"INLINE","inputParameters":{"evaluatorType":"python3","expression":"1"}}`, "python3"},
		{`{"name":"i","taskReferenceName":"i","type":"INLINE","inputParameters":{"evaluatorType":"javascript"}}`, "Empty 'expression' in INLINE task's input parameters"},
		{`{"name":"lam","taskReferenceName":"lam","type":"LAMBDA","inputParameters":{"scriptExpression":"return $.a ==="}}`, "SyntaxError"},
	} {
		for _, def := range []string{`{"name":"w","tasks":[` + c.task + `]}`, inLoop(c.task)} {
			d, err := e.Parse([]byte(def))
			if err != nil {
				t.Fatalf("%s: %v", def, err)
			}
			res, err := e.Start(context.Background(), d, json.RawMessage(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			v := viewRun(t, e, res.RunID)
			last := v.Tasks[len(v.Tasks)-1]
			if res.Status != engine.StatusFailed || last.Status != engine.TaskFailedTerminal || !strings.Contains(last.Reason, c.reason) {
				t.Errorf("%s: run %s, task %s %q, want FAILED_WITH_TERMINAL_ERROR with %q", def, res.Status, last.Status, last.Reason, c.reason)
			}
		}
	}
	def := `{"name":"w","tasks":[` + `{"name":"i","taskReferenceName":"i","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'${workflow.secrets.api_token}'.length"}}` + `]}`
	for _, d := range []string{def, inLoop(`{"name":"i","taskReferenceName":"i","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'${workflow.secrets.api_token}'.length"}}`)} {
		if _, err := e.Parse([]byte(d)); err == nil || !strings.Contains(err.Error(), "must not be part of program text") {
			t.Errorf("secret in INLINE source: %v", err)
		}
	}
}

// The secret rules are wfrun's and hold wherever a task is, including
// where Conductor's registration does not check it: a secret in a
// SWITCH's expression, a DECISION's caseExpression or a loopCondition is
// refused at load under a loopOver and in an inline sub-workflow too.
func TestSecretInProgramTextRefusedWhereRegistrationDoesNotCheck(t *testing.T) {
	const ref = `${workflow.secrets.api_token}`
	for _, task := range []string{
		`{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"javascript","expression":"'` + ref + `'.length","decisionCases":{}}`,
		`{"name":"d","taskReferenceName":"d","type":"DECISION","caseExpression":"'` + ref + `'.length","decisionCases":{}}`,
		`{"name":"l2","taskReferenceName":"l2","type":"DO_WHILE","loopCondition":"'` + ref + `'.length < 0","loopOver":[{"name":"echo","taskReferenceName":"e"}]}`,
	} {
		for _, def := range []string{inLoop(task), inChild(task)} {
			if _, err := engine.ParseDefinition([]byte(def)); err == nil || !strings.Contains(err.Error(), "must not be part of program text") {
				t.Errorf("%s: %v", def, err)
			}
		}
	}
}
