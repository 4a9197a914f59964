package engine_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// NestedForkJoinSubWorkflowSpec: nested_fork_join_swf (unmodified), a FORK
// whose first branch is a FORK of a SUB_WORKFLOW (integration_test_wf) and
// integration_task_2 with its JOIN, the second integration_task_2, then the
// outer JOIN. The child's integration_task_2 fails after both branch tasks
// completed: the child and the parent end FAILED, both JOINs CANCELED.

func newNested(t *testing.T) *threeLevel {
	t.Helper()
	s := newThreeLevelOf(t, "nested_fork_join_swf.json", `{"param1":"p1 value","param2":"p2 value","subwf":"integration_test_wf"}`, 2)
	root := s.expect(t, s.root, engine.StatusFailed, forkDone, forkDone, swFail, t2Done, "JOIN:CANCELED", t2Done, "JOIN:CANCELED")
	s.leaf = root.Tasks[2].SubWorkflowID
	s.expect(t, s.leaf, engine.StatusFailed, t1Done, t2Fail)
	return s
}

// nestedParent checks the parent's seven records: the SUB_WORKFLOW (sw)
// with child, the JOINs (join) the records they were.
func (s *threeLevel) nestedParent(t *testing.T, status, sw, join, child string, joins [2]string) runView {
	t.Helper()
	wf := s.expect(t, s.root, status, forkDone, forkDone, sw, t2Done, join, t2Done, join)
	if wf.Tasks[2].SubWorkflowID != child || (joins[0] != "" && (wf.Tasks[4].TaskID != joins[0] || wf.Tasks[6].TaskID != joins[1])) {
		t.Fatalf("parent: child %s (want %s), joins %s %s (want %v)", wf.Tasks[2].SubWorkflowID, child, wf.Tasks[4].TaskID, wf.Tasks[6].TaskID, joins)
	}
	return wf
}

func nestedJoins(t *testing.T, s *threeLevel) [2]string {
	wf := viewRun(t, s.e, s.root)
	return [2]string{wf.Tasks[4].TaskID, wf.Tasks[6].TaskID}
}

// TestConductorNestedForkJoinSubWorkflowSpec: every case.
func TestConductorNestedForkJoinSubWorkflowSpec(t *testing.T) {
	for _, tc := range []struct {
		name string
		op   func(s *threeLevel, ctx context.Context) (*engine.Result, error)
	}{
		{"restart on the sub workflow", func(s *threeLevel, ctx context.Context) (*engine.Result, error) {
			return s.e.Restart(ctx, s.leaf, true)
		}},
		{"retry on the sub workflow", func(s *threeLevel, ctx context.Context) (*engine.Result, error) { return s.e.Retry(ctx, s.leaf, false) }},
		{"retry with resume on the parent workflow", func(s *threeLevel, ctx context.Context) (*engine.Result, error) { return s.e.Retry(ctx, s.root, true) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newNested(t)
			joins := nestedJoins(t, s)
			restart := tc.name == "restart on the sub workflow"
			s.run(t, func(ctx context.Context) (*engine.Result, error) { return tc.op(s, ctx) },
				func(t *testing.T) {
					if restart {
						s.expectRunning(t, s.leaf, t1Done, t2Runs)
					} else if leaf := s.expectRunning(t, s.leaf, t1Done, t2Fail, t2Runs); len(leaf.Tasks) == 3 {
						retried(t, leaf, 2)
					}
					s.nestedParent(t, running, swRuns, joinRuns, s.leaf, joins)
				}, func(t *testing.T) {
					if restart {
						s.expect(t, s.leaf, done, t1Done, t2Done)
					} else {
						retried(t, s.expect(t, s.leaf, done, t1Done, t2Fail, t2Done), 2)
					}
					s.nestedParent(t, done, swDone, joinDone, s.leaf, joins)
				})
		})
	}
	t.Run("restart on the parent workflow", func(t *testing.T) {
		s := newNested(t)
		var child string
		s.run(t, func(ctx context.Context) (*engine.Result, error) { return s.e.Restart(ctx, s.root, true) },
			func(t *testing.T) {
				child = s.freshLevel(t, s.root, 2, s.leaf)
				s.expectRunning(t, child, t1Done, t2Runs)
			}, func(t *testing.T) {
				s.expect(t, child, done, t1Done, t2Done)
				s.nestedParent(t, done, swDone, joinDone, child, [2]string{})
			})
	})
	t.Run("retry on the parent workflow", func(t *testing.T) {
		// The SUB_WORKFLOW task is retried: a new record at the end, with
		// a new child; both JOINs are IN_PROGRESS again and complete.
		s := newNested(t)
		joins := nestedJoins(t, s)
		var child string
		s.run(t, func(ctx context.Context) (*engine.Result, error) { return s.e.Retry(ctx, s.root, false) },
			func(t *testing.T) {
				wf := s.expect(t, s.root, running, forkDone, forkDone, swFail, t2Done, joinRuns, t2Done, joinRuns, swRuns)
				retriedOf(t, wf, 7, 2)
				child = newChild(t, wf, 7, s.leaf)
				s.expectRunning(t, child, t1Done, t2Runs)
			}, func(t *testing.T) {
				s.expect(t, child, done, t1Done, t2Done)
				wf := s.expect(t, s.root, done, forkDone, forkDone, swFail, t2Done, joinDone, t2Done, joinDone, swDone)
				retriedOf(t, wf, 7, 2)
				if wf.Tasks[4].TaskID != joins[0] || wf.Tasks[6].TaskID != joins[1] {
					t.Fatalf("joins %s %s, want the records %v", wf.Tasks[4].TaskID, wf.Tasks[6].TaskID, joins)
				}
			})
	})
}

