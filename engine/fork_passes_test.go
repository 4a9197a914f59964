package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
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

// nestedPassesDef nests a fork in the second branch of another; every task
// is synchronous (executed by Conductor's decider as soon as it is
// scheduled), so the whole task list follows from the decider's passes.
const nestedPassesDef = `{"name":"nested_passes","version":1,"schemaVersion":2,"tasks":[
 {"name":"fo","taskReferenceName":"fo","type":"FORK_JOIN","forkTasks":[
   [{"name":"a1","taskReferenceName":"a1","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}},
    {"name":"a2","taskReferenceName":"a2","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"2"}}],
   [{"name":"fi","taskReferenceName":"fi","type":"FORK_JOIN","forkTasks":[
      [{"name":"c1","taskReferenceName":"c1","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}},
       {"name":"c2","taskReferenceName":"c2","type":"SET_VARIABLE","inputParameters":{"c":2}},
       {"name":"c3","taskReferenceName":"c3","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"3"}}],
      [{"name":"d1","taskReferenceName":"d1","type":"JSON_JQ_TRANSFORM","inputParameters":{"queryExpression":"1"}},
       {"name":"d2","taskReferenceName":"d2","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"2"}}]]},
    {"name":"ji","taskReferenceName":"ji","type":"JOIN","joinOn":["c3","d2"]},
    {"name":"e1","taskReferenceName":"e1","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}}],
   [{"name":"f1","taskReferenceName":"f1","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}},
    {"name":"f2","taskReferenceName":"f2","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"2"}},
    {"name":"f3","taskReferenceName":"f3","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"3"}},
    {"name":"f4","taskReferenceName":"f4","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"4"}}]]},
 {"name":"jo","taskReferenceName":"jo","type":"JOIN","joinOn":["a2","e1","f4"]}]}`

// A nested fork's records follow Conductor's decider passes across both
// forks. Pass 1 is the fork mapper's depth-first list: fo, a1, the inner
// fork fi with its branches' first tasks and its JOIN, f1, jo. Every later
// pass schedules the next task of each task the previous pass executed, in
// the order those tasks stand in the task list: a2 c2 d2 f2, then c3 f3,
// then f4. The inner JOIN is asynchronous in Conductor (its system task
// worker evaluates it outside the decider's passes), so e1 comes last.
//
// A worker in a nested branch that answers at once is decided on after the
// passes of the whole run, not of its own fork only: in nestedWaitDef, x
// follows w's answer and comes after the outer branch's chain s2..s4.
func TestNestedForkRecordsFollowDeciderPasses(t *testing.T) {
	e := harnessEngine(t, nil, engine.WithWorker("quick_worker", echoWorker(`{}`)))
	for _, tc := range []struct{ def, want string }{
		{nestedPassesDef, "fo a1 fi c1 d1 ji f1 jo a2 c2 d2 f2 c3 f3 f4 e1"},
		{nestedWaitDef, "fo fi w ji s1 jo s2 s3 s4 x"},
	} {
		d, err := e.Parse([]byte(tc.def))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 40 {
			wf := viewRun(t, e, startRun(t, e, d, `{}`).RunID)
			if wf.Status != engine.StatusCompleted {
				t.Fatalf("%s run %d: %s %q", d.Name, i, wf.Status, wf.Reason)
			}
			var refs []string
			for _, tk := range wf.Tasks {
				refs = append(refs, tk.Ref)
			}
			if got := strings.Join(refs, " "); got != tc.want {
				t.Fatalf("%s run %d: records %s, want %s", d.Name, i, got, tc.want)
			}
			for j, tk := range wf.Tasks {
				if tk.Seq != j+1 {
					t.Fatalf("%s run %d: %s has seq %d, want %d", d.Name, i, tk.Ref, tk.Seq, j+1)
				}
			}
		}
	}
}

// nestedWaitDef nests a fork whose branch starts with a worker task beside
// a chain of synchronous tasks.
const nestedWaitDef = `{"name":"nested_wait","version":1,"schemaVersion":2,"tasks":[
 {"name":"fo","taskReferenceName":"fo","type":"FORK_JOIN","forkTasks":[
   [{"name":"fi","taskReferenceName":"fi","type":"FORK_JOIN","forkTasks":[
      [{"name":"quick_worker","taskReferenceName":"w","type":"SIMPLE"},
       {"name":"x","taskReferenceName":"x","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}}]]},
    {"name":"ji","taskReferenceName":"ji","type":"JOIN","joinOn":["x"]}],
   [{"name":"s1","taskReferenceName":"s1","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}},
    {"name":"s2","taskReferenceName":"s2","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"2"}},
    {"name":"s3","taskReferenceName":"s3","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"3"}},
    {"name":"s4","taskReferenceName":"s4","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"4"}}]]},
 {"name":"jo","taskReferenceName":"jo","type":"JOIN","joinOn":["ji","s4"]}]}`

