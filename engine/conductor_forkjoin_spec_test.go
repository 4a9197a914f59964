package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// gatedWorker is a worker whose calls each wait for an answer from the
// test: calls tells the test a call started, and the call returns what
// the test sends on answers (an error fails the task).
type gatedWorker struct {
	calls   chan struct{}
	answers chan error
}

func newGatedWorker() *gatedWorker {
	return &gatedWorker{calls: make(chan struct{}, 8), answers: make(chan error)}
}

func (g *gatedWorker) work(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
	g.calls <- struct{}{}
	select {
	case err := <-g.answers:
		if err != nil {
			return nil, err
		}
		return json.RawMessage(`{}`), nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// called waits for n calls of the worker to have started.
func (g *gatedWorker) called(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-g.calls:
		case <-time.After(10 * time.Second):
			t.Fatal("the worker was not called")
		}
	}
}

// waitingOn checks a run that waits on its one worker task, of type name:
// RUNNING, the task not ended.
func waitingOn(t *testing.T, e *engine.Engine, id, name string) {
	t.Helper()
	wf := viewRun(t, e, id)
	if wf.Status != engine.StatusRunning || len(wf.Tasks) != 1 || wf.Tasks[0].TaskType != name ||
		(wf.Tasks[0].Status != "SCHEDULED" && wf.Tasks[0].Status != "IN_PROGRESS") {
		t.Fatalf("run %s: %s %+v", id, wf.Status, wf.Tasks)
	}
}

// ForkJoinSpec "Test fork join with sub workflows containing optional
// tasks" (integration_test_fork_join_optional_sw, unmodified): both
// branches are optional SUB_WORKFLOW tasks running sub_workflow, whose
// simple_task_in_sub_wf (no retries) fails in each child. The children
// FAIL; the SUB_WORKFLOW tasks, the JOIN and the run end
// COMPLETED_WITH_ERRORS, COMPLETED_WITH_ERRORS and COMPLETED. A rerun of
// the first child runs it again (RUNNING, its task waiting) while the
// parent, already COMPLETED, stays as it was.
func TestConductorForkJoinOptionalSubWorkflows(t *testing.T) {
	w := newGatedWorker()
	e := harnessEngine(t, nil, engine.WithWorker("simple_task_in_sub_wf", w.work))
	d := harnessDef(t, e, "fork_join_with_optional_sub_workflow_forks_integration_test.json")
	const id = "fork-optional-sw"
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(context.Background(), d, json.RawMessage(`{"param1":"p1 value","param2":"p2 value"}`), engine.WithRunID(id))
		if err != nil {
			t.Errorf("parent: %v", err)
		}
		done <- res
	}()
	w.called(t, 2)
	var running map[string]taskView
	waitFor(t, "both children to run", func() bool {
		running = byRef(viewRun(t, e, id).Tasks)
		return running["st1"].SubWorkflowID != "" && running["st2"].SubWorkflowID != "" && running["fanouttask_join"].TaskID != ""
	})
	wf := viewRun(t, e, id)
	if wf.Status != engine.StatusRunning {
		t.Fatalf("parent %s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "FORK:COMPLETED", "SUB_WORKFLOW:IN_PROGRESS", "SUB_WORKFLOW:IN_PROGRESS", "JOIN:IN_PROGRESS")
	joinOnIs("fanouttask_join", "st1", "st2")(t, e, wf)
	child1, child2 := running["st1"].SubWorkflowID, running["st2"].SubWorkflowID
	waitingOn(t, e, child1, "simple_task_in_sub_wf")
	waitingOn(t, e, child2, "simple_task_in_sub_wf")

	// Both children's tasks fail ("Failed....").
	w.answers <- errors.New("Failed....")
	w.answers <- errors.New("Failed....")
	if res := ended(t, done); res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("parent: %+v", res)
	}
	for _, c := range []string{child1, child2} {
		sub := viewRun(t, e, c)
		if sub.Status != engine.StatusFailed {
			t.Fatalf("child %s: %s %q", c, sub.Status, sub.Reason)
		}
		checkTasks(t, sub.Tasks, "simple_task_in_sub_wf:FAILED")
	}
	completedParent := []string{"FORK:COMPLETED", "SUB_WORKFLOW:COMPLETED_WITH_ERRORS", "SUB_WORKFLOW:COMPLETED_WITH_ERRORS",
		"JOIN:COMPLETED_WITH_ERRORS"}
	wf = viewRun(t, e, id)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("parent %s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, completedParent...)
	// Join's reason names the optional tasks that failed.
	if want := "st1/" + wf.Tasks[1].TaskID + " st2/" + wf.Tasks[2].TaskID + " completed with errors"; wf.Tasks[3].Reason != want {
		t.Fatalf("JOIN reason %q, want %q", wf.Tasks[3].Reason, want)
	}
	before := wf

	// A rerun of the first child: it runs again, the parent stays COMPLETED.
	rerun := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Rerun(context.Background(), child1, "")
		if err != nil {
			t.Errorf("rerun: %v", err)
		}
		rerun <- res
	}()
	w.called(t, 1)
	waitingOn(t, e, child1, "simple_task_in_sub_wf")
	wf = viewRun(t, e, id)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("parent after the child's rerun: %s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, completedParent...)
	if !reflect.DeepEqual(wf.Tasks, before.Tasks) {
		t.Fatalf("parent's records changed by the child's rerun:\n%+v\nwas\n%+v", wf.Tasks, before.Tasks)
	}
	w.answers <- nil
	if res := ended(t, rerun); res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("rerun child: %+v", res)
	}
}

