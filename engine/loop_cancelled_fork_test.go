package engine_test

import (
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// A TERMINATE in a fork inside a DO_WHILE ends the run in the pass that
// also schedules the other branches' synchronous tasks (a JSON_JQ_TRANSFORM
// in a branch before its own and in one after it). Conductor's decide
// executes the loop first among that pass's tasks (DoWhile.execute writes
// the iteration's entry), then the pass's synchronous tasks (those
// JSON_JQ_TRANSFORMs get their results, the TERMINATE ends the run), and
// the run's end cancels the loop as it stood: the entry holds those
// tasks with the output they had when the loop ran, none, while their
// records hold their results.
func TestDoWhileCancelledInForkKeepsThePassOutputs(t *testing.T) {
	setVar := func(ref string) string {
		return `{"name":"` + ref + `","taskReferenceName":"` + ref + `","type":"SET_VARIABLE","inputParameters":{"` + ref + `":1}}`
	}
	jq := func(ref, v string) string {
		return `{"name":"` + ref + `","taskReferenceName":"` + ref + `","type":"JSON_JQ_TRANSFORM","inputParameters":{"queryExpression":".a","a":` + v + `}}`
	}
	def := func(after string) string {
		return `{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 3","loopOver":[
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	    [` + setVar("y") + `,` + jq("j", "7") + `],
	    [{"name":"h","taskReferenceName":"h","type":"HUMAN"}],
	    [` + setVar("x") + `,{"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":{"terminationStatus":"FAILED"}}]` + after + `]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["h"]}]}]}`
	}
	cases := []struct{ name, after, entry string }{
		{"a branch before the TERMINATE's", "",
			`{"fork":{},"y":{},"h":{},"x":{},"join":{},"j":{},"t":{}}`},
		{"and one after it", `,[` + setVar("y2") + `,` + jq("j2", "8") + `]`,
			`{"fork":{},"y":{},"h":{},"x":{},"y2":{},"join":{},"j":{},"t":{},"j2":{}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for i := 0; i < 5; i++ { // the branches' goroutines in any order
				checkCancelledInFork(t, def(c.after), c.entry)
			}
		})
	}
}

func checkCancelledInFork(t *testing.T, def, entry string) {
	t.Helper()
	h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
	res := h.run(def, `{}`)
	v := viewRun(t, h.e, res.RunID)
	if res.Status != engine.StatusFailed || v.Tasks[0].Status != engine.TaskCanceled {
		t.Fatalf("run %s %q, tasks %s", res.Status, res.Reason, refStatuses(v))
	}
	b, _ := json.Marshal(v.Tasks[0].Output)
	jsonEq(t, b, `{"iteration":1,"1":`+entry+`}`)
	for _, tk := range v.Tasks {
		if (tk.Ref == "j__1" || tk.Ref == "j2__1") && (tk.Status != engine.TaskCompleted || tk.Output["result"] == nil) {
			t.Errorf("%s %s %v: the pass's synchronous tasks run", tk.Ref, tk.Status, tk.Output)
		}
	}
}
