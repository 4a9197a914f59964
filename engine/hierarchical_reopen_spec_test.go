package engine_test

import (
	"context"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// HierarchicalForkJoinSubworkflowRetrySpec, …RestartSpec and …RerunSpec:
// hierarchical_fork_join_swf (unmodified) as the root and the mid level,
// each a FORK of a SUB_WORKFLOW and integration_task_2, then a JOIN; the
// leaf is integration_test_wf, whose integration_task_2 fails after the
// upper levels' branch tasks completed. All three end FAILED, the JOINs
// CANCELED. Retrying, restarting or rerunning one of them runs the leaf
// again; the JOINs of the re-opened levels go back to IN_PROGRESS (the
// same records) and complete.

const (
	forkDone = "FORK:COMPLETED"
	joinDone = "JOIN:COMPLETED"
	joinRuns = "JOIN:IN_PROGRESS"
)

func newHierarchical(t *testing.T) *threeLevel {
	t.Helper()
	s := newThreeLevelOf(t, "hierarchical_fork_join_swf.json",
		`{"param1":"p1 value","param2":"p2 value","subwf":"hierarchical_fork_join_swf","nextSubwf":"integration_test_wf"}`, 2)
	failed := []string{forkDone, swFail, t2Done, "JOIN:CANCELED"}
	root := s.expect(t, s.root, engine.StatusFailed, failed...)
	s.mid = root.Tasks[1].SubWorkflowID
	mid := s.expect(t, s.mid, engine.StatusFailed, failed...)
	s.leaf = mid.Tasks[1].SubWorkflowID
	s.expect(t, s.leaf, engine.StatusFailed, t1Done, t2Fail)
	return s
}

// forkParent checks a level whose SUB_WORKFLOW record (sw) keeps child and
// whose JOIN (join) is the record it had; it returns the run's view.
func (s *threeLevel) forkParent(t *testing.T, id, status, sw, join, child, joinID string) runView {
	t.Helper()
	wf := s.expect(t, id, status, forkDone, sw, t2Done, join)
	if wf.Tasks[1].SubWorkflowID != child || wf.Tasks[3].TaskID != joinID {
		t.Fatalf("run %s: child %s (want %s), join %s (want %s)", id, wf.Tasks[1].SubWorkflowID, child, wf.Tasks[3].TaskID, joinID)
	}
	return wf
}

// freshLevel checks a level that runs from its start while the leaf's task
// waits: RUNNING, its SUB_WORKFLOW record (task i) IN_PROGRESS with a child
// other than old, which it returns. Its other branch and its JOIN may not
// be stored yet.
func (s *threeLevel) freshLevel(t *testing.T, id string, i int, old string) string {
	t.Helper()
	wf := viewRun(t, s.e, id)
	if wf.Status != running || len(wf.Tasks) <= i || wf.Tasks[i].TaskType != "SUB_WORKFLOW" || wf.Tasks[i].Status != engine.TaskInProgress {
		t.Fatalf("run %s: %s %+v, want RUNNING with SUB_WORKFLOW task %d IN_PROGRESS", id, wf.Status, wf.Tasks, i)
	}
	return newChild(t, wf, i, old)
}

// joinID is the id of the run's JOIN record.
func joinID(t *testing.T, e *engine.Engine, id string) string {
	t.Helper()
	return viewRun(t, e, id).Tasks[3].TaskID
}

// TestConductorHierarchicalForkJoinSubworkflowRetrySpec: every case.
func TestConductorHierarchicalForkJoinSubworkflowRetrySpec(t *testing.T) {
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
			s := newHierarchical(t)
			rootJoin, midJoin := joinID(t, s.e, s.root), joinID(t, s.e, s.mid)
			s.run(t, func(ctx context.Context) (*engine.Result, error) { return s.e.Retry(ctx, tc.target(s), tc.resume) },
				func(t *testing.T) {
					if leaf := s.expectRunning(t, s.leaf, t1Done, t2Fail, t2Runs); len(leaf.Tasks) == 3 {
						retried(t, leaf, 2)
					}
					s.forkParent(t, s.mid, running, swRuns, joinRuns, s.leaf, midJoin)
					s.forkParent(t, s.root, running, swRuns, joinRuns, s.mid, rootJoin)
				}, func(t *testing.T) {
					retried(t, s.expect(t, s.leaf, done, t1Done, t2Fail, t2Done), 2)
					s.forkParent(t, s.mid, done, swDone, joinDone, s.leaf, midJoin)
					s.forkParent(t, s.root, done, swDone, joinDone, s.mid, rootJoin)
				})
		})
	}
	for _, tc := range []struct {
		name string
		mid  bool // the mid level is retried (else the root)
	}{{"retry on the mid-level", true}, {"retry on the root", false}} {
		t.Run(tc.name, func(t *testing.T) {
			// The retried level retries its SUB_WORKFLOW task: a new record
			// after its JOIN, with a new child; its JOIN is IN_PROGRESS
			// again and completes.
			s := newHierarchical(t)
			rootJoin, midJoin := joinID(t, s.e, s.root), joinID(t, s.e, s.mid)
			target, targetJoin, old := s.root, rootJoin, s.mid
			if tc.mid {
				target, targetJoin, old = s.mid, midJoin, s.leaf
			}
			var child string
			s.run(t, func(ctx context.Context) (*engine.Result, error) { return s.e.Retry(ctx, target, false) },
				func(t *testing.T) {
					wf := s.expect(t, target, running, forkDone, swFail, t2Done, joinRuns, swRuns)
					retriedOf(t, wf, 4, 1)
					if wf.Tasks[3].TaskID != targetJoin {
						t.Fatalf("JOIN %s, want the record %s", wf.Tasks[3].TaskID, targetJoin)
					}
					child = newChild(t, wf, 4, old)
					if tc.mid {
						s.forkParent(t, s.root, running, swRuns, joinRuns, s.mid, rootJoin)
					}
				}, func(t *testing.T) {
					retriedOf(t, s.expect(t, target, done, forkDone, swFail, t2Done, joinDone, swDone), 4, 1)
					if tc.mid {
						s.expect(t, child, done, t1Done, t2Done)
						s.forkParent(t, s.root, done, swDone, joinDone, s.mid, rootJoin)
						return
					}
					s.expect(t, child, done, forkDone, swDone, t2Done, joinDone)
				})
		})
	}
}

