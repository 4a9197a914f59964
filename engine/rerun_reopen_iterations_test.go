package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// TestReopenedSubWorkflowsInTwoIterationsOfACompletedLoop: loopSubDef's
// DO_WHILE completed 2 iterations, each starting a child; a rerun of
// iteration 2's child from its task failed it again, and the parent with
// it (the loop stays COMPLETED, its SUB_WORKFLOW task of iteration 2
// FAILED). A rerun of iteration 1's child from its task then re-opens
// both of the parent's SUB_WORKFLOW tasks at once: Conductor's
// updateAndPushParents sets iteration 1's IN_PROGRESS and retries the
// other one that ended unsuccessfully, whose child runs again; each,
// when its child completes, completes, and the decider schedules what
// follows in its iteration. Both iterations' rests run, and the parent
// completes with both tasks COMPLETED. Before, the parent's note named
// one iteration of the loop only: iteration 2's task was left IN_PROGRESS
// and cancelled at the run's end.
func TestReopenedSubWorkflowsInTwoIterationsOfACompletedLoop(t *testing.T) {
	var mu sync.Mutex
	failing := map[float64]bool{}
	var ran []string
	zero := 0
	defs := engine.NewTaskDefs()
	if err := defs.Put(&engine.TaskDef{Name: "w_a", RetryCount: &zero}, &engine.TaskDef{Name: "w_c", RetryCount: &zero},
		&engine.TaskDef{Name: "w_after", RetryCount: &zero}); err != nil {
		t.Fatal(err)
	}
	worker := func(name string) func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			var m map[string]any
			_ = json.Unmarshal(in, &m)
			mu.Lock()
			defer mu.Unlock()
			ran = append(ran, name)
			if i, _ := m["i"].(float64); name == "a" && failing[i] {
				return nil, errors.New("boom")
			}
			return json.RawMessage(`{"by":"` + name + `"}`), nil
		}
	}
	e, err := engine.New(engine.WithRunStore(runstore.NewMemory()), engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithTaskDefs(defs),
		engine.WithKeyring(keyring(t, 9)),
		engine.WithWorker("w_a", worker("a")), engine.WithWorker("w_c", worker("c")), engine.WithWorker("w_after", worker("after")))
	if err != nil {
		t.Fatal(err)
	}
	id, before, _ := completedLoopParent(t, e)
	child := func(ref string) (string, map[string]any) {
		_, ts := rawTasks(t, e, id)
		c := lastRecord(ts, ref)["subWorkflowId"].(string)
		_, ct := rawTasks(t, e, c)
		return c, lastRecord(ct, "ca")
	}
	// Iteration 2's child fails again, and its parent with it.
	mu.Lock()
	failing[2] = true
	mu.Unlock()
	c2, ca2 := child("sub__2")
	if rr, err := e.RerunWith(context.Background(), c2, engine.RerunOptions{FromTaskID: ca2["taskId"].(string)}); err != nil || rr.Status != engine.StatusFailed {
		t.Fatalf("rerun of iteration 2's child: %v %+v", err, rr)
	}
	status, mid := rawTasks(t, e, id)
	if sub2 := lastRecord(mid, "sub__2"); status != engine.StatusFailed || sub2["status"] != engine.TaskFailed || sub2["subWorkflowId"] != c2 {
		t.Fatalf("after iteration 2's child failed: run %s, sub__2 %v", status, sub2)
	}
	sameCompletedLoop(t, "after iteration 2's child failed", lastRecord(mid, "loop"), lastRecord(before, "loop"))
	// Iteration 1's child runs again from its task: both tasks re-open.
	mu.Lock()
	failing[2] = false
	ran = nil
	mu.Unlock()
	c1, ca1 := child("sub__1")
	rr, err := e.RerunWith(context.Background(), c1, engine.RerunOptions{FromTaskID: ca1["taskId"].(string)})
	if err != nil || rr.Status != engine.StatusCompleted {
		t.Fatalf("rerun of iteration 1's child: %v %+v", err, rr)
	}
	// The parent is executed on after the child's rerun answers.
	waitStatus(t, e, id, engine.StatusCompleted)
	_, after := rawTasks(t, e, id)
	sameCompletedLoop(t, "after the rerun", lastRecord(after, "loop"), lastRecord(before, "loop"))
	for _, ref := range []string{"sub__1", "sub__2"} {
		rec := lastRecord(after, ref)
		cs, _ := rawTasks(t, e, rec["subWorkflowId"].(string))
		if rec["status"] != engine.TaskCompleted || cs != engine.StatusCompleted {
			t.Errorf("%s after the rerun: %v, its child %s; want both COMPLETED", ref, rec["status"], cs)
		}
	}
	if rec := lastRecord(after, "sub__2"); rec["taskId"] != lastRecord(mid, "sub__2")["taskId"] || rec["subWorkflowId"] != c2 {
		t.Errorf("sub__2 after the rerun: %v, want its record %v retried in place with its child %s", rec, lastRecord(mid, "sub__2")["taskId"], c2)
	}
	mu.Lock()
	defer mu.Unlock()
	a := 0
	for _, s := range ran {
		if s == "a" {
			a++
		}
	}
	if a != 2 {
		t.Errorf("workers run by the rerun: %v, want each child's task once", ran)
	}
}
