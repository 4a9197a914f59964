package engine_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// Conductor's updateAndPushParents stops at an optional SUB_WORKFLOW task
// whose child runs again, but its loop over the parent's other SUB_WORKFLOW
// tasks has no optional check: an optional sibling that ended
// unsuccessfully (FAILED, as a PAUSED parent keeps it) is re-opened and its
// child retried with the rest. Under a parent this process executes, the
// optional sibling o is re-opened with a (same record, same child), its
// child retried in place and run to completion — not retried and then
// terminated ("Parent workflow has ended") because the record was left out.
func TestReopenOfAnExecutedParentRetriesItsOptionalFailedSibling(t *testing.T) {
	f := newFailOnce()
	hold := make(chan struct{})
	shared := runstore.NewMemory()
	e := harnessEngine(t, shared,
		engine.WithWorker("w_a", f.worker("w_a")), engine.WithWorker("w_o", f.worker("w_o")),
		engine.WithWorker("hold", func(c context.Context, _ json.RawMessage) (json.RawMessage, error) {
			select {
			case <-hold:
				return json.RawMessage(`{"held":true}`), nil
			case <-c.Done():
				return nil, c.Err()
			}
		}))
	child := func(name string) string {
		return `{"name":"c` + name + `","version":1,"schemaVersion":2,"tasks":[{"name":"w_` + name + `","taskReferenceName":"w","retryCount":0}],
		 "outputParameters":{"call":"${w.output.call}"}}`
	}
	def := `{"name":"optional_sibling_parent","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	  [{"name":"a","taskReferenceName":"a","type":"SUB_WORKFLOW","retryCount":0,"permissive":true,"subWorkflowParam":{"name":"ca","workflowDefinition":` + child("a") + `}}],
	  [{"name":"o","taskReferenceName":"o","type":"SUB_WORKFLOW","retryCount":0,"optional":true,"subWorkflowParam":{"name":"co","workflowDefinition":` + child("o") + `}}],
	  [{"name":"hold","taskReferenceName":"hold"}]]},
	 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","o","hold"]}],
	 "outputParameters":{"a":"${a.output.call}","o":"${o.output.call}"}}`
	const id = "optional-sibling"
	done := startHeld(t, e, def, id)
	<-f.entered
	<-f.entered
	close(f.release)
	var recs map[string]taskView
	waitFor(t, "both SUB_WORKFLOW tasks to end", func() bool {
		recs = byRef(viewRun(t, e, id).Tasks)
		return recs["a"].Status == engine.TaskFailed && recs["o"].Status == engine.TaskCompletedWithErrors
	})
	if !engine.HoldUnsuccessful(e, id, recs["o"].TaskID, engine.TaskFailed) {
		t.Fatal("the parent is not executed here")
	}
	got, err := e.Retry(context.Background(), recs["a"].SubWorkflowID, false)
	if err != nil || got.Status != engine.StatusCompleted {
		t.Fatalf("retry of child a: %+v %v", got, err)
	}
	waitFor(t, "o's child to end", func() bool {
		s := viewRun(t, e, recs["o"].SubWorkflowID).Status
		return s != engine.StatusRunning
	})
	if c := viewRun(t, e, recs["o"].SubWorkflowID); c.Status != engine.StatusCompleted {
		t.Fatalf("o's child after the retry: %s %q %+v", c.Status, c.Reason, c.Tasks)
	}
	close(hold)
	res := ended(t, done)
	wf := viewRun(t, e, id)
	if res == nil || res.Status != engine.StatusCompleted || wf.Output["a"] != float64(2) || wf.Output["o"] != float64(2) {
		t.Fatalf("parent: %+v; %s %q output %v %+v", res, wf.Status, wf.Reason, wf.Output, wf.Tasks)
	}
	after := byRef(wf.Tasks)
	for _, ref := range []string{"a", "o"} {
		if now, was := after[ref], recs[ref]; now.TaskID != was.TaskID || now.SubWorkflowID != was.SubWorkflowID || now.Status != engine.TaskCompleted {
			t.Fatalf("record %s after the retry: %+v, was %+v", ref, now, was)
		}
	}
}