// TestConductorHierarchicalForkJoinSubworkflowRestartAndRerunSpecs: every
// case of HierarchicalForkJoinSubworkflowRestartSpec and …RerunSpec (a
// rerun without a task id is a restart: the run from its start). The
// root starts new children; a child re-opens its parents.
func TestConductorHierarchicalForkJoinSubworkflowRestartAndRerunSpecs(t *testing.T) {
	ops := map[string]func(e *engine.Engine, ctx context.Context, id string) (*engine.Result, error){
		"restart": func(e *engine.Engine, ctx context.Context, id string) (*engine.Result, error) {
			return e.Restart(ctx, id, true)
		},
		"rerun": func(e *engine.Engine, ctx context.Context, id string) (*engine.Result, error) {
			return e.RerunWith(ctx, id, engine.RerunOptions{})
		},
	}
	for _, op := range []string{"restart", "rerun"} {
		t.Run(op+" on the root", func(t *testing.T) {
			s := newHierarchical(t)
			var mid2, leaf2 string
			s.run(t, func(ctx context.Context) (*engine.Result, error) { return ops[op](s.e, ctx, s.root) },
				func(t *testing.T) {
					mid2 = s.freshLevel(t, s.root, 1, s.mid)
					leaf2 = s.freshLevel(t, mid2, 1, s.leaf)
					s.expectRunning(t, leaf2, t1Done, t2Runs)
				}, func(t *testing.T) {
					s.expect(t, leaf2, done, t1Done, t2Done)
					s.forkParent(t, mid2, done, swDone, joinDone, leaf2, joinID(t, s.e, mid2))
					s.forkParent(t, s.root, done, swDone, joinDone, mid2, joinID(t, s.e, s.root))
				})
		})
		t.Run(op+" on the mid-level", func(t *testing.T) {
			s := newHierarchical(t)
			rootJoin := joinID(t, s.e, s.root)
			var leaf2 string
			s.run(t, func(ctx context.Context) (*engine.Result, error) { return ops[op](s.e, ctx, s.mid) },
				func(t *testing.T) {
					leaf2 = s.freshLevel(t, s.mid, 1, s.leaf)
					s.expectRunning(t, leaf2, t1Done, t2Runs)
					s.forkParent(t, s.root, running, swRuns, joinRuns, s.mid, rootJoin)
				}, func(t *testing.T) {
					s.expect(t, leaf2, done, t1Done, t2Done)
					s.forkParent(t, s.mid, done, swDone, joinDone, leaf2, joinID(t, s.e, s.mid))
					s.forkParent(t, s.root, done, swDone, joinDone, s.mid, rootJoin)
				})
		})
		t.Run(op+" on the leaf", func(t *testing.T) {
			s := newHierarchical(t)
			rootJoin, midJoin := joinID(t, s.e, s.root), joinID(t, s.e, s.mid)
			s.run(t, func(ctx context.Context) (*engine.Result, error) { return ops[op](s.e, ctx, s.leaf) },
				func(t *testing.T) {
					s.expectRunning(t, s.leaf, t1Done, t2Runs)
					s.forkParent(t, s.mid, running, swRuns, joinRuns, s.leaf, midJoin)
					s.forkParent(t, s.root, running, swRuns, joinRuns, s.mid, rootJoin)
				}, func(t *testing.T) {
					s.expect(t, s.leaf, done, t1Done, t2Done)
					s.forkParent(t, s.mid, done, swDone, joinDone, s.leaf, midJoin)
					s.forkParent(t, s.root, done, swDone, joinDone, s.mid, rootJoin)
				})
		})
	}
}
