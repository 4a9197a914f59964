package engine

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine/runstore"
)

// TestSubWorkflowUpdatedBeforeItsChildExecutesIsNotReopened: a
// SUB_WORKFLOW task updated COMPLETED by its id right after it named its
// child, before the child's execution here got going, ends the task and
// its run, the child running on detached — as when the child executes
// already. Before, the run about to complete looked for children left
// RUNNING under its ended records (noticeRunningChildren, for a restart
// that died before it handed its re-open over), found this one not marked
// executing yet, and re-opened the task the update had just ended: the
// task went back to IN_PROGRESS and the run never completed (serve's
// TestSubWorkflowUpdateAndSignalKeepEmptyReason, under load).
func TestSubWorkflowUpdatedBeforeItsChildExecutesIsNotReopened(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runID := "5b0d7a4e-0000-4000-8000-000000000601"
	e, err := New(WithRunStore(runstore.NewMemory()), WithPollInterval(5*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	// The first execution of a run other than the parent (its child)
	// waits before it begins until the test lets it go, as a loaded
	// machine may leave the child's goroutine unscheduled for a while
	// after its parent named it.
	held, gate := make(chan struct{}, 1), make(chan struct{})
	var once sync.Once
	e.beforeExecute = func(id string) {
		if id == runID {
			return
		}
		once.Do(func() {
			held <- struct{}{}
			<-gate
		})
	}
	var releaseOnce sync.Once
	release := func() { releaseOnce.Do(func() { close(gate) }) }
	def, err := e.Parse([]byte(`{"name":"detach_early","version":1,"schemaVersion":2,"tasks":[
	 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW",
	  "subWorkflowParam":{"name":"detach_child","workflowDefinition":{"name":"detach_child","version":1,"schemaVersion":2,
	   "tasks":[{"name":"hold","taskReferenceName":"hold","type":"WAIT"}]}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	type outcome struct {
		res *Result
		err error
	}
	ended := make(chan outcome, 1)
	go func() {
		res, err := e.Start(ctx, def, json.RawMessage(`{}`), WithRunID(runID))
		ended <- outcome{res, err}
	}()
	defer release()
	select {
	case <-held:
	case <-ctx.Done():
		t.Fatal("the child never began executing")
	}
	// The record names its child, whose execution has not begun.
	var sub, child string
	for sub == "" {
		_, d, _, err := e.loadRunDoc(ctx, runID)
		if err != nil {
			t.Fatal(err)
		}
		if len(d.Tasks) == 1 && d.Tasks[0].Status == TaskInProgress && d.Tasks[0].SubWorkflowID != "" {
			sub, child = d.Tasks[0].TaskID, d.Tasks[0].SubWorkflowID
			break
		}
		if ctx.Err() != nil {
			t.Fatal("the SUB_WORKFLOW task never named its child")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if e.isActive(child) {
		t.Fatal("the child executes already: the test holds nothing")
	}
	if _, err := e.CompleteTaskWith(ctx, runID, Completion{TaskID: sub, Status: TaskCompleted,
		Output: json.RawMessage(`{"by":"update"}`), SubWorkflowID: child}); err != nil {
		t.Fatal(err)
	}
	// The run completes while the child still waits to execute.
	select {
	case o := <-ended:
		if o.err != nil || o.res == nil || o.res.Status != StatusCompleted {
			t.Fatalf("parent: %+v %v; want COMPLETED", o.res, o.err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the run did not complete after its SUB_WORKFLOW task was updated COMPLETED: its task was re-opened")
	}
	_, d, _, err := e.loadRunDoc(ctx, runID)
	if err != nil {
		t.Fatal(err)
	}
	if tk := d.Tasks[0]; len(d.Tasks) != 1 || tk.Status != TaskCompleted || tk.SubWorkflowID != child {
		t.Fatalf("stored task: %+v; want the one record COMPLETED naming %s", tk, child)
	}
	// The child, let go, runs on detached and ends when completed.
	release()
	for !e.isActive(child) {
		if ctx.Err() != nil {
			t.Fatal("the child never executed")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := e.CompleteTask(ctx, child, "hold", TaskCompleted, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
	_, cd, _, err := e.loadRunDoc(ctx, child)
	if err != nil || cd.Status != StatusCompleted {
		t.Fatalf("child: %v %v; want COMPLETED", cd.Status, err)
	}
	if _, d, _, err = e.loadRunDoc(ctx, runID); err != nil || d.Tasks[0].Status != TaskCompleted || len(d.Tasks) != 1 {
		t.Fatalf("the child's end changed its parent: %+v %v", d.Tasks, err)
	}
}
