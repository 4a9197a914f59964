package engine_test

import (
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// A task whose mapper throws, mapped with the task that encloses it:
// ForkJoinTaskMapper maps each branch's first task, SwitchTaskMapper and
// DecisionTaskMapper their case's first task, through
// DeciderService.getTasksToBeScheduled, with no catch. DynamicTaskMapper's
// TerminateWorkflowException for a DYNAMIC whose input names no task
// ("Cannot map a dynamic task based on the parameter and input. ...") or
// DecisionTaskMapper's for a caseExpression that throws leaves the
// enclosing mapper too: the decide
// stores none of what it mapped (no FORK, no branch task, no JOIN, no
// SWITCH) and WorkflowExecutor.decide fails the run with that reason. The
// same holds for the successor of a permissive task failed in a DO_WHILE:
// the decision that maps it fails the run with the mapper's reason before
// the loop is judged (the loop is cancelled with the run).
func TestMapperThrowNestedInEnclosingMapper(t *testing.T) {
	const (
		badName = "Cannot map a dynamic task based on the parameter and input. Parameter= tn, input= {}"
		expr    = "$.a.b.c"
	)
	dyn := `{"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn","inputParameters":{}}`
	dec := `{"name":"dc","taskReferenceName":"dc","type":"DECISION","caseExpression":"` + expr + `","inputParameters":{"a":null},
	  "decisionCases":{"x":[` + succInline + `]}}`
	fork := func(first string) string {
		return `{"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[[` + first + `],
		  [{"name":"i2","taskReferenceName":"i2","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"2"}}]]},
		  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["i2"]}`
	}
	sw := func(first string) string {
		return `{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","expression":"k",
		  "inputParameters":{"k":"go"},"decisionCases":{"go":[` + first + `]}}`
	}
	after := `,{"name":"echo","taskReferenceName":"after","inputParameters":{}}`
	cases := []struct {
		name, def, tasks, reason string
	}{
		{"top-level FORK, DYNAMIC first in a branch", `{"name":"w","tasks":[` + fork(dyn) + after + `]}`, "", badName},
		{"top-level SWITCH, DYNAMIC first in its case", `{"name":"w","tasks":[` + sw(dyn) + after + `]}`, "", badName},
		{"top-level SWITCH, FORK whose branch starts with a DYNAMIC", `{"name":"w","tasks":[` + sw(fork(dyn)) + after + `]}`, "", badName},
		{"loop successor FORK, DYNAMIC first in a branch", succLoop("", succFail+`,`+fork(dyn), succAfter), "loop:DO_WHILE:CANCELED x__1:fail:FAILED", badName},
		{"loop successor SWITCH, DECISION first in its case", succLoop("", succFail+`,`+sw(dec), succAfter), "loop:DO_WHILE:CANCELED x__1:fail:FAILED", "Error while evaluating script: " + expr},
		{"loop successor SWITCH, DYNAMIC first in its case", succLoop("", succFail+`,`+sw(dyn), succAfter), "loop:DO_WHILE:CANCELED x__1:fail:FAILED", badName},
		{"loop successor FORK, SWITCH whose case starts with a DECISION", succLoop("", succFail+`,`+fork(sw(dec)), succAfter), "loop:DO_WHILE:CANCELED x__1:fail:FAILED", "Error while evaluating script: " + expr},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
			res, v, _ := successorRun(t, h, c.def)
			if got := refsStatuses(v); got != c.tasks {
				t.Fatalf("tasks %q\nwant  %q", got, c.tasks)
			}
			if res.Status != engine.StatusFailed || v.Status != engine.StatusFailed || v.Reason != c.reason {
				t.Fatalf("run %s %q, want FAILED %q", v.Status, v.Reason, c.reason)
			}
			if n := h.calls["echo"].Load(); n != 0 {
				t.Fatalf("echo ran %d times", n)
			}
		})
	}
}
