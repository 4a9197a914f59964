package engine_test

import (
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// passThrowFork is a run of a FORK of the branches b1 and b2 and a JOIN on
// joinOn (a JSON list's members).
func passThrowFork(joinOn, b1, b2 string) string {
	return `{"name":"w","tasks":[{"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[[` + b1 + `],[` + b2 + `]]},
	  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":[` + joinOn + `]}]}`
}

// passThrowSetVariable is a SET_VARIABLE task ref.
func passThrowSetVariable(ref string) string {
	return `{"name":"` + ref + `","taskReferenceName":"` + ref + `","type":"SET_VARIABLE","inputParameters":{"` + ref + `":1}}`
}

// checkWholePassEnded runs def (passThrowFork's, its first tasks i1 and
// i2) ten times: the run FAILED with reason; the FORK and the first tasks
// COMPLETED and the JOIN CANCELED are its only records; no event names any
// of the refs in unseen (the pass that threw).
func checkWholePassEnded(t *testing.T, def, reason string, unseen ...string) {
	t.Helper()
	for range 10 {
		h := newHarness(t, nil)
		res := h.run(def, `{}`)
		wf := viewRun(t, h.e, res.RunID)
		if res.Status != engine.StatusFailed || wf.Reason != reason {
			t.Fatalf("run %s %q, want FAILED %q", wf.Status, wf.Reason, reason)
		}
		got := map[string]string{}
		for _, x := range wf.Tasks {
			got[x.Ref] = x.Status
		}
		want := map[string]string{"f": engine.TaskCompleted, "i1": engine.TaskCompleted, "i2": engine.TaskCompleted, "j": engine.TaskCanceled}
		if len(got) != len(want) {
			t.Fatalf("tasks %v, want %v", got, want)
		}
		for ref, st := range want {
			if got[ref] != st {
				t.Fatalf("tasks %v, want %v", got, want)
			}
		}
		h.mu.Lock()
		for _, ev := range h.events {
			for _, ref := range unseen {
				if ev.TaskRef == ref {
					h.mu.Unlock()
					t.Fatalf("event %+v", ev)
				}
			}
		}
		h.mu.Unlock()
	}
}

// A DECISION whose caseExpression throws, mapped in a later pass of a
// fork's decide while another branch maps its next task in the same pass.
// DeciderService.decide collects the pass's tasksToBeScheduled branch by
// branch; DecisionTaskMapper's TerminateWorkflowException leaves decide,
// and WorkflowExecutor.decide fails the run with its message, saving
// nothing of that pass: the tasks of the earlier passes stay (FORK, the
// first tasks, the JOIN, cancelled with the run), the sibling's next task
// of the same pass is never recorded nor executed, nor announced: no event
// of them either, a worker's task included, though it was scheduled before
// the DECISION's turn.
func TestDecisionThatThrowsEndsItsWholePass(t *testing.T) {
	const expr = "$.a.b.c"
	dec := `{"name":"d","taskReferenceName":"d","type":"DECISION","caseExpression":"` + expr + `","inputParameters":{"a":null},
	  "decisionCases":{"x":[{"name":"echo","taskReferenceName":"inx","inputParameters":{}}]}}`
	sv := passThrowSetVariable
	echo := `{"name":"echo","taskReferenceName":"s1","inputParameters":{}}`
	sw := `{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","expression":"k",
	  "inputParameters":{"k":"go"},"decisionCases":{"go":[` + dec + `]}}`
	fork := func(b1, b2 string) string { return passThrowFork(`"s1","d"`, b1, b2) }
	for _, c := range []struct{ name, def string }{
		{"sibling schedules a worker's task", fork(sv("i1")+`,`+echo, sv("i2")+`,`+dec)},
		{"sibling schedules a synchronous task", fork(sv("i1")+`,`+sv("s1"), sv("i2")+`,`+dec)},
		{"sibling after it", fork(sv("i2")+`,`+dec, sv("i1")+`,`+echo)},
		{"in a SWITCH's case", fork(sv("i1")+`,`+echo, sv("i2")+`,`+sw)},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkWholePassEnded(t, c.def, "Error while evaluating script: "+expr, "s1", "d", "s")
		})
	}
}

// Any mapper that throws in a later pass of a fork's decide ends that
// pass as a DECISION's does: a DYNAMIC whose input names no task
// (DynamicTaskMapper), a nested FORK whose branch starts with one, a
// nested FORK not followed by a JOIN (ForkJoinTaskMapper). The decide
// throws, WorkflowExecutor.decide fails the run with the message, and none
// of the pass's tasks is stored or announced: the sibling's worker task of
// the same pass neither.
func TestMapperThrowLaterInAForkEndsItsWholePass(t *testing.T) {
	const dynReason = "Cannot map a dynamic task based on the parameter and input. Parameter= tn, input= {}"
	dyn := `{"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn","inputParameters":{}}`
	sv := passThrowSetVariable
	echo := `{"name":"echo","taskReferenceName":"s1","inputParameters":{}}`
	nested := `{"name":"nf","taskReferenceName":"nf","type":"FORK_JOIN","forkTasks":[[` + dyn + `]]},
	  {"name":"nj","taskReferenceName":"nj","type":"JOIN","joinOn":["d"]}`
	unjoined := `{"name":"nf","taskReferenceName":"nf","type":"FORK_JOIN","forkTasks":[[` + sv("x") + `]]}`
	fork := func(b1, b2 string) string { return passThrowFork(`"s1"`, b1, b2) }
	for _, c := range []struct{ name, def, reason string }{
		{"DYNAMIC", fork(sv("i1")+`,`+echo, sv("i2")+`,`+dyn), dynReason},
		{"DYNAMIC before the sibling", fork(sv("i2")+`,`+dyn, sv("i1")+`,`+echo), dynReason},
		{"FORK whose branch throws", fork(sv("i1")+`,`+echo, sv("i2")+`,`+nested), dynReason},
		{"FORK not joined", fork(sv("i1")+`,`+echo, sv("i2")+`,`+unjoined), "Fork task definition is not followed by a join task.  Check the blueprint"},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkWholePassEnded(t, c.def, c.reason, "s1", "d", "nf", "nj", "x")
		})
	}
}
