package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// Conductor's ForkJoinTaskMapper (and ForkJoinDynamicTaskMapper) map a
// fork in one decision: the FORK (COMPLETED), the first task of every
// branch in branch order (getTasksToBeScheduled of each branch's first
// task, so a nested fork brings its own FORK, firsts and JOIN), then the
// JOIN (IN_PROGRESS); WorkflowExecutor.decide stores them together
// (scheduleTask's createTasks) before any worker can poll one of them. So
// whoever looks at the run once a branch's task has started sees every one
// of those records, and a branch task that fails at once leaves them all,
// the JOIN included (cancelled with the run).

// peekRun is a remote worker that looks at run id (the parent run, for a
// task of a child run) when its task starts and records "type:status" of
// every record, by the task's ref.
type peekRun struct {
	id    string
	child bool // a task of a child run looks at its own run
	e     *engine.Engine
	mu    sync.Mutex
	seen  map[string][]string
}

func (p *peekRun) worker(_ context.Context, rt engine.RemoteTask) tasks.Result {
	id := p.id
	if rt.RunID != p.id && p.child {
		id = rt.RunID // the child run's own view
	}
	b, err := p.e.Show(context.Background(), id)
	if err != nil {
		return tasks.Result{Status: tasks.FailedTerminal, Reason: err.Error()}
	}
	var v runView
	_ = json.Unmarshal(b, &v)
	var got []string
	for _, tk := range v.Tasks {
		got = append(got, tk.TaskType+":"+tk.Status)
	}
	p.mu.Lock()
	p.seen[rt.Ref] = got
	p.mu.Unlock()
	return tasks.Result{Status: tasks.Completed, Output: json.RawMessage(`{}`)}
}

func TestForkSchedulesItsBranchesAndJoinInOneDecision(t *testing.T) {
	peek := func(ref string) string {
		return `{"name":"peek","taskReferenceName":"` + ref + `","type":"SIMPLE"}`
	}
	// fork joins on joinOn (comma-separated refs).
	fork := func(ref, joinOn string, branches ...string) string {
		return `{"name":"f","taskReferenceName":"` + ref + `","type":"FORK_JOIN","forkTasks":[[` + strings.Join(branches, `],[`) + `]]},
		  {"name":"j","taskReferenceName":"` + ref + `_join","type":"JOIN","joinOn":["` + strings.Join(strings.Split(joinOn, ","), `","`) + `"]}`
	}
	child := `{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW",
	  "subWorkflowParam":{"name":"child","workflowDefinition":{"name":"child","tasks":[` + peek("c") + `]}}}`
	// The view when a branch's first worker task starts: the records of the
	// fork's decision, types in order, and the JOIN IN_PROGRESS (the other
	// records' statuses move on as their tasks run).
	cases := []struct {
		name  string
		tasks string
		want  map[string]string // ref: the types it sees, in order, and the JOIN's status
	}{
		{"three branches", fork("f", "a,b,c", peek("a"), peek("b"), peek("c")),
			map[string]string{"a": "FORK peek peek peek JOIN", "b": "FORK peek peek peek JOIN", "c": "FORK peek peek peek JOIN"}},
		{"a branch of two tasks", fork("f", "a2,b", peek("a")+`,`+peek("a2"), peek("b")),
			map[string]string{"a": "FORK peek peek JOIN", "b": "FORK peek peek JOIN"}},
		{"in a loop", `{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"false",
		  "loopOver":[` + fork("f", "a,b", peek("a"), peek("b")) + `]}`,
			map[string]string{"a__1": "DO_WHILE FORK peek peek JOIN", "b__1": "DO_WHILE FORK peek peek JOIN"}},
		{"nested", fork("f", "g_join,c", fork("g", "a,b", peek("a"), peek("b")), peek("c")),
			map[string]string{"a": "FORK FORK peek peek JOIN peek JOIN", "b": "FORK FORK peek peek JOIN peek JOIN",
				"c": "FORK FORK peek peek JOIN peek JOIN"}},
		{"a sub-workflow branch", fork("f", "sub,b", child, peek("b")),
			map[string]string{"b": "FORK SUB_WORKFLOW peek JOIN"}},
		{"in a sub-workflow", `{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW",
		  "subWorkflowParam":{"name":"child","workflowDefinition":{"name":"child","tasks":[` + fork("f", "a,b", peek("a"), peek("b")) + `]}}}`,
			map[string]string{"a": "FORK peek peek JOIN", "b": "FORK peek peek JOIN"}},
		{"dynamic", `{"name":"d","taskReferenceName":"f","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"ts","dynamicForkTasksInputParamName":"in",
		  "inputParameters":{"ts":[{"name":"peek","taskReferenceName":"a","type":"SIMPLE"},{"name":"peek","taskReferenceName":"b","type":"SIMPLE"}],"in":{}}},
		  {"name":"j","taskReferenceName":"f_join","type":"JOIN"}`,
			map[string]string{"a": "FORK peek peek JOIN", "b": "FORK peek peek JOIN"}},
	}
	// ForkJoinSpec's definition: its first snapshot is FORK, t1 and t2
	// SCHEDULED, JOIN IN_PROGRESS.
	harness, err := os.ReadFile(conductorDir + "/fork_join_integration_test.json")
	if err != nil {
		t.Fatal(err)
	}
	cases = append(cases, struct {
		name  string
		tasks string
		want  map[string]string
	}{"ForkJoinSpec", string(harness), map[string]string{
		"t1": "FORK integration_task_1 integration_task_2 JOIN", "t2": "FORK integration_task_1 integration_task_2 JOIN"}})
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := &peekRun{id: "fork-decision", child: c.name == "in a sub-workflow", seen: map[string][]string{}}
			h := newHarness(t, nil, engine.WithRemoteWorker(p.worker))
			p.e = h.e
			def := `{"name":"w","tasks":[` + c.tasks + `]}`
			if strings.Contains(c.tasks, `"schemaVersion"`) { // a whole definition
				def = c.tasks
			}
			res := h.run(def, `{}`, engine.WithRunID(p.id))
			if res.Status != engine.StatusCompleted {
				t.Fatalf("run %s %q", res.Status, res.Reason)
			}
			for ref, want := range c.want {
				// The records of the decision come first; a branch that
				// went on may have scheduled more since.
				seen := p.seen[ref]
				n := len(strings.Fields(want))
				var types []string
				join := ""
				for _, s := range seen[:min(n, len(seen))] {
					typ, st, _ := strings.Cut(s, ":")
					types = append(types, typ)
					if typ == "JOIN" {
						join = st
					}
				}
				if strings.Join(types, " ") != want || join != engine.TaskInProgress {
					t.Errorf("%s saw %v, want %s with the JOIN IN_PROGRESS", ref, seen, want)
				}
			}
		})
	}
}

