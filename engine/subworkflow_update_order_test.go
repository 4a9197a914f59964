package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// TestSubWorkflowTaskInProgressByRef: an update IN_PROGRESS by reference
// (CompleteTask: POST /api/tasks/{workflowId}/{ref}/IN_PROGRESS) of a
// SUB_WORKFLOW task is taken, as Conductor's updateTask takes it: its
// TaskResult is built from the pending task, so the task keeps its child
// (and its callbackAfterSeconds), stays IN_PROGRESS with the update's
// output, and ends with its child.
func TestSubWorkflowTaskInProgressByRef(t *testing.T) {
	e := harnessEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runID := "5b0d7a4e-0000-4000-8000-000000000201"
	_, child, done := startHeldSub(t, e, ctx, runID)
	if _, err := e.CompleteTask(ctx, runID, "sub", engine.TaskInProgress, json.RawMessage(`{"progress":1}`)); err != nil {
		t.Fatalf("IN_PROGRESS by reference: %v, want it taken", err)
	}
	v := awaitRun(t, e, runID, func(v progressView) bool { return v.Tasks[0].Output["progress"] == 1.0 })
	if tk := v.Tasks[0]; tk.Status != engine.TaskInProgress || tk.SubWorkflowID != child || tk.Output["subWorkflowId"] != child {
		t.Fatalf("the task updated IN_PROGRESS by reference: %+v, want IN_PROGRESS naming %s", tk, child)
	}
	if _, err := e.CompleteTask(ctx, child, "hold", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("parent: %+v", res)
	}
	if tk := viewRun(t, e, runID).Tasks[0]; tk.Status != engine.TaskCompleted || tk.SubWorkflowID != child {
		t.Fatalf("the task after its child ended: %+v", tk)
	}
	// A HUMAN task still takes no IN_PROGRESS by reference.
	if _, err := e.CompleteTask(ctx, runID, "sub", engine.TaskInProgress, nil); err == nil {
		t.Fatal("IN_PROGRESS for an ended task taken")
	}
}

// TestSubWorkflowTaskRelinkedToItsChild: a SUB_WORKFLOW task updated
// IN_PROGRESS naming no child, then IN_PROGRESS naming the child it was
// detached from, follows that child again, as Conductor's updateTask sets
// the update's subWorkflowId and SubWorkflow.execute then ends the task
// with that child: the child's end completes the task with its output,
// and the run moves on.
func TestSubWorkflowTaskRelinkedToItsChild(t *testing.T) {
	e := harnessEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runID := "5b0d7a4e-0000-4000-8000-000000000202"
	sub, child, done := startHeldSub(t, e, ctx, runID)
	if _, err := e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: engine.TaskInProgress,
		Output: json.RawMessage(`{"step":1}`)}); err != nil {
		t.Fatal(err)
	}
	awaitRun(t, e, runID, func(v progressView) bool { return v.Tasks[0].Output["step"] == 1.0 && v.Tasks[0].SubWorkflowID == "" })
	if _, err := e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: engine.TaskInProgress,
		Output: json.RawMessage(`{"step":2}`), SubWorkflowID: child}); err != nil {
		t.Fatalf("naming the child it was detached from: %v, want it taken", err)
	}
	v := awaitRun(t, e, runID, func(v progressView) bool { return v.Tasks[0].Output["step"] == 2.0 })
	if tk := v.Tasks[0]; tk.Status != engine.TaskInProgress || tk.SubWorkflowID != child {
		t.Fatalf("the re-linked task: %+v, want IN_PROGRESS naming %s", tk, child)
	}
	// Another run is no child of the task: refused.
	if _, err := e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: engine.TaskInProgress, SubWorkflowID: runID}); !errors.Is(err, engine.ErrBadCompletion) {
		t.Errorf("a subWorkflowId not a child of the task: %v, want ErrBadCompletion", err)
	}
	if _, err := e.CompleteTask(ctx, child, "hold", engine.TaskCompleted, json.RawMessage(`{"got":"child"}`)); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("parent: %+v", res)
	}
	w := viewRun(t, e, runID)
	if tk := w.Tasks[0]; tk.Status != engine.TaskCompleted || tk.SubWorkflowID != child || w.Output["got"] != "child" {
		t.Fatalf("the task after its child ended: %+v, run output %v", tk, w.Output)
	}
	if err := e.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
}

// scheduledGateStore holds the first write of run id whose SUB_WORKFLOW
// task "sub" is SCHEDULED until release is closed (the write is made; its
// caller waits): the task stays SCHEDULED, its child not started.
type scheduledGateStore struct {
	runstore.Store
	id      string
	once    sync.Once
	held    chan string // the task's id, once held
	release chan struct{}
}

