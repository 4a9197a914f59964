package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// The SubWorkflowRetrySpec, SubWorkflowRestartSpec and SubWorkflowRerunSpec
// setup: a 3-level run (integration_test_wf_with_sub_wf, itself as the
// mid level, integration_test_wf as the leaf; the definitions unmodified)
// whose leaf's integration_task_2 (retryCount 0, as the spec's
// updateTaskDef sets it) fails, so all three end FAILED. Then one of them
// is retried, restarted or rerun. The spec looks at the runs while the
// leaf's task waits for its worker and once it completed: here the second
// call of integration_task_2 blocks until the test has looked.
type threeLevel struct {
	e               *engine.Engine
	root, mid, leaf string
	entered         chan struct{}
	release         chan struct{}
}

const threeLevelInput = `{"param1":"p1 value","param2":"p2 value","subwf":"integration_test_wf_with_sub_wf","nextSubwf":"integration_test_wf"}`

func newThreeLevel(t *testing.T) *threeLevel {
	t.Helper()
	s := newThreeLevelOf(t, "workflow_with_sub_workflow_1_integration_test.json", threeLevelInput, 0)
	root := s.expect(t, s.root, engine.StatusFailed, "integration_task_1:COMPLETED", "SUB_WORKFLOW:FAILED")
	s.mid = root.Tasks[1].SubWorkflowID
	mid := s.expect(t, s.mid, engine.StatusFailed, "integration_task_1:COMPLETED", "SUB_WORKFLOW:FAILED")
	s.leaf = mid.Tasks[1].SubWorkflowID
	s.expect(t, s.leaf, engine.StatusFailed, "integration_task_1:COMPLETED", "integration_task_2:FAILED")
	return s
}

