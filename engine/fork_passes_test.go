package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// forkPassesDef forks three branches: two chains of synchronous system
// tasks (executed by Conductor's decider as soon as they are scheduled)
// and a worker task followed by an INLINE.
const forkPassesDef = `{"name":"fork_passes","version":1,"schemaVersion":2,"tasks":[
 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
   [{"name":"a1","taskReferenceName":"a1","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}},
    {"name":"a2","taskReferenceName":"a2","type":"SET_VARIABLE","inputParameters":{"a":2}},
    {"name":"a3","taskReferenceName":"a3","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"3"}}],
   [{"name":"b1","taskReferenceName":"b1","type":"JSON_JQ_TRANSFORM","inputParameters":{"queryExpression":"1"}},
    {"name":"b2","taskReferenceName":"b2","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"2"}},
    {"name":"b3","taskReferenceName":"b3","type":"SET_VARIABLE","inputParameters":{"b":3}}],
   [{"name":"quick_worker","taskReferenceName":"w","type":"SIMPLE"},
    {"name":"c2","taskReferenceName":"c2","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"2"}}]]},
 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a3","b3","c2"]}]}`

// The records of a fork's branches follow Conductor's decider passes, not
// goroutine timing: pass 1 schedules the fork, each branch's first task
// and the JOIN; the synchronous tasks run and pass 2 schedules a2, b2, pass
// 3 a3, b3. The worker answers at once, but its branch schedules c2 only
// once the passes have nothing more to schedule (Conductor decides on the
// worker's answer after the decision that holds the run). Repeated, so a
// timing dependency shows as a failure.
func TestForkRecordsFollowDeciderPasses(t *testing.T) {
	e := harnessEngine(t, nil, engine.WithWorker("quick_worker", echoWorker(`{}`)))
	d, err := e.Parse([]byte(forkPassesDef))
	if err != nil {
		t.Fatal(err)
	}
	want := "fork a1 b1 w join a2 b2 a3 b3 c2"
	for i := range 30 {
		wf := viewRun(t, e, startRun(t, e, d, `{}`).RunID)
		if wf.Status != engine.StatusCompleted {
			t.Fatalf("run %d: %s %q", i, wf.Status, wf.Reason)
		}
		var refs []string
		for _, tk := range wf.Tasks {
			refs = append(refs, tk.Ref)
		}
		if got := strings.Join(refs, " "); got != want {
			t.Fatalf("run %d: records %s, want %s", i, got, want)
		}
		seqs(1, 2, 3, 4, 5, 6, 7, 8, 9, 10)(t, e, wf)
	}
}

// Inside a fork, a SUB_WORKFLOW's child run takes no turns in the parent's
// fork: the child's synchronous tasks run while the other branch goes on.
func TestForkPassesStopAtChildRun(t *testing.T) {
	const def = `{"name":"fork_child","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	   [{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"child","version":1,
	     "workflowDefinition":{"name":"child","version":1,"schemaVersion":2,"tasks":[
	       {"name":"c1","taskReferenceName":"c1","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}},
	       {"name":"c2","taskReferenceName":"c2","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"2"}}]}}}],
	   [{"name":"x1","taskReferenceName":"x1","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}},
	    {"name":"x2","taskReferenceName":"x2","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"2"}}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["sub","x2"]}]}`
	e := harnessEngine(t, nil)
	d, err := e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20e9)
	defer cancel()
	res, err := e.Start(ctx, d, json.RawMessage(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "FORK:COMPLETED", "SUB_WORKFLOW:COMPLETED", "INLINE:COMPLETED", "JOIN:COMPLETED", "INLINE:COMPLETED")
}