func (s *scheduledGateStore) Commit(ctx context.Context, id string, ch *runstore.Change) error {
	if err := s.Store.Commit(ctx, id, ch); err != nil || id != s.id {
		return err
	}
	doc, _, err := s.Store.Load(ctx, id)
	if err != nil {
		return nil
	}
	var d struct {
		Tasks []struct {
			TaskID string `json:"taskId"`
			Ref    string `json:"referenceTaskName"`
			Status string `json:"status"`
		} `json:"tasks"`
	}
	_ = json.Unmarshal(doc, &d)
	for _, tk := range d.Tasks {
		if tk.Ref == "sub" && tk.Status == engine.TaskScheduled {
			hold := false
			s.once.Do(func() { hold = true })
			if hold {
				s.held <- tk.TaskID
				<-s.release
			}
		}
	}
	return nil
}

// TestSubWorkflowTaskUpdatedWhileScheduled: an update of a SUB_WORKFLOW
// task still SCHEDULED (its child not started yet) means its child is
// never started, as in Conductor (updateTask moves the task past
// SCHEDULED, and SubWorkflow.start runs for a SCHEDULED task only; its
// execute finds no child on it and leaves it IN_PROGRESS): IN_PROGRESS
// leaves it IN_PROGRESS without a child, waiting for a final update;
// COMPLETED ends it. No child run is stored.
func TestSubWorkflowTaskUpdatedWhileScheduled(t *testing.T) {
	for _, status := range []string{engine.TaskInProgress, engine.TaskCompleted} {
		t.Run(status, func(t *testing.T) {
			runID := "5b0d7a4e-0000-4000-8000-0000000002" + map[string]string{engine.TaskInProgress: "03", engine.TaskCompleted: "04"}[status]
			gate := &scheduledGateStore{Store: runstore.NewMemory(), id: runID, held: make(chan string, 1), release: make(chan struct{})}
			e := harnessEngine(t, gate)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			d, err := e.Parse([]byte(subUpdatedDef))
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
			var sub string
			select {
			case sub = <-gate.held:
			case <-ctx.Done():
				t.Fatal("the SUB_WORKFLOW task was never stored SCHEDULED")
			}
			_, err = e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: status, Output: json.RawMessage(`{"got":"early"}`)})
			close(gate.release)
			if err != nil {
				t.Fatal(err)
			}
			if status == engine.TaskInProgress {
				v := awaitRun(t, e, runID, func(v progressView) bool { return v.Tasks[0].Output["got"] == "early" })
				if tk := v.Tasks[0]; tk.Status != engine.TaskInProgress || tk.SubWorkflowID != "" {
					t.Fatalf("the task updated IN_PROGRESS while SCHEDULED: %+v, want IN_PROGRESS without a child", tk)
				}
				if _, err := e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: engine.TaskCompleted,
					Output: json.RawMessage(`{"got":"final"}`)}); err != nil {
					t.Fatal(err)
				}
			}
			res := <-done
			if res == nil || res.Status != engine.StatusCompleted {
				t.Fatalf("parent: %+v", res)
			}
			kids, err := gate.List(ctx, runstore.ListOptions{ParentID: runID})
			if err != nil {
				t.Fatal(err)
			}
			if len(kids) != 0 {
				t.Fatalf("%d child runs started (%s), want none", len(kids), kids[0].ID)
			}
			if err := e.WaitStarted(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// subTimeoutDef: subUpdatedDef's SUB_WORKFLOW task in a run that times
// out after 60 s.
const subTimeoutDef = `{"name":"sub_updated_timeout","version":1,"schemaVersion":2,"timeoutSeconds":60,"timeoutPolicy":"TIME_OUT_WF","tasks":[
 {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW",
  "subWorkflowParam":{"name":"held_child","workflowDefinition":{"name":"held_child","version":1,"schemaVersion":2,
   "tasks":[{"name":"hold","taskReferenceName":"hold","type":"HUMAN"}]}}}]}`

// TestSubWorkflowTaskInProgressParentTimedOut: a run that times out while
// its SUB_WORKFLOW task, updated IN_PROGRESS without a child, waits for a
// final update, terminates the task's former child: Conductor's
// SubWorkflow.cancel terminates, for a task that names no child, the
// child under the id the task derives.
func TestSubWorkflowTaskInProgressParentTimedOut(t *testing.T) {
	clock := engine.NewManualClock(time.Now())
	e := harnessEngine(t, nil, engine.WithClock(clock))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runID := "5b0d7a4e-0000-4000-8000-000000000205"
	d, err := e.Parse([]byte(subTimeoutDef))
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
	if _, err := e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: engine.TaskInProgress,
		Output: json.RawMessage(`{"progress":1}`)}); err != nil {
		t.Fatal(err)
	}
	awaitRun(t, e, runID, func(v progressView) bool { return v.Tasks[0].Output["progress"] == 1.0 })
	clock.Advance(61 * time.Second)
	if res := <-done; res == nil || res.Status != engine.StatusTimedOut {
		t.Fatalf("parent: %+v, want TIMED_OUT", res)
	}
	c := awaitRun(t, e, child, func(c progressView) bool { return c.Status != engine.StatusRunning })
	if c.Status != engine.StatusTerminated {
		t.Fatalf("the former child is %s, want TERMINATED", c.Status)
	}
	var reason struct {
		Reason string `json:"reasonForIncompletion"`
	}
	b, _ := e.Show(ctx, child)
	_ = json.Unmarshal(b, &reason)
	if !strings.HasPrefix(reason.Reason, "Parent workflow has been terminated with reason: ") {
		t.Errorf("the former child's reason %q", reason.Reason)
	}
	if err := e.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
}