// newThreeLevelOf runs file (root and mid level) with input until the
// leaf fails. The leaf is integration_test_wf: its integration_task_2
// (input tp1…) fails the first time, once branches other
// integration_task_2 records (the FORK branches of the upper levels) have
// completed, as in the spec; later calls of the leaf's task block until
// the test has looked (run).
func newThreeLevelOf(t *testing.T, file, input string, branches int, opts ...engine.Option) *threeLevel {
	t.Helper()
	s := &threeLevel{entered: make(chan struct{}, 1), release: make(chan struct{})}
	var mu sync.Mutex
	calls := 0
	zero, rto := 0, int64(120)
	defs := harnessTaskDefs(t)
	if err := defs.Put(&engine.TaskDef{Name: "integration_task_2", Description: "integration_task_2", OwnerEmail: "test@harness.com",
		RetryCount: &zero, TimeoutSeconds: 120, ResponseTimeoutSeconds: &rto}); err != nil {
		t.Fatal(err)
	}
	leaf := func(ctx context.Context, in json.RawMessage) (json.RawMessage, error) {
		var v map[string]any
		_ = json.Unmarshal(in, &v)
		if _, leaf := v["tp1"]; !leaf {
			return json.RawMessage(`{"op":"task2.done"}`), nil
		}
		mu.Lock()
		calls++
		n := calls
		mu.Unlock()
		if n == 1 {
			if err := s.waitBranches(ctx, branches); err != nil {
				return nil, err
			}
			return nil, errors.New("failed")
		}
		s.entered <- struct{}{}
		select {
		case <-s.release:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return json.RawMessage(`{"op":"task2.done"}`), nil
	}
	// opts come last: they may replace integration_task_1's worker.
	s.e = harnessEngine(t, nil, append([]engine.Option{engine.WithTaskDefs(defs),
		engine.WithWorker("integration_task_1", echoWorker(`{"op":"task1.done"}`)),
		engine.WithWorker("integration_task_2", leaf)}, opts...)...)
	d := harnessDef(t, s.e, file)
	res := startRun(t, s.e, d, input, engine.WithCorrelationID("retry_on_root_in_3level_wf"))
	s.root = res.RunID
	return s
}

// waitBranches waits until n branch tasks of the upper levels
// (integration_task_2 outside the leaf, integration_task_10) are stored
// COMPLETED.
func (s *threeLevel) waitBranches(ctx context.Context, n int) error {
	for n > 0 {
		sums, err := s.e.List(ctx, runstore.ListOptions{})
		if err != nil {
			return err
		}
		got := 0
		for _, sum := range sums {
			b, err := s.e.Show(ctx, sum.ID)
			if err != nil {
				return err
			}
			var v runView
			_ = json.Unmarshal(b, &v)
			for _, tk := range v.Tasks {
				branch := tk.TaskType == "integration_task_10" || (tk.TaskType == "integration_task_2" && tk.Input["p1"] != nil)
				if branch && tk.Status == engine.TaskCompleted {
					got++
				}
			}
		}
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// expect checks a run's status and task list and returns its view.
func (s *threeLevel) expect(t *testing.T, id, status string, tasks ...string) runView {
	t.Helper()
	wf := viewRun(t, s.e, id)
	if wf.Status != status {
		t.Fatalf("run %s is %s (%q), want %s", wf.WorkflowID, wf.Status, wf.Reason, status)
	}
	checkTasks(t, wf.Tasks, tasks...)
	return wf
}

// expectRunning checks a run whose last task waits for its worker: the
// engine writes a SCHEDULED or IN_PROGRESS record with the next write, so
// the stored run has that record, or not yet.
func (s *threeLevel) expectRunning(t *testing.T, id string, tasks ...string) runView {
	t.Helper()
	wf := viewRun(t, s.e, id)
	if wf.Status != running {
		t.Fatalf("run %s is %s (%q), want RUNNING", id, wf.Status, wf.Reason)
	}
	if n := len(tasks) - 1; len(wf.Tasks) == n {
		checkTasks(t, wf.Tasks, tasks[:n]...)
		return wf
	}
	last := &wf.Tasks[len(wf.Tasks)-1]
	if last.Status == engine.TaskScheduled {
		last.Status = engine.TaskInProgress
	}
	checkTasks(t, wf.Tasks, tasks...)
	return wf
}

// run executes op; during runs while the leaf's integration_task_2 waits
// for its worker, after once op returned.
func (s *threeLevel) run(t *testing.T, op func(context.Context) (*engine.Result, error), during, after func(*testing.T)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := op(ctx)
		done <- err
	}()
	select {
	case <-s.entered:
	case err := <-done:
		t.Fatalf("ended before the leaf's task ran again: %v", err)
	case <-ctx.Done():
		t.Fatal("the leaf's task never ran again")
	}
	during(t)
	close(s.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	after(t)
}

// retried checks that task i of wf is a new attempt of task i-1.
func retried(t *testing.T, wf runView, i int) {
	t.Helper()
	retriedOf(t, wf, i, i-1)
}

// retriedOf checks that task i of wf is a new attempt of task of.
func retriedOf(t *testing.T, wf runView, i, of int) {
	t.Helper()
	if wf.Tasks[i].RetriedTaskID != wf.Tasks[of].TaskID || wf.Tasks[i].RetryCount != wf.Tasks[of].RetryCount+1 {
		t.Fatalf("task %d of %s: retriedTaskId %q retryCount %d, want %q and %d", i, wf.WorkflowID,
			wf.Tasks[i].RetriedTaskID, wf.Tasks[i].RetryCount, wf.Tasks[of].TaskID, wf.Tasks[of].RetryCount+1)
	}
}

const (
	t1Done  = "integration_task_1:COMPLETED"
	t2Done  = "integration_task_2:COMPLETED"
	t2Runs  = "integration_task_2:IN_PROGRESS"
	t2Fail  = "integration_task_2:FAILED"
	swDone  = "SUB_WORKFLOW:COMPLETED"
	swRuns  = "SUB_WORKFLOW:IN_PROGRESS"
	swFail  = "SUB_WORKFLOW:FAILED"
	running = engine.StatusRunning
	done    = engine.StatusCompleted
)

// retryLeafChecks: the leaf's failed task is retried in the leaf; the mid
// level and root SUB_WORKFLOW tasks (the same records, the same children)
// are IN_PROGRESS again, and all three complete.
func retryLeafChecks(s *threeLevel) (during, after func(*testing.T)) {
	return func(t *testing.T) {
			if leaf := s.expectRunning(t, s.leaf, t1Done, t2Fail, t2Runs); len(leaf.Tasks) == 3 {
				retried(t, leaf, 2)
			}
			s.sameChild(t, s.mid, running, swRuns, s.leaf)
			s.sameChild(t, s.root, running, swRuns, s.mid)
		}, func(t *testing.T) {
			retried(t, s.expect(t, s.leaf, done, t1Done, t2Fail, t2Done), 2)
			s.sameChild(t, s.mid, done, swDone, s.leaf)
			s.sameChild(t, s.root, done, swDone, s.mid)
		}
}

// sameChild: the run's tasks are integration_task_1 and its SUB_WORKFLOW
// record (in state sw), whose child is still child.
func (s *threeLevel) sameChild(t *testing.T, id, status, sw, child string) runView {
	t.Helper()
	wf := s.expect(t, id, status, t1Done, sw)
	if wf.Tasks[1].SubWorkflowID != child || wf.Reason != "" {
		t.Fatalf("run %s: SUB_WORKFLOW child %s (want %s), reason %q", id, wf.Tasks[1].SubWorkflowID, child, wf.Reason)
	}
	return wf
}

// newChild: the run's task i is a SUB_WORKFLOW with a child other than
// old; it returns the new child.
func newChild(t *testing.T, wf runView, i int, old string) string {
	t.Helper()
	c := wf.Tasks[i].SubWorkflowID
	if c == "" || c == old {
		t.Fatalf("run %s task %d: child %q, want a new one (old %s)", wf.WorkflowID, i, c, old)
	}
	return c
}

// TestConductorSubWorkflowRetrySpec: SubWorkflowRetrySpec, every case.
func TestConductorSubWorkflowRetrySpec(t *testing.T) {
	for _, tc := range []struct {
		name   string
		target func(*threeLevel) string
		resume bool
	}{
		{"retry on the leaf", func(s *threeLevel) string { return s.leaf }, false},
		{"retry on the leaf with resume flag", func(s *threeLevel) string { return s.leaf }, true},
		{"retry on the mid-level with resume flag", func(s *threeLevel) string { return s.mid }, true},
		{"retry on the root with resume flag", func(s *threeLevel) string { return s.root }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newThreeLevel(t)
			during, after := retryLeafChecks(s)
			s.run(t, func(ctx context.Context) (*engine.Result, error) { return s.e.Retry(ctx, tc.target(s), tc.resume) }, during, after)
		})
	}
	t.Run("retry on the mid-level", func(t *testing.T) {
		// The mid level retries its SUB_WORKFLOW task: a new record and a
		// new leaf; the root's task keeps the mid level.
		s := newThreeLevel(t)
		var leaf2 string
		s.run(t, func(ctx context.Context) (*engine.Result, error) { return s.e.Retry(ctx, s.mid, false) },
			func(t *testing.T) {
				mid := s.expect(t, s.mid, running, t1Done, swFail, swRuns)
				retried(t, mid, 2)
				leaf2 = newChild(t, mid, 2, s.leaf)
				s.expectRunning(t, leaf2, t1Done, t2Runs)
				s.sameChild(t, s.root, running, swRuns, s.mid)
			}, func(t *testing.T) {
				s.expect(t, leaf2, done, t1Done, t2Done)
				retried(t, s.expect(t, s.mid, done, t1Done, swFail, swDone), 2)
				s.sameChild(t, s.root, done, swDone, s.mid)
				s.expect(t, s.leaf, engine.StatusFailed, t1Done, t2Fail)
			})
	})
	t.Run("retry on the root", func(t *testing.T) {
		// The root retries its SUB_WORKFLOW task: a new mid level, which
		// starts a new leaf.
		s := newThreeLevel(t)
		var mid2, leaf2 string
		s.run(t, func(ctx context.Context) (*engine.Result, error) { return s.e.Retry(ctx, s.root, false) },
			func(t *testing.T) {
				root := s.expect(t, s.root, running, t1Done, swFail, swRuns)
				retried(t, root, 2)
				mid2 = newChild(t, root, 2, s.mid)
				leaf2 = newChild(t, s.expect(t, mid2, running, t1Done, swRuns), 1, s.leaf)
				s.expectRunning(t, leaf2, t1Done, t2Runs)
			}, func(t *testing.T) {
				s.expect(t, leaf2, done, t1Done, t2Done)
				s.sameChild(t, mid2, done, swDone, leaf2)
				retried(t, s.expect(t, s.root, done, t1Done, swFail, swDone), 2)
				s.expect(t, s.mid, engine.StatusFailed, t1Done, swFail)
			})
	})
}

// TestConductorSubWorkflowRestartSpec: SubWorkflowRestartSpec, every case.
// A restarted child runs from the start and re-opens its parents; a
// restarted root starts new children.
func TestConductorSubWorkflowRestartSpec(t *testing.T) {
	t.Run("restart on the root", func(t *testing.T) {
		s := newThreeLevel(t)
		var mid2, leaf2 string
		s.run(t, func(ctx context.Context) (*engine.Result, error) { return s.e.Restart(ctx, s.root, true) },
			func(t *testing.T) {
				mid2 = newChild(t, s.expect(t, s.root, running, t1Done, swRuns), 1, s.mid)
				leaf2 = newChild(t, s.expect(t, mid2, running, t1Done, swRuns), 1, s.leaf)
				s.expectRunning(t, leaf2, t1Done, t2Runs)
			}, func(t *testing.T) {
				s.expect(t, leaf2, done, t1Done, t2Done)
				s.sameChild(t, mid2, done, swDone, leaf2)
				s.sameChild(t, s.root, done, swDone, mid2)
			})
	})
	t.Run("restart on the mid-level", func(t *testing.T) {
		s := newThreeLevel(t)
		var leaf2 string
		s.run(t, func(ctx context.Context) (*engine.Result, error) { return s.e.Restart(ctx, s.mid, true) },
			func(t *testing.T) {
				leaf2 = newChild(t, s.expect(t, s.mid, running, t1Done, swRuns), 1, s.leaf)
				s.expectRunning(t, leaf2, t1Done, t2Runs)
				s.sameChild(t, s.root, running, swRuns, s.mid)
			}, func(t *testing.T) {
				s.expect(t, leaf2, done, t1Done, t2Done)
				s.sameChild(t, s.mid, done, swDone, leaf2)
				s.sameChild(t, s.root, done, swDone, s.mid)
			})
	})
	t.Run("restart on the leaf", func(t *testing.T) {
		s := newThreeLevel(t)
		s.run(t, func(ctx context.Context) (*engine.Result, error) { return s.e.Restart(ctx, s.leaf, true) },
			func(t *testing.T) {
				s.expectRunning(t, s.leaf, t1Done, t2Runs)
				s.sameChild(t, s.mid, running, swRuns, s.leaf)
				s.sameChild(t, s.root, running, swRuns, s.mid)
			}, func(t *testing.T) {
				s.expect(t, s.leaf, done, t1Done, t2Done)
				s.sameChild(t, s.mid, done, swDone, s.leaf)
				s.sameChild(t, s.root, done, swDone, s.mid)
			})
	})
}

// TestConductorSubWorkflowRerunSpec: SubWorkflowRerunSpec, every case. A
// rerun of the root (from the start or from its first task) starts new
// children; a rerun of a child re-opens its parents.
func TestConductorSubWorkflowRerunSpec(t *testing.T) {
	firstTask := func(t *testing.T, s *threeLevel, id string) string { return viewRun(t, s.e, id).Tasks[0].TaskID }
	for _, tc := range []struct {
		name     string
		level    func(*threeLevel) string
		fromTask bool
	}{
		{"rerun on the root-level", func(s *threeLevel) string { return s.root }, false},
		{"rerun on the root-level with taskId", func(s *threeLevel) string { return s.root }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newThreeLevel(t)
			o := engine.RerunOptions{}
			if tc.fromTask {
				o.FromTaskID = firstTask(t, s, s.root)
			}
			var mid2, leaf2 string
			s.run(t, func(ctx context.Context) (*engine.Result, error) { return s.e.RerunWith(ctx, tc.level(s), o) },
				func(t *testing.T) {
					root := s.expect(t, s.root, running, t1Done, swRuns)
					if tc.fromTask && root.Tasks[0].TaskID != o.FromTaskID {
						t.Fatalf("the task rerun from has id %s, want %s", root.Tasks[0].TaskID, o.FromTaskID)
					}
					mid2 = newChild(t, root, 1, s.mid)
					leaf2 = newChild(t, s.expect(t, mid2, running, t1Done, swRuns), 1, s.leaf)
					s.expectRunning(t, leaf2, t1Done, t2Runs)
				}, func(t *testing.T) {
					s.expect(t, leaf2, done, t1Done, t2Done)
					s.sameChild(t, mid2, done, swDone, leaf2)
					s.sameChild(t, s.root, done, swDone, mid2)
				})
		})
	}
	for _, tc := range []struct {
		name     string
		fromTask bool
	}{{"rerun on the mid-level", false}, {"rerun on the mid-level with taskId", true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newThreeLevel(t)
			o := engine.RerunOptions{}
			if tc.fromTask {
				o.FromTaskID = firstTask(t, s, s.mid)
			}
			var leaf2 string
			s.run(t, func(ctx context.Context) (*engine.Result, error) { return s.e.RerunWith(ctx, s.mid, o) },
				func(t *testing.T) {
					leaf2 = newChild(t, s.expect(t, s.mid, running, t1Done, swRuns), 1, s.leaf)
					s.expectRunning(t, leaf2, t1Done, t2Runs)
					s.sameChild(t, s.root, running, swRuns, s.mid)
				}, func(t *testing.T) {
					s.expect(t, leaf2, done, t1Done, t2Done)
					s.sameChild(t, s.mid, done, swDone, leaf2)
					s.sameChild(t, s.root, done, swDone, s.mid)
				})
		})
	}
	for _, tc := range []struct {
		name     string
		fromTask bool
		// via: the rerun names the root's id and the leaf's task (Conductor
		// looks for the task down the root's children).
		via bool
	}{{"rerun on the leaf-level", false, false}, {"rerun on the leaf-level with taskId", true, false},
		{"rerun from a leaf task named to the root", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newThreeLevel(t)
			o := engine.RerunOptions{}
			if tc.fromTask {
				o.FromTaskID = firstTask(t, s, s.leaf)
			}
			id := s.leaf
			if tc.via {
				id = s.root
			}
			s.run(t, func(ctx context.Context) (*engine.Result, error) { return s.e.RerunWith(ctx, id, o) },
				func(t *testing.T) {
					leaf := s.expectRunning(t, s.leaf, t1Done, t2Runs)
					if tc.fromTask && leaf.Tasks[0].TaskID != o.FromTaskID {
						t.Fatalf("the task rerun from has id %s, want %s", leaf.Tasks[0].TaskID, o.FromTaskID)
					}
					s.sameChild(t, s.mid, running, swRuns, s.leaf)
					s.sameChild(t, s.root, running, swRuns, s.mid)
				}, func(t *testing.T) {
					s.expect(t, s.leaf, done, t1Done, t2Done)
					s.sameChild(t, s.mid, done, swDone, s.leaf)
					s.sameChild(t, s.root, done, swDone, s.mid)
				})
		})
	}
}

