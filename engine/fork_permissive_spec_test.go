package engine_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// ForkJoinSpec "Test fork join with permissive sub workflow forks
// terminated by the user": both permissive SUB_WORKFLOW branches of a FORK
// run their child (sub_workflow, its one worker task waiting); the user
// terminates both children. The parent is TERMINATED, not FAILED (a
// CANCELED task terminates the run, permissive or not), with its FORK
// COMPLETED, both SUB_WORKFLOW tasks CANCELED and the JOIN CANCELED.
func TestConductorForkJoinPermissiveSubWorkflowsTerminatedByUser(t *testing.T) {
	polled := make(chan struct{}, 2)
	e := harnessEngine(t, nil, engine.WithWorker("simple_task_in_sub_wf", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		polled <- struct{}{}
		<-ctx.Done()
		return nil, ctx.Err()
	}))
	d := harnessDef(t, e, "fork_join_with_permissive_sub_workflow_forks_integration_test.json")
	const id = "permissive-forks-terminated"
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(context.Background(), d, json.RawMessage(`{"param1":"p1 value","param2":"p2 value"}`), engine.WithRunID(id))
		if err != nil {
			t.Errorf("parent: %v", err)
		}
		done <- res
	}()
	for range 2 {
		select {
		case <-polled:
		case <-time.After(10 * time.Second):
			t.Fatal("the children's tasks never ran")
		}
	}
	// A branch whose task waits (here a child run) leaves the fork's
	// passes as soon as it has scheduled it and starts its child, while
	// the fork records the JOIN on its own turn: the children can run
	// before the parent's JOIN record is saved. Wait for both.
	var running map[string]taskView
	waitFor(t, "both children to run and the JOIN to be recorded", func() bool {
		running = byRef(viewRun(t, e, id).Tasks)
		return running["st1"].SubWorkflowID != "" && running["st2"].SubWorkflowID != "" && running["fanouttask_join"].Ref != ""
	})
	wf := viewRun(t, e, id)
	if wf.Status != engine.StatusRunning {
		t.Fatalf("parent %s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "FORK:COMPLETED", "SUB_WORKFLOW:IN_PROGRESS", "SUB_WORKFLOW:IN_PROGRESS", "JOIN:IN_PROGRESS")
	for _, ref := range []string{"st1", "st2"} {
		if c := viewRun(t, e, running[ref].SubWorkflowID); c.Status != engine.StatusRunning {
			t.Fatalf("child %s: %s", ref, c.Status)
		}
	}
	const reason = "terminated by the user"
	for _, ref := range []string{"st1", "st2"} {
		if err := e.Terminate(context.Background(), running[ref].SubWorkflowID, reason); err != nil {
			t.Fatalf("terminate child %s: %v", ref, err)
		}
	}
	for _, ref := range []string{"st1", "st2"} {
		if c := viewRun(t, e, running[ref].SubWorkflowID); c.Status != engine.StatusTerminated {
			t.Fatalf("child %s: %s %q", ref, c.Status, c.Reason)
		}
	}
	res := ended(t, done)
	if res == nil || res.Status != engine.StatusTerminated {
		t.Fatalf("parent: %+v", res)
	}
	wf = viewRun(t, e, id)
	if wf.Status != engine.StatusTerminated {
		t.Fatalf("parent %s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "FORK:COMPLETED", "SUB_WORKFLOW:CANCELED", "SUB_WORKFLOW:CANCELED", "JOIN:CANCELED")
}