// rerunWF on a SUB_WORKFLOW task (Conductor resets it in place and starts
// a new child; finalizeRerun schedules the run's other unsuccessful tasks
// again and keeps the ones that succeeded): the SUB_WORKFLOW record keeps
// its id and place, the branch tasks that completed are not run again, the
// JOINs are the same records, and the new child gets the input the task
// had, even when the rerun replaces the run's input.
func TestRerunFromSubWorkflowTaskInAFork(t *testing.T) {
	s := newNested(t)
	joins := nestedJoins(t, s)
	before := viewRun(t, s.e, s.root)
	sub := before.Tasks[2].TaskID
	var child string
	s.run(t, func(ctx context.Context) (*engine.Result, error) {
		return s.e.RerunWith(ctx, s.root, engine.RerunOptions{FromTaskID: sub, WorkflowInput: json.RawMessage(`{"param1":"other","subwf":"integration_test_wf"}`)})
	}, func(t *testing.T) {
		wf := s.expect(t, s.root, running, forkDone, forkDone, swRuns, t2Done, joinRuns, t2Done, joinRuns)
		child = newChild(t, wf, 2, s.leaf)
		s.expectRunning(t, child, t1Done, t2Runs)
	}, func(t *testing.T) {
		wf := s.expect(t, s.root, done, forkDone, forkDone, swDone, t2Done, joinDone, t2Done, joinDone)
		if wf.Tasks[2].TaskID != sub || wf.Tasks[4].TaskID != joins[0] || wf.Tasks[6].TaskID != joins[1] {
			t.Fatalf("records after the rerun: %+v", wf.Tasks)
		}
		for _, i := range []int{3, 5} {
			if wf.Tasks[i].TaskID != before.Tasks[i].TaskID {
				t.Fatalf("branch task %d ran again", i)
			}
		}
		c := s.expect(t, child, done, t1Done, t2Done)
		if c.Input["param1"] != "p1 value" {
			t.Fatalf("the new child's input %v, want the task's previous input", c.Input)
		}
	})
}

// rerunWF from a dynamic fork's FORK task (finalizeRerun): the fork is
// mapped again from the task before it, whose output it reads: a new FORK
// record and new branch tasks, which run again, then the JOIN and the rest;
// the task before it does not run again.
func TestRerunFromDynamicForkTask(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	count := func(name, out string) engine.Option {
		return engine.WithWorker(name, func(context.Context, json.RawMessage) (json.RawMessage, error) {
			mu.Lock()
			calls[name]++
			mu.Unlock()
			return json.RawMessage(out), nil
		})
	}
	e := harnessEngine(t, nil, count("integration_task_1", dynamicTasksOutput), count("integration_task_2", `{}`),
		count("integration_task_3", `{}`), count("integration_task_4", `{}`))
	d := harnessDef(t, e, "dynamic_fork_join_integration_test.json")
	res := startRun(t, e, d, `{}`)
	wf := viewRun(t, e, res.RunID)
	want := []string{"integration_task_1:COMPLETED", "FORK:COMPLETED", "integration_task_2:COMPLETED", "integration_task_3:COMPLETED",
		"JOIN:COMPLETED", "integration_task_4:COMPLETED"}
	checkTasks(t, wf.Tasks, want...)
	r, err := e.Rerun(context.Background(), res.RunID, wf.Tasks[1].TaskID)
	if err != nil || r.Status != engine.StatusCompleted {
		t.Fatalf("rerun: %v %+v", err, r)
	}
	after := viewRun(t, e, res.RunID)
	checkTasks(t, after.Tasks, want...)
	if after.Tasks[0].TaskID != wf.Tasks[0].TaskID || after.Tasks[1].TaskID == wf.Tasks[1].TaskID || after.Tasks[2].TaskID == wf.Tasks[2].TaskID {
		t.Fatalf("records after the rerun: %+v", after.Tasks)
	}
	joinOnIs("dynamicfanouttask_join", "xdt1", "xdt2")(t, e, after)
	mu.Lock()
	defer mu.Unlock()
	if calls["integration_task_1"] != 1 || calls["integration_task_2"] != 2 || calls["integration_task_3"] != 2 || calls["integration_task_4"] != 2 {
		t.Fatalf("worker calls %v", calls)
	}
}