// A rerun that names the root and a task of its leaf (rerunWF looks for
// the task down the root's children) gives its workflowInput and
// correlationId to the root, not to the child that reruns.
func TestRerunThroughChildrenReplacesTheRootsInput(t *testing.T) {
	s := newThreeLevel(t)
	leafTask := viewRun(t, s.e, s.leaf).Tasks[0].TaskID
	in := `{"param1":"p1 value","param2":"p2 value","subwf":"integration_test_wf_with_sub_wf","nextSubwf":"integration_test_wf","extra":1}`
	o := engine.RerunOptions{FromTaskID: leafTask, WorkflowInput: json.RawMessage(in), CorrelationID: "rerun-corr"}
	s.run(t, func(ctx context.Context) (*engine.Result, error) { return s.e.RerunWith(ctx, s.root, o) },
		func(t *testing.T) {}, func(t *testing.T) {
			root := s.sameChild(t, s.root, done, swDone, s.mid)
			if root.Input["extra"] != 1.0 || root.CorrelationID != "rerun-corr" {
				t.Fatalf("root input %v, correlationId %q", root.Input, root.CorrelationID)
			}
			for _, id := range []string{s.mid, s.leaf} {
				if c := viewRun(t, s.e, id); c.Input["extra"] != nil || c.CorrelationID != "retry_on_root_in_3level_wf" {
					t.Fatalf("child %s input %v, correlationId %q", id, c.Input, c.CorrelationID)
				}
			}
		})
}

