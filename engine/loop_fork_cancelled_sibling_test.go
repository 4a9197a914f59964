package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// loopForkDef is a DO_WHILE whose iteration forks an INLINE, a HUMAN that
// waits and the branch under test, joined on all three.
func loopForkDef(branch, joined string) string {
	return `{"name":"w","tasks":[{"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 3","loopOver":[
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	    [{"name":"a","taskReferenceName":"a","type":"INLINE","inputParameters":{"evaluatorType":"javascript","expression":"'a-out'"}}],
	    [{"name":"h","taskReferenceName":"h","type":"HUMAN"}],
	    [` + branch + `]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","h","` + joined + `"]}]}]}`
}

// A permissive task of a DO_WHILE iteration's fork branch ends
// unsuccessfully while a sibling branch before it waits (a HUMAN): a
// worker's task that fails, or a SUB_WORKFLOW whose child the user
// terminates (CANCELED). Conductor's DoWhile.execute fails the loop in
// that decision, its iteration's entry holding the iteration's tasks up
// to the failed one in the order they were scheduled (the FORK, the
// INLINE, the waiting HUMAN with no output, the failed task); the next decision's retry() of the loop fails the run
// ("Task <loop> failed with status: FAILED and reason: '<reason> '"), and
// cancelNonTerminalTasks cancels the HUMAN and the JOIN. wfrun took the
// HUMAN branch's cancellation for the fork's outcome (it came first among
// the branches) over the permissive task's failure: the loop never
// failed, Start returned "context canceled" and the run stayed RUNNING.
func TestDoWhileForkPermissiveFailureBesideAWaitingSibling(t *testing.T) {
	t.Run("a worker's task fails", func(t *testing.T) {
		h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
		d, err := h.e.Parse([]byte(loopForkDef(`{"name":"fail","taskReferenceName":"f","permissive":true,"retryCount":0}`, "f")))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		res, err := h.e.Start(ctx, d, json.RawMessage(`{}`))
		if err != nil {
			t.Fatalf("start: %v", err)
		}
		checkLoopForkFailed(t, h, res, "worker says no to {}",
			`{"fork":{},"a":{"result":"a-out"},"h":{},"f":{}}`,
			"fork__1:COMPLETED a__1:COMPLETED h__1:CANCELED f__1:FAILED join__1:CANCELED")
	})
	t.Run("a child run is terminated", func(t *testing.T) {
		h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
		d, err := h.e.Parse([]byte(loopForkDef(`{"name":"sub","taskReferenceName":"s","type":"SUB_WORKFLOW","permissive":true,
		  "subWorkflowParam":{"name":"c","workflowDefinition":{"name":"c","tasks":[{"name":"ch","taskReferenceName":"ch","type":"HUMAN"}]}}}`, "s")))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		const id = "loop-fork-child-terminated"
		done := make(chan error, 1)
		var res *engine.Result
		go func() {
			var err error
			res, err = h.e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(id))
			done <- err
		}()
		show := func(id string) (runView, bool) {
			b, err := h.e.Show(context.Background(), id)
			var v runView
			return v, err == nil && json.Unmarshal(b, &v) == nil
		}
		var child string
		waitFor(t, "the child's HUMAN and the sibling HUMAN to wait", func() bool {
			v, ok := show(id)
			recs := byRef(v.Tasks)
			child = recs["s__1"].SubWorkflowID
			if !ok || child == "" || recs["h__1"].Status != engine.TaskInProgress {
				return false
			}
			c, ok := show(child)
			return ok && len(c.Tasks) == 1 && c.Tasks[0].Status == engine.TaskInProgress
		})
		if err := h.e.Terminate(context.Background(), child, "stop"); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatalf("start: %v", err)
		}
		reason := "Sub workflow c.1/" + child + " failure reason: stop"
		checkLoopForkFailed(t, h, res, reason,
			`{"fork":{},"a":{"result":"a-out"},"h":{},"s":{"subWorkflowId":"`+child+`"}}`,
			"fork__1:COMPLETED a__1:COMPLETED h__1:CANCELED s__1:CANCELED join__1:CANCELED")
	})
}

func checkLoopForkFailed(t *testing.T, h *harness, res *engine.Result, reason, entry, statuses string) {
	t.Helper()
	v := viewRun(t, h.e, res.RunID)
	if v.Status != engine.StatusFailed || !strings.HasSuffix(v.Reason, " failed with status: FAILED and reason: '"+reason+" '") {
		t.Fatalf("run %s %q; tasks %s", v.Status, v.Reason, refStatuses(v))
	}
	loop := v.Tasks[0]
	if loop.Ref != "loop" || loop.Status != engine.TaskFailed || loop.Reason != reason+" " {
		t.Fatalf("loop %s %s %q", loop.Ref, loop.Status, loop.Reason)
	}
	b, _ := json.Marshal(loop.Output)
	jsonEq(t, b, `{"iteration":1,"1":`+entry+`}`)
	v.Tasks = v.Tasks[1:]
	if got := refStatuses(v); got != statuses {
		t.Fatalf("tasks %s, want %s", got, statuses)
	}
}