// A branch whose first task fails at once: the other branches' first
// tasks and the JOIN were scheduled with it, and are cancelled with the
// run (DeciderService.retry throws, WorkflowExecutor.terminate cancels
// every task not terminal).
func TestForkBranchFailingAtOnceLeavesTheDecisionsRecords(t *testing.T) {
	hold := func(ctx context.Context, _ engine.RemoteTask) tasks.Result {
		<-ctx.Done()
		return tasks.Result{Status: tasks.Failed, Reason: "cancelled"}
	}
	def := `{"name":"w","tasks":[{"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[
	    [{"name":"fail","taskReferenceName":"x","retryCount":0,"inputParameters":{}}],
	    [{"name":"hold","taskReferenceName":"b"}],
	    [{"name":"hold","taskReferenceName":"c"}]]},
	  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["x","b","c"]}]}`
	loop := `{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"false","loopOver":[
	  {"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[
	    [{"name":"fail","taskReferenceName":"x","retryCount":0,"inputParameters":{}}],
	    [{"name":"hold","taskReferenceName":"b"}]]},
	  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["x","b"]}]}]}`
	cases := []struct {
		name, def string
		want      []string
	}{
		{"fork", def, []string{"FORK:COMPLETED", "fail:FAILED", "hold:CANCELED", "hold:CANCELED", "JOIN:CANCELED"}},
		{"fork in a loop", loop, []string{"DO_WHILE:CANCELED", "FORK:COMPLETED", "fail:FAILED", "hold:CANCELED", "JOIN:CANCELED"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for range 20 {
				h := newHarness(t, nil, engine.WithRemoteWorker(hold))
				res := h.run(c.def, `{}`)
				if res.Status != engine.StatusFailed {
					t.Fatalf("run %s %q", res.Status, res.Reason)
				}
				checkTasks(t, viewRun(t, h.e, res.RunID).Tasks, c.want...)
			}
		})
	}
}

// A branch's synchronous first task that fails: the decider executed every
// synchronous task of the pass (WorkflowExecutor.decide runs each task the
// decision scheduled), so the other branch's INLINE completed; the next
// pass fails the run before that branch schedules its next task.
func TestForkSynchronousBranchFailure(t *testing.T) {
	inline := func(ref, expr string) string {
		return `{"name":"i","taskReferenceName":"` + ref + `","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"` + expr + `"}}`
	}
	fork := `{"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[
	    [` + inline("x", "nope.nope") + `],
	    [` + inline("a", "1") + `,{"name":"echo","taskReferenceName":"b"}]]},
	  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["x","b"]}`
	cases := []struct {
		name, def string
		want      []string
	}{
		{"fork", `{"name":"w","tasks":[` + fork + `]}`,
			[]string{"FORK:COMPLETED", "INLINE:FAILED_WITH_TERMINAL_ERROR", "INLINE:COMPLETED", "JOIN:CANCELED"}},
		{"fork in a loop", `{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"false","loopOver":[` + fork + `]}]}`,
			[]string{"DO_WHILE:CANCELED", "FORK:COMPLETED", "INLINE:FAILED_WITH_TERMINAL_ERROR", "INLINE:COMPLETED", "JOIN:CANCELED"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for range 20 {
				h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
				res := h.run(c.def, `{}`)
				if res.Status != engine.StatusFailed {
					t.Fatalf("run %s %q", res.Status, res.Reason)
				}
				checkTasks(t, viewRun(t, h.e, res.RunID).Tasks, c.want...)
			}
		})
	}
}