// SubWorkflowSpec "Test retrying a subworkflow where parent workflow timed
// out due to workflowTimeout" to its end: the parent (TIME_OUT_WF, 10s, as
// the spec sets them) timed out while the child's task waited; the child
// was TERMINATED. Retrying the child retries its cancelled task and
// re-opens the parent (its SUB_WORKFLOW task IN_PROGRESS again, its
// timeout counted from the retry); the child completes and so does the
// parent, with the child's output.
func TestConductorRetrySubWorkflowAfterParentTimeout(t *testing.T) {
	b, err := os.ReadFile(conductorDir + "/workflow_with_sub_workflow_1_integration_test.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["timeoutPolicy"], m["timeoutSeconds"] = "TIME_OUT_WF", 10
	b, _ = json.Marshal(m)
	clock := engine.NewManualClock(time.Now())
	polled := make(chan struct{}, 1)
	var mu sync.Mutex
	calls := 0
	e := harnessEngine(t, nil, engine.WithClock(clock),
		engine.WithWorker("integration_task_1", echoWorker(`{"op":"task1.done"}`)),
		engine.WithWorker("simple_task_in_sub_wf", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			mu.Lock()
			calls++
			n := calls
			mu.Unlock()
			if n == 1 {
				polled <- struct{}{}
				<-ctx.Done()
				return nil, ctx.Err()
			}
			return json.RawMessage(`{"op":"simple_task_in_sub_wf.done"}`), nil
		}))
	d, err := e.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(ctx, d, json.RawMessage(`{"param1":"p1 value","param2":"p2 value","subwf":"sub_workflow"}`))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	<-polled
	if err := clock.WaitForWaiters(ctx, 2); err != nil {
		t.Fatal(err)
	}
	clock.Advance(11 * time.Second)
	res := <-done
	if res == nil {
		t.FailNow()
	}
	parent := viewRun(t, e, res.RunID)
	checkTasks(t, parent.Tasks, "integration_task_1:COMPLETED", "SUB_WORKFLOW:CANCELED")
	child := parent.Tasks[1].SubWorkflowID
	if parent.Status != engine.StatusTimedOut || viewRun(t, e, child).Status != engine.StatusTerminated {
		t.Fatalf("parent %s, child %s", parent.Status, viewRun(t, e, child).Status)
	}
	if r, err := e.Retry(ctx, child, false); err != nil || r.Status != engine.StatusCompleted {
		t.Fatalf("retry of the child: %v %+v", err, r)
	}
	c := viewRun(t, e, child)
	checkTasks(t, c.Tasks, "simple_task_in_sub_wf:CANCELED", "simple_task_in_sub_wf:COMPLETED")
	if c.Status != engine.StatusCompleted {
		t.Fatalf("child %s", c.Status)
	}
	parent = viewRun(t, e, res.RunID)
	checkTasks(t, parent.Tasks, "integration_task_1:COMPLETED", "SUB_WORKFLOW:COMPLETED")
	if parent.Status != engine.StatusCompleted || parent.Tasks[1].SubWorkflowID != child || parent.Output["op"] != "simple_task_in_sub_wf.done" {
		t.Fatalf("parent %s %+v output %v", parent.Status, parent.Tasks, parent.Output)
	}
}