// ForkJoinSpec "Test nested workflow which contains a sub workflow task"
// (FanInOutNestedSubWorkflowTest, unmodified): the nested fork of
// TestConductorNestedForkJoinSpec with a third branch, sw1, a SUB_WORKFLOW
// running integration_test_wf, joined on by the outer JOIN. Until the test
// has looked, the first tasks of the branches (t11, t12, t13) and the
// child's first task wait: the run holds the spec's first eight records.
// Then the workers answer in the spec's order (_13 once _14 was handed
// out); the records read as the spec's fourteen, the child completes with
// its two tasks and the run completes.
func TestConductorNestedForkJoinWithSubWorkflowSpec(t *testing.T) {
	for i := range 10 {
		looked := make(chan struct{})
		t14 := make(chan struct{})
		var once sync.Once
		calls := make(chan string, 8)
		ok := func(context.Context, json.RawMessage) (json.RawMessage, error) { return json.RawMessage(`{}`), nil }
		held := func(name string, after chan struct{}) engine.WorkerFunc {
			return func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
				calls <- name
				for _, c := range []chan struct{}{looked, after} {
					if c == nil {
						continue
					}
					select {
					case <-c:
					case <-ctx.Done():
						return nil, ctx.Err()
					}
				}
				return json.RawMessage(`{}`), nil
			}
		}
		opts := []engine.Option{
			engine.WithWorker("integration_task_14", func(context.Context, json.RawMessage) (json.RawMessage, error) {
				once.Do(func() { close(t14) })
				return json.RawMessage(`{}`), nil
			}),
			engine.WithWorker("integration_task_11", held("t11", nil)),
			engine.WithWorker("integration_task_12", held("t12", nil)),
			engine.WithWorker("integration_task_13", held("t13", t14)),
			engine.WithWorker("integration_task_1", held("sw1 t1", nil)),
		}
		for _, n := range []string{"integration_task_2", "integration_task_15", "integration_task_16", "integration_task_19", "integration_task_20"} {
			opts = append(opts, engine.WithWorker(n, ok))
		}
		e := harnessEngine(t, nil, opts...)
		d := harnessDef(t, e, "nested_fork_join_with_sub_workflow_integration_test.json")
		id := fmt.Sprintf("nested-sw-%d", i)
		done := make(chan *engine.Result, 1)
		go func() {
			res, err := e.Start(context.Background(), d, json.RawMessage(`{"case":"a"}`), engine.WithRunID(id),
				engine.WithCorrelationID("fork_join_nested_test"))
			if err != nil {
				t.Errorf("start: %v", err)
			}
			done <- res
		}()
		for range 4 {
			select {
			case <-calls:
			case <-time.After(10 * time.Second):
				t.Fatal("the branches' first tasks were not all called")
			}
		}
		var wf runView
		waitFor(t, "the first pass's records", func() bool {
			wf = viewRun(t, e, id)
			return len(wf.Tasks) == 8 && wf.Tasks[6].SubWorkflowID != ""
		})
		var got []string
		for _, tk := range wf.Tasks {
			st := tk.Status
			if st == "IN_PROGRESS" && tk.TaskType != "JOIN" && tk.TaskType != "SUB_WORKFLOW" {
				st = "SCHEDULED" // handed to its worker: polled, in Conductor's words
			}
			got = append(got, tk.TaskType+":"+st)
		}
		want := []string{"FORK:COMPLETED", "integration_task_11:SCHEDULED", "FORK:COMPLETED", "integration_task_12:SCHEDULED",
			"integration_task_13:SCHEDULED", "JOIN:IN_PROGRESS", "SUB_WORKFLOW:IN_PROGRESS", "JOIN:IN_PROGRESS"}
		if wf.Status != engine.StatusRunning || !reflect.DeepEqual(got, want) {
			t.Fatalf("run %d: %s %v, want %v", i, wf.Status, got, want)
		}
		joinOnIs("join2", "t14", "t20")(t, e, wf)
		joinOnIs("join1", "t11", "join2", "sw1")(t, e, wf)
		child := wf.Tasks[6].SubWorkflowID
		waitingOn(t, e, child, "integration_task_1")
		close(looked)

		if res := ended(t, done); res == nil || res.Status != engine.StatusCompleted {
			t.Fatalf("run %d: %+v", i, res)
		}
		wf = viewRun(t, e, id)
		checkTasks(t, wf.Tasks, "FORK:COMPLETED", "integration_task_11:COMPLETED", "FORK:COMPLETED",
			"integration_task_12:COMPLETED", "integration_task_13:COMPLETED", "JOIN:COMPLETED", "SUB_WORKFLOW:COMPLETED", "JOIN:COMPLETED",
			"integration_task_14:COMPLETED", "DECISION:COMPLETED", "integration_task_16:COMPLETED",
			"integration_task_19:COMPLETED", "integration_task_20:COMPLETED", "integration_task_15:COMPLETED")
		joinOnIs("join2", "t14", "t20")(t, e, wf)
		joinOnIs("join1", "t11", "join2", "sw1")(t, e, wf)
		if wf.Tasks[6].SubWorkflowID != child {
			t.Fatalf("sw1's child %s, was %s", wf.Tasks[6].SubWorkflowID, child)
		}
		sub := viewRun(t, e, child)
		if sub.Status != engine.StatusCompleted {
			t.Fatalf("child %s %q", sub.Status, sub.Reason)
		}
		checkTasks(t, sub.Tasks, "integration_task_1:COMPLETED", "integration_task_2:COMPLETED")
	}
}
