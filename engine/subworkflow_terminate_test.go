package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// subGateDef: subUpdatedDef's SUB_WORKFLOW task, then a HUMAN task.
const subGateDef = `{"name":"sub_updated_gate","version":1,"schemaVersion":2,"tasks":[
 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW",
  "subWorkflowParam":{"name":"held_child","workflowDefinition":{"name":"held_child","version":1,"schemaVersion":2,
   "tasks":[{"name":"hold","taskReferenceName":"hold","type":"HUMAN"}]}}},
 {"name":"gate","taskReferenceName":"gate","type":"HUMAN"}]}`

// TestSubWorkflowChildOfUpdatedTaskOutlivesTermination: terminating a run
// whose SUB_WORKFLOW task an update COMPLETED leaves that task's child
// RUNNING: Conductor's termination cancels only the tasks that have not
// ended (cancelNonTerminalTasks), and only a cancelled SUB_WORKFLOW task
// terminates its child.
func TestSubWorkflowChildOfUpdatedTaskOutlivesTermination(t *testing.T) {
	e := harnessEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runID := "5b0d7a4e-0000-4000-8000-000000000206"
	d, err := e.Parse([]byte(subGateDef))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(runID))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	v := awaitRun(t, e, runID, func(v progressView) bool {
		return len(v.Tasks) == 1 && v.Tasks[0].Status == engine.TaskInProgress && v.Tasks[0].SubWorkflowID != ""
	})
	sub, child := v.Tasks[0].TaskID, v.Tasks[0].SubWorkflowID
	awaitRun(t, e, child, func(c progressView) bool { return len(c.Tasks) == 1 && c.Tasks[0].Status == engine.TaskInProgress })
	if _, err := e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: engine.TaskCompleted}); err != nil {
		t.Fatal(err)
	}
	awaitRun(t, e, runID, func(v progressView) bool { return len(v.Tasks) == 2 && v.Tasks[1].Status == engine.TaskInProgress })
	if err := e.Terminate(ctx, runID, "stop it"); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusTerminated {
		t.Fatalf("parent: %+v", res)
	}
	if c := viewRun(t, e, child); c.Status != engine.StatusRunning {
		t.Fatalf("the child of the COMPLETED task is %s, want RUNNING", c.Status)
	}
	if _, err := e.CompleteTask(ctx, child, "hold", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	awaitRun(t, e, child, func(c progressView) bool { return c.Status == engine.StatusCompleted })
	if err := e.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
}

// parentLoadCounter counts the Loads of run id that find it archived.
type parentLoadCounter struct {
	runstore.Store
	id       string
	archived atomic.Int32
}

func (s *parentLoadCounter) Load(ctx context.Context, id string) ([]byte, bool, error) {
	doc, archived, err := s.Store.Load(ctx, id)
	if err == nil && archived && id == s.id {
		s.archived.Add(1)
	}
	return doc, archived, err
}

// forkOfSubs is a FORK_JOIN of n SUB_WORKFLOW tasks, each child holding at
// a HUMAN task, then a HUMAN task.
func forkOfSubs(n int) string {
	var branches, refs []string
	for i := range n {
		ref := fmt.Sprintf("sub%d", i)
		branches = append(branches, fmt.Sprintf(`[{"name":"%[1]s","taskReferenceName":"%[1]s","type":"SUB_WORKFLOW",
  "subWorkflowParam":{"name":"held_child","workflowDefinition":{"name":"held_child","version":1,"schemaVersion":2,
   "tasks":[{"name":"hold","taskReferenceName":"hold","type":"HUMAN"}]}}}]`, ref))
		refs = append(refs, `"`+ref+`"`)
	}
	return `{"name":"fork_of_subs","version":1,"schemaVersion":2,"tasks":[
 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[` + strings.Join(branches, ",") + `]},
 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":[` + strings.Join(refs, ",") + `]},
 {"name":"gate","taskReferenceName":"gate","type":"HUMAN"}]}`
}

// parentLoadsOnTerminate runs forkOfSubs(n), completes each SUB_WORKFLOW
// task by an update while its child runs on, terminates the run at its
// gate, and returns how often the ended parent was loaded until Terminate
// returned. The children of the tasks the updates ended are left RUNNING
// (TestSubWorkflowChildOfUpdatedTaskOutlivesTermination).
func parentLoadsOnTerminate(t *testing.T, n int) int {
	t.Helper()
	runID := fmt.Sprintf("5b0d7a4e-0000-4000-8000-%012d", 300+n)
	store := &parentLoadCounter{Store: runstore.NewMemory(), id: runID}
	e := harnessEngine(t, store)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := e.Parse([]byte(forkOfSubs(n)))
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(runID))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	var children, subs []string
	awaitRun(t, e, runID, func(v progressView) bool {
		children, subs = children[:0], subs[:0]
		for _, task := range v.Tasks {
			if task.Status == engine.TaskInProgress && task.SubWorkflowID != "" {
				children, subs = append(children, task.SubWorkflowID), append(subs, task.TaskID)
			}
		}
		return len(children) == n
	})
	for i, c := range children {
		awaitRun(t, e, c, func(v progressView) bool { return len(v.Tasks) == 1 && v.Tasks[0].Status == engine.TaskInProgress })
		if _, err := e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: subs[i], Status: engine.TaskCompleted}); err != nil {
			t.Fatal(err)
		}
	}
	awaitRun(t, e, runID, func(v progressView) bool {
		last := v.Tasks[len(v.Tasks)-1]
		return last.Status == engine.TaskInProgress && last.SubWorkflowID == "" && len(v.Tasks) == n+3
	})
	if err := e.Terminate(ctx, runID, "stop it"); err != nil {
		t.Fatal(err)
	}
	loads := int(store.archived.Load())
	if res := <-done; res == nil || res.Status != engine.StatusTerminated {
		t.Fatalf("parent: %+v", res)
	}
	for _, c := range children {
		if v := viewRun(t, e, c); v.Status != engine.StatusRunning {
			t.Fatalf("child %s of a COMPLETED task is %s, want RUNNING", c, v.Status)
		}
		if _, err := e.CompleteTask(ctx, c, "hold", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
			t.Fatal(err)
		}
		awaitRun(t, e, c, func(v progressView) bool { return v.Status == engine.StatusCompleted })
	}
	if err := e.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
	return loads
}

// TestSubWorkflowTerminateLoadsParentOnce: terminating a run with a fork
// of SUB_WORKFLOW tasks whose children still run reads the ended parent
// once to tell which of them to terminate, not once per child: the loads
// do not grow with the number of children.
func TestSubWorkflowTerminateLoadsParentOnce(t *testing.T) {
	two, six := parentLoadsOnTerminate(t, 2), parentLoadsOnTerminate(t, 6)
	t.Logf("loads of the ended parent: %d with 2 children, %d with 6", two, six)
	// Once per child, the 4 more children add 4 loads; once in all, none
	// (a load elsewhere, racing, may add one).
	if six-two >= 6-2 {
		t.Fatalf("the ended parent is loaded %d times with 6 children, %d with 2: once per child", six, two)
	}
}