// SubWorkflowSpec "Test retrying a workflow with subworkflow resume": a
// two-level run whose child's integration_task_2 failed; the parent is
// retried with resumeSubworkflowTasks: the child retries its task, the
// parent's SUB_WORKFLOW task waits for it again (same record, same child),
// and both complete.
func TestConductorRetryWithSubWorkflowResume(t *testing.T) {
	s := newThreeLevelOf(t, "workflow_with_sub_workflow_1_integration_test.json", `{"param1":"p1 value","param2":"p2 value","subwf":"integration_test_wf"}`, 0)
	root := s.expect(t, s.root, engine.StatusFailed, t1Done, swFail)
	s.leaf = root.Tasks[1].SubWorkflowID
	s.expect(t, s.leaf, engine.StatusFailed, t1Done, t2Fail)
	s.run(t, func(ctx context.Context) (*engine.Result, error) { return s.e.Retry(ctx, s.root, true) },
		func(t *testing.T) {
			if leaf := s.expectRunning(t, s.leaf, t1Done, t2Fail, t2Runs); len(leaf.Tasks) == 3 {
				retried(t, leaf, 2)
			}
			s.sameChild(t, s.root, running, swRuns, s.leaf)
		}, func(t *testing.T) {
			retried(t, s.expect(t, s.leaf, done, t1Done, t2Fail, t2Done), 2)
			s.sameChild(t, s.root, done, swDone, s.leaf)
		})
}