// ForkJoinSpec "Test nested fork join workflow success flow" on its own
// definition: the spec completes integration_task_11, _12 and _13 in that
// order, then _16 and _14, _19, _20 and _15, and asserts the task list after
// each step. The workers here answer in the same order: _13 answers once
// _14 was handed out (the decision on _12 has scheduled it), so the records
// read as the spec's.
func TestConductorNestedForkJoinSpec(t *testing.T) {
	for i := range 15 {
		t14 := make(chan struct{})
		var once sync.Once
		ok := func(context.Context, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`{}`), nil }
		opts := []engine.Option{
			engine.WithWorker("integration_task_14", func(context.Context, json.RawMessage) (json.RawMessage, error) {
				once.Do(func() { close(t14) })
				return json.RawMessage(`{}`), nil
			}),
			engine.WithWorker("integration_task_13", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
				select {
				case <-t14:
				case <-ctx.Done():
					return nil, ctx.Err()
				}
				return json.RawMessage(`{}`), nil
			}),
		}
		for _, n := range []string{"integration_task_11", "integration_task_12", "integration_task_15", "integration_task_16",
			"integration_task_19", "integration_task_20"} {
			opts = append(opts, engine.WithWorker(n, ok))
		}
		e := harnessEngine(t, nil, opts...)
		d := harnessDef(t, e, "nested_fork_join_integration_test.json")
		wf := viewRun(t, e, startRun(t, e, d, `{"case":"a"}`).RunID)
		if wf.Status != engine.StatusCompleted {
			t.Fatalf("run %d: %s %q", i, wf.Status, wf.Reason)
		}
		checkTasks(t, wf.Tasks, "FORK:COMPLETED", "integration_task_11:COMPLETED", "FORK:COMPLETED",
			"integration_task_12:COMPLETED", "integration_task_13:COMPLETED", "JOIN:COMPLETED", "JOIN:COMPLETED",
			"integration_task_14:COMPLETED", "DECISION:COMPLETED", "integration_task_16:COMPLETED",
			"integration_task_19:COMPLETED", "integration_task_20:COMPLETED", "integration_task_15:COMPLETED")
		joinOnIs("join2", "t14", "t20")(t, e, wf)
		joinOnIs("join1", "t11", "join2")(t, e, wf)
	}
}

// emptyCaseDef has, in a fork, a SWITCH whose selected case is empty, a
// DECISION whose case and default are empty, and a SWITCH whose case has
// tasks, each followed by more tasks of its branch.
const emptyCaseDef = `{"name":"empty_case","version":1,"schemaVersion":2,"tasks":[
 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
   [{"name":"sw","taskReferenceName":"sw","type":"SWITCH","evaluatorType":"value-param","expression":"k","inputParameters":{"k":"none"},
     "decisionCases":{"none":[],"x":[{"name":"x1","taskReferenceName":"x1","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}}]},
     "defaultCase":[{"name":"xd","taskReferenceName":"xd","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}}]},
    {"name":"x2","taskReferenceName":"x2","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"2"}}],
   [{"name":"dc","taskReferenceName":"dc","type":"DECISION","caseValueParam":"k","inputParameters":{"k":"none"},"decisionCases":{"none":[]}},
    {"name":"y2","taskReferenceName":"y2","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"2"}}],
   [{"name":"s2","taskReferenceName":"s2","type":"SWITCH","evaluatorType":"value-param","expression":"k","inputParameters":{"k":"go"},
     "decisionCases":{"go":[
       {"name":"a1","taskReferenceName":"a1","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"1"}},
       {"name":"a2","taskReferenceName":"a2","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"2"}}]}},
    {"name":"a3","taskReferenceName":"a3","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"3"}}]]},
 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["x2","y2","a3"]}]}`

// A SWITCH or DECISION whose case has no tasks schedules nothing with it
// (Conductor's mappers set no hasChildren): the decider executes it, and
// the next pass schedules the task after it. A case with tasks is scheduled
// with its first task in the same pass, and the SWITCH's input says
// hasChildren. So: pass 1 fork sw dc s2 a1 join, pass 2 x2 y2 a2, pass 3 a3.
func TestEmptyCaseInForkWaitsForNextPass(t *testing.T) {
	e := harnessEngine(t, nil)
	d, err := e.Parse([]byte(emptyCaseDef))
	if err != nil {
		t.Fatal(err)
	}
	want := "fork sw dc s2 a1 join x2 y2 a2 a3"
	for i := range 40 {
		wf := viewRun(t, e, startRun(t, e, d, `{}`).RunID)
		if wf.Status != engine.StatusCompleted {
			t.Fatalf("run %d: %s %q", i, wf.Status, wf.Reason)
		}
		var refs []string
		for _, tk := range wf.Tasks {
			refs = append(refs, tk.Ref)
			switch tk.Ref {
			case "sw", "dc":
				if _, ok := tk.Input["hasChildren"]; ok || tk.Input["case"] != "none" {
					t.Fatalf("%s input %v, want case none and no hasChildren", tk.Ref, tk.Input)
				}
			case "s2":
				if tk.Input["hasChildren"] != "true" || tk.Input["case"] != "go" {
					t.Fatalf("s2 input %v, want case go, hasChildren true", tk.Input)
				}
			}
		}
		if got := strings.Join(refs, " "); got != want {
			t.Fatalf("run %d: records %s, want %s", i, got, want)
		}
	}
}