// signalGateStore hands run id no signals while closed is set.
type signalGateStore struct {
	runstore.Store
	id     string
	mu     sync.Mutex
	closed bool
}

func (s *signalGateStore) setClosed(c bool) {
	s.mu.Lock()
	s.closed = c
	s.mu.Unlock()
}

func (s *signalGateStore) TakeSignals(ctx context.Context, id string) (map[string][]byte, error) {
	s.mu.Lock()
	closed := s.closed && id == s.id
	s.mu.Unlock()
	if closed {
		return nil, nil
	}
	return s.Store.TakeSignals(ctx, id)
}

// TestSubWorkflowFinalUpdateNotReplaced: updates of a SUB_WORKFLOW task
// all stored before the run takes any are applied in the order they came,
// as Conductor's updateTask applies each as it comes: a final update
// followed by another update (IN_PROGRESS, or final) ends the task as the
// first final one says (the later ones find it ended); an update
// IN_PROGRESS followed by a final one ends it as the final one says. By
// id or by reference alike.
func TestSubWorkflowFinalUpdateNotReplaced(t *testing.T) {
	type update struct {
		status, got string
		byRef       bool
	}
	for i, tc := range []struct {
		name    string
		updates []update
		want    string // the run's status
		got     string // its output's got
	}{
		{"final then IN_PROGRESS", []update{{engine.TaskCompleted, "final", false}, {engine.TaskInProgress, "later", false}}, engine.StatusCompleted, "final"},
		{"final then final", []update{{engine.TaskCompleted, "final", false}, {engine.TaskFailedTerminal, "later", false}}, engine.StatusCompleted, "final"},
		{"final then final by reference", []update{{engine.TaskCompleted, "final", true}, {engine.TaskFailedTerminal, "later", true}}, engine.StatusCompleted, "final"},
		{"IN_PROGRESS then final", []update{{engine.TaskInProgress, "progress", false}, {engine.TaskCompleted, "final", false}}, engine.StatusCompleted, "final"},
		{"final by reference then final by id", []update{{engine.TaskFailedTerminal, "first", true}, {engine.TaskCompleted, "final", false}}, engine.StatusFailed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			runID := fmt.Sprintf("5b0d7a4e-0000-4000-8000-0000000003%02d", i)
			gate := &signalGateStore{Store: runstore.NewMemory(), id: runID}
			e := harnessEngine(t, gate)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			sub, child, done := startHeldSub(t, e, ctx, runID)
			gate.setClosed(true)
			for _, u := range tc.updates {
				out := json.RawMessage(`{"got":"` + u.got + `"}`)
				var err error
				if u.byRef {
					_, err = e.CompleteTask(ctx, runID, "sub", u.status, out)
				} else {
					_, err = e.CompleteTaskWith(ctx, runID, engine.Completion{TaskID: sub, Status: u.status, Output: out})
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			gate.setClosed(false)
			if res := <-done; res == nil || res.Status != tc.want {
				t.Fatalf("parent: %+v, want %s", res, tc.want)
			}
			if v := viewRun(t, e, runID); tc.got != "" && v.Output["got"] != tc.got {
				t.Fatalf("parent output %v, want got %q", v.Output, tc.got)
			}
			if _, err := e.CompleteTask(ctx, child, "hold", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
				t.Fatal(err)
			}
			if err := e.WaitStarted(ctx); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestSubWorkflowTaskUpdatesByRefKeepOutput: updates by reference put the
// body over the task's output, as Conductor's TaskResult built from the
// pending task does (putAll over its outputData): an update IN_PROGRESS
// by reference, then a COMPLETED one, leave the members of both and the
// child's id.
func TestSubWorkflowTaskUpdatesByRefKeepOutput(t *testing.T) {
	e := harnessEngine(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runID := "5b0d7a4e-0000-4000-8000-000000000208"
	_, child, done := startHeldSub(t, e, ctx, runID)
	if _, err := e.CompleteTask(ctx, runID, "sub", engine.TaskInProgress, json.RawMessage(`{"a":1,"b":"first"}`)); err != nil {
		t.Fatal(err)
	}
	awaitRun(t, e, runID, func(v progressView) bool { return v.Tasks[0].Output["a"] == 1.0 })
	if _, err := e.CompleteTask(ctx, runID, "sub", engine.TaskCompleted, json.RawMessage(`{"b":"second"}`)); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("parent: %+v", res)
	}
	if out := viewRun(t, e, runID).Tasks[0].Output; out["a"] != 1.0 || out["b"] != "second" || out["subWorkflowId"] != child {
		t.Fatalf("the task's output %v, want a 1, b second and subWorkflowId %s", out, child)
	}
	if _, err := e.CompleteTask(ctx, child, "hold", engine.TaskCompleted, json.RawMessage(`{}`)); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitStarted(ctx); err != nil {
		t.Fatal(err)
	}
}
