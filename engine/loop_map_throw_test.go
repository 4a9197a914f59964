package engine_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// loopThrowCases are tasks whose Conductor mapper throws when it maps
// them, each given as the first task of a case a loop's SWITCH takes in
// one iteration only, with a part of the reason the run or loop gives.
var loopThrowCases = []struct{ name, task, reason string }{
	{"DYNAMIC without dynamicTaskNameParam", `{"name":"d","taskReferenceName":"d","type":"DYNAMIC","inputParameters":{}}`, "Parameter= null"},
	{"SWITCH with no evaluator of its type", `{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"nope","expression":"x","decisionCases":{}}`, "No evaluator registered for type: nope"},
	{"FORK_JOIN with an empty branch", `{"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[[{"name":"echo","taskReferenceName":"fe"}],[]]},{"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["fe"]}`, "fork branch 1 has no task"},
	{"older FORK_JOIN_DYNAMIC with its list missing", `{"name":"df","taskReferenceName":"df","type":"FORK_JOIN_DYNAMIC","dynamicForkJoinTasksParam":"dt","inputParameters":{}},{"name":"dj","taskReferenceName":"dj","type":"JOIN"}`, ""},
	{"DECISION whose caseExpression throws", `{"name":"dc","taskReferenceName":"dc","type":"DECISION","caseExpression":"$.nothing.here","decisionCases":{}}`, "Error while evaluating script: $.nothing.here"},
}

// loopThrowing is a workflow whose DO_WHILE loops three times over a
// SWITCH that takes, in iteration at, the case starting with task; flags
// go on the loop, and an echo follows it.
func loopThrowing(at, task, flags string) string {
	return `{"name":"w","tasks":[{"name":"l","taskReferenceName":"l","type":"DO_WHILE",` + flags + `"loopCondition":"$.l['iteration'] < 3",
	  "loopOver":[{"name":"pick","taskReferenceName":"pick","type":"SWITCH","evaluatorType":"value-param","expression":"i","inputParameters":{"i":"${l.output.iteration}"},
	    "decisionCases":{"` + at + `":[` + task + `]},"defaultCase":[{"name":"echo","taskReferenceName":"e","inputParameters":{"i":"${l.output.iteration}"}}]}]},
	  {"name":"echo","taskReferenceName":"after","inputParameters":{}}]}`
}

// Conductor's DoWhile.execute maps the first task of an iteration after
// the first (scheduleNextIteration, the decider's getTasksToBeScheduled)
// inside the try that evaluates the loopCondition: a mapper's throw there
// fails the loop FAILED_WITH_TERMINAL_ERROR with "Unable to evaluate
// condition <loopCondition>, exception <the throw's message>", its output
// at the new iteration, nothing of that iteration mapped; the loop's
// failure fails the run, or an optional loop lets it go on. The first
// iteration's first task is mapped outside that try: the throw leaves
// decide, which fails the run with its message and cancels the loop.
func TestDoWhileMapperThrowInALaterIterationFailsTheLoop(t *testing.T) {
	for _, c := range loopThrowCases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil)
			first := h.run(loopThrowing("1", c.task, ""), `{}`)
			v := viewRun(t, h.e, first.RunID)
			if first.Status != engine.StatusFailed || !strings.Contains(first.Reason, c.reason) || refStatuses(v) != "l:CANCELED" {
				t.Fatalf("first iteration: run %s %q, tasks %s", first.Status, first.Reason, refStatuses(v))
			}
			// The reason's location names the case: "1" there, "2" here.
			want := "Unable to evaluate condition $.l['iteration'] < 3, exception " + strings.Replace(first.Reason, "decisionCases/1/", "decisionCases/2/", 1)
			for _, fl := range []struct{ flag, loop, run, after string }{
				{"", "FAILED_WITH_TERMINAL_ERROR", engine.StatusFailed, ""},
				{`"optional":true,`, "COMPLETED_WITH_ERRORS", engine.StatusCompleted, " after:COMPLETED"},
			} {
				res := h.run(loopThrowing("2", c.task, fl.flag), `{}`)
				v := viewRun(t, h.e, res.RunID)
				if got, wantRecs := refStatuses(v), "l:"+fl.loop+" pick__1:COMPLETED e__1:COMPLETED"+fl.after; got != wantRecs || res.Status != fl.run {
					t.Fatalf("%s: run %s %q, tasks %s, want %s", fl.flag, res.Status, res.Reason, got, wantRecs)
				}
				if v.Tasks[0].Reason != want || fl.run == engine.StatusFailed && !strings.Contains(res.Reason, want) {
					t.Fatalf("%s: loop reason %q, run %q, want %q", fl.flag, v.Tasks[0].Reason, res.Reason, want)
				}
				b, _ := json.Marshal(v.Tasks[0].Output)
				jsonEq(t, b, `{"1":{"e":{"echo":{"i":1}},"pick":{"evaluationResult":["1"],"selectedCase":"1"}},"iteration":2}`)
			}
		})
	}
}

// A problem wfrun ends the run on where Conductor's mapping throws nothing
// (a SIMPLE task without a name, which Conductor schedules and no worker
// polls) is no mapper's throw in a later iteration either: the run fails
// with it, the loop cancelled.
func TestDoWhileLaterIterationNamelessTaskEndsTheRun(t *testing.T) {
	h := newHarness(t, nil)
	res := h.run(loopThrowing("2", `{"taskReferenceName":"nameless","inputParameters":{}}`, ""), `{}`)
	v := viewRun(t, h.e, res.RunID)
	if res.Status != engine.StatusFailed || !strings.Contains(res.Reason, "has no name") || refStatuses(v) != "l:CANCELED pick__1:COMPLETED e__1:COMPLETED" {
		t.Fatalf("run %s %q, tasks %s", res.Status, res.Reason, refStatuses(v))
	}
}
