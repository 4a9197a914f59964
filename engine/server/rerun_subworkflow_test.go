package server_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/engine/server"
)

// TestConductorRerunSubWorkflowTaskAnswersInProgress: Conductor's rerunWF,
// rerunning from a SUB_WORKFLOW task, starts its new child within the
// call: the answer finds the task (its task id kept) IN_PROGRESS naming a
// new child, however long the child's first write takes: the write is
// held until the rerun's call is seen waiting for it, and the call has not
// answered meanwhile.
func TestConductorRerunSubWorkflowTaskAnswersInProgress(t *testing.T) {
	// The first write of a run not stored yet (the new child) is held.
	runs := newGatedStore(func(ctx context.Context, st runstore.Store, id string, _ *runstore.Change) bool {
		_, _, err := st.Load(ctx, id)
		return errors.Is(err, runstore.ErrNotFound)
	})
	ts := newConductorServer(t, runs)
	waiting := make(chan struct{}, 1)
	server.OnRerunChildWait(ts.srv, func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	})
	s := &hierSpec{ts: ts}
	for path, body := range map[string]string{
		"/api/metadata/taskdefs": `[{"name":"rs_inner","retryCount":0,"timeoutSeconds":0,"responseTimeoutSeconds":3600}]`,
	} {
		if st, _, b := ts.do(t, "POST", path, body); st != 200 && st != 204 {
			t.Fatalf("%s: %d %s", path, st, b)
		}
	}
	for _, def := range []string{
		`{"name":"rs_child","version":1,"schemaVersion":2,"tasks":[{"name":"rs_inner","taskReferenceName":"inner","type":"SIMPLE"}]}`,
		`{"name":"rs_parent","version":1,"schemaVersion":2,"tasks":[{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW",
		  "subWorkflowParam":{"name":"rs_child","version":1}}]}`,
	} {
		if st, _, b := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 && st != 204 {
			t.Fatalf("register: %d %s", st, b)
		}
	}
	st, _, id := ts.do(t, "POST", "/api/workflow/rs_parent", `{}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	s.answer(t, "rs_inner", "w", "FAILED")
	v := s.expect(t, id, "FAILED SUB_WORKFLOW:FAILED")
	sub, old := v.Tasks[0].TaskID, v.Tasks[0].SubWorkflowID
	if old == "" {
		t.Fatalf("the SUB_WORKFLOW names no child: %+v", v)
	}
	runs.armed.Store(true)
	type answer struct {
		status int
		body   string
	}
	answered := make(chan answer, 1)
	go func() {
		st, _, b := ts.do(t, "POST", "/api/workflow/"+id+"/rerun", `{"reRunFromWorkflowId":"`+id+`","reRunFromTaskId":"`+sub+`"}`)
		answered <- answer{st, b}
	}()
	for _, step := range []struct {
		what string
		ch   <-chan struct{}
	}{{"the child's first write", runs.entered}, {"the rerun waiting for the child", waiting}} {
		select {
		case <-step.ch:
		case a := <-answered:
			close(runs.release)
			t.Fatalf("the rerun answered (%d %s) before %s: the child is not stored yet", a.status, a.body, step.what)
		}
	}
	runs.armed.Store(false)
	close(runs.release)
	if a := <-answered; a.status != 200 {
		t.Fatalf("rerun: %d %s", a.status, a.body)
	}
	v = s.view(t, id)
	if v.Status != "RUNNING" || len(v.Tasks) != 1 || v.Tasks[0].TaskID != sub || v.Tasks[0].Status != "IN_PROGRESS" ||
		v.Tasks[0].SubWorkflowID == "" || v.Tasks[0].SubWorkflowID == old {
		t.Fatalf("as the rerun answered: %+v, want RUNNING, the SUB_WORKFLOW %s IN_PROGRESS naming a new child (was %s)", v, sub, old)
	}
	s.answer(t, "rs_inner", "w", "COMPLETED")
	s.expect(t, id, "COMPLETED SUB_WORKFLOW:COMPLETED")
}

// slowCommits delays, once armed, every write of a run already stored by
// 150 ms: the writes after a rerun's own (Restore) come late.
type slowCommits struct {
	runstore.Store
	armed atomic.Bool
}

func (s *slowCommits) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	if s.armed.Load() {
		time.Sleep(150 * time.Millisecond)
	}
	return s.Store.Commit(ctx, id, ch)
}

// TestConductorRerunFromDynamicForkAnswersItMapped: Conductor's rerunWF,
// rerunning from a dynamic fork's FORK, maps the fork again within the
// call (finalizeRerun: a new FORK record COMPLETED, its branches
// SCHEDULED, the JOIN IN_PROGRESS): the answer finds it so, however long
// the writes after the rerun's own take.
func TestConductorRerunFromDynamicForkAnswersItMapped(t *testing.T) {
	runs := &slowCommits{Store: runstore.NewMemory()}
	ts := newConductorServer(t, runs)
	s := &hierSpec{ts: ts}
	if st, _, b := ts.do(t, "POST", "/api/metadata/taskdefs", `[{"name":"rd_x","retryCount":0,"timeoutSeconds":0,"responseTimeoutSeconds":3600}]`); st != 200 && st != 204 {
		t.Fatalf("taskdefs: %d %s", st, b)
	}
	def := `{"name":"rd_parent","version":1,"schemaVersion":2,"tasks":[
	 {"name":"dyn","taskReferenceName":"dyn","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"ts","dynamicForkTasksInputParamName":"in",
	  "inputParameters":{"ts":[{"name":"rd_x","taskReferenceName":"x1","type":"SIMPLE"},{"name":"rd_x","taskReferenceName":"x2","type":"SIMPLE"}],"in":{"x1":{},"x2":{}}}},
	 {"name":"join","taskReferenceName":"join","type":"JOIN"}]}`
	if st, _, b := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 && st != 204 {
		t.Fatalf("register: %d %s", st, b)
	}
	st, _, id := ts.do(t, "POST", "/api/workflow/rd_parent", `{}`)
	if st != 200 {
		t.Fatalf("start: %d %s", st, id)
	}
	s.answer(t, "rd_x", "w", "FAILED")
	v := s.expect(t, id, "FAILED FORK:COMPLETED rd_x:FAILED rd_x:CANCELED JOIN:CANCELED", "FAILED FORK:COMPLETED rd_x:CANCELED rd_x:FAILED JOIN:CANCELED")
	fork := v.Tasks[0].TaskID
	runs.armed.Store(true)
	if st, _, b := ts.do(t, "POST", "/api/workflow/"+id+"/rerun", `{"reRunFromWorkflowId":"`+id+`","reRunFromTaskId":"`+fork+`"}`); st != 200 {
		t.Fatalf("rerun: %d %s", st, b)
	}
	v = s.view(t, id)
	runs.armed.Store(false)
	if v.shape() != "RUNNING FORK:COMPLETED rd_x:SCHEDULED rd_x:SCHEDULED JOIN:IN_PROGRESS" || v.Tasks[0].TaskID == fork {
		t.Fatalf("as the rerun answered: %s (FORK %s), want RUNNING, a new FORK COMPLETED, its branches SCHEDULED, the JOIN IN_PROGRESS (was FORK %s)", v.shape(), v.Tasks[0].TaskID, fork)
	}
	s.answer(t, "rd_x", "w", "COMPLETED")
	s.answer(t, "rd_x", "w", "COMPLETED")
	s.expect(t, id, "COMPLETED FORK:COMPLETED rd_x:COMPLETED rd_x:COMPLETED JOIN:COMPLETED")
}