// DynamicForkJoinSpec "Retry a failed dynamic fork join workflow with
// forked subworkflow": the dynamic fork runs a SUB_WORKFLOW
// (integration_test_wf3) and integration_task_10; the child's
// integration_task_2 (retryCount 0) fails, so the child, the SUB_WORKFLOW
// task and the run fail, the JOIN CANCELED. A retry with
// resumeSubworkflowTasks retries the child's task; the SUB_WORKFLOW task
// and the JOIN are IN_PROGRESS again (same records); the child completes
// (integration_task_3 after the retried task), then the JOIN and
// integration_task_4.
func TestConductorDynamicForkRetryWithForkedSubWorkflow(t *testing.T) {
	dynamic := `{"dynamicTasks":[{"name":"sub_wf_task","taskReferenceName":"xdt1","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"integration_test_wf3","version":1}},
	  {"name":"integration_task_10","taskReferenceName":"xdt10"}],"dynamicTasksInput":{"xdt1":{"p1":"q1","p2":"q2"},"xdt10":{"k2":"v2"}}}`
	s := newThreeLevelOf(t, "dynamic_fork_join_integration_test.json", `{"param1":"root"}`, 1,
		engine.WithWorker("integration_task_1", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			var v map[string]any
			_ = json.Unmarshal(in, &v)
			if v["p1"] == "root" {
				return json.RawMessage(dynamic), nil
			}
			return json.RawMessage(`{"op":"task1.done"}`), nil // the child's first task
		}),
		engine.WithWorker("integration_task_3", echoWorker(`{}`)), engine.WithWorker("integration_task_4", echoWorker(`{}`)),
		engine.WithWorker("integration_task_10", echoWorker(`{}`)))
	failed := s.expect(t, s.root, engine.StatusFailed, t1Done, forkDone, swFail, "integration_task_10:COMPLETED", "JOIN:CANCELED")
	s.leaf = failed.Tasks[2].SubWorkflowID
	s.expect(t, s.leaf, engine.StatusFailed, t1Done, t2Fail)
	join := failed.Tasks[4].TaskID
	parent := func(t *testing.T, status, sw, j string, more ...string) {
		t.Helper()
		wf := s.expect(t, s.root, status, append([]string{t1Done, forkDone, sw, "integration_task_10:COMPLETED", j}, more...)...)
		if wf.Tasks[2].SubWorkflowID != s.leaf || wf.Tasks[4].TaskID != join || wf.Tasks[4].Ref != "dynamicfanouttask_join" {
			t.Fatalf("records %+v", wf.Tasks)
		}
	}
	s.run(t, func(ctx context.Context) (*engine.Result, error) { return s.e.Retry(ctx, s.root, true) },
		func(t *testing.T) {
			if leaf := s.expectRunning(t, s.leaf, t1Done, t2Fail, t2Runs); len(leaf.Tasks) == 3 {
				retried(t, leaf, 2)
			}
			parent(t, running, swRuns, joinRuns)
		}, func(t *testing.T) {
			retried(t, s.expect(t, s.leaf, done, t1Done, t2Fail, t2Done, "integration_task_3:COMPLETED"), 2)
			parent(t, done, swDone, joinDone, "integration_task_4:COMPLETED")
		})
}
