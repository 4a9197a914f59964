package engine_test

import (
	"context"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// WorkflowRerunTests' reruns of FORK_JOIN, DO_WHILE, SWITCH and WAIT
// tasks. Several are @Disabled in conductor-oss (Conductor OSS fails
// them); their assertions are what Conductor means a rerun to do, and
// wfrun is held to them.

func (h *rerunHarness) terminate(id string) {
	h.t.Helper()
	if err := h.e.Terminate(context.Background(), id, "Terminated by e2e"); err != nil {
		h.t.Fatal(err)
	}
	h.awaitStatus(id, engine.StatusTerminated)
}

// atLeast is an await condition: at least n tasks.
func atLeast(n int) func(runView) string {
	return func(v runView) string {
		if len(v.Tasks) < n {
			return "fewer tasks"
		}
		return ""
	}
}

// checkAt checks "index taskType:status" items of v (taskType or status may be "*").
func checkAt(t *testing.T, v runView, i int, taskType, status string) {
	t.Helper()
	if i >= len(v.Tasks) || (taskType != "*" && v.Tasks[i].TaskType != taskType) || (status != "*" && v.Tasks[i].Status != status) {
		t.Fatalf("tasks[%d] want %s:%s: %s", i, taskType, status, describeRun(v))
	}
}

// rerunFromLoop is testRerunForkJoinWorkflowWithLoopTask(2) and
// testRerunForkJoinWorkflowWithLoopOverTask: FORK (two SIMPLE branches),
// JOIN, DO_WHILE of simple_task; the run is terminated and rerun from
// tasks[4] (the DO_WHILE), or, with iterations 2, from the second
// iteration's simple_task (tasks[6]).
func rerunFromLoop(iterations int) func(*testing.T, *rerunHarness) {
	return func(t *testing.T, h *rerunHarness) {
		id := h.start("re-run-fork-workflow-loop-task", "")
		v := h.await(id, "4 tasks", atLeast(4))
		if len(v.Tasks) != 4 {
			t.Fatalf("want 4 tasks: %s", describeRun(v))
		}
		h.answer(id, v.Tasks[1].Ref, engine.TaskCompleted)
		h.answer(id, v.Tasks[2].Ref, engine.TaskCompleted)
		from := 4
		if iterations == 1 {
			v = h.await(id, ">= 5 tasks", atLeast(5))
		} else {
			v = h.await(id, ">= 6 tasks", atLeast(6))
			h.answer(id, v.Tasks[5].Ref, engine.TaskCompleted)
			v = h.await(id, ">= 7 tasks", atLeast(7))
			h.answer(id, v.Tasks[6].Ref, engine.TaskCompleted)
			v = h.await(id, "", func(runView) string { return "" })
			from = 6
		}
		h.terminate(id)
		fromID := v.Tasks[from].TaskID
		h.rerun(id, engine.RerunOptions{FromTaskID: fromID})
		want := 6
		if iterations > 1 {
			want = 7
		}
		v = h.await(id, "RUNNING with enough tasks", func(v runView) string {
			if v.Status != engine.StatusRunning || len(v.Tasks) < want {
				return "not yet"
			}
			return ""
		})
		checkAt(t, v, 3, "JOIN", engine.TaskCompleted)
		checkAt(t, v, 4, "DO_WHILE", "*")
		if iterations == 1 {
			checkAt(t, v, 5, "*", engine.TaskScheduled)
		} else {
			checkAt(t, v, 5, "*", engine.TaskCompleted)
			checkAt(t, v, 6, "*", engine.TaskScheduled)
			if v.Tasks[6].TaskID != fromID || v.Tasks[4].Iteration != v.Tasks[6].Iteration {
				t.Fatalf("DO_WHILE iteration %d, rerun task's %d (the task rerun from, %s, is reset in place): %s", v.Tasks[4].Iteration, v.Tasks[6].Iteration, fromID, describeRun(v))
			}
		}
	}
}

func TestConductorE2ERerunLoopsAndSwitches(t *testing.T) {
	runRerunCases(t, []rerunCase{
		{"testRerunForkJoinWorkflow", func(t *testing.T, h *rerunHarness) {
			id := h.start("re-run-fork-workflow", "")
			v := h.await(id, "4 tasks", atLeast(4))
			if len(v.Tasks) != 4 {
				t.Fatalf("want 4 tasks: %s", describeRun(v))
			}
			h.answer(id, v.Tasks[2].Ref, engine.TaskCompleted)
			h.answer(id, v.Tasks[1].Ref, engine.TaskFailedTerminal)
			v = h.awaitStatus(id, engine.StatusFailed)

			h.rerun(id, engine.RerunOptions{FromTaskID: v.Tasks[1].TaskID})
			v = h.await(id, "RUNNING, tasks[2] SCHEDULED", func(v runView) string {
				if v.Status != engine.StatusRunning || len(v.Tasks) < 3 || v.Tasks[2].Status != engine.TaskScheduled {
					return "not yet"
				}
				return ""
			})
			for _, tk := range v.Tasks {
				if tk.TaskType != "FORK" && tk.TaskType != "JOIN" && !terminal(tk.Status) {
					h.answer(id, tk.Ref, engine.TaskCompleted)
				}
			}
			h.awaitStatus(id, engine.StatusCompleted)
		}},
		{"testRerunForkJoinWorkflowWithLoopTask", rerunFromLoop(1)},
		{"testRerunForkJoinWorkflowWithLoopTask2", rerunFromLoop(1)},
		{"testRerunForkJoinWorkflowWithLoopOverTask", rerunFromLoop(2)},
		{"testDoWhileRerun", func(t *testing.T, h *rerunHarness) {
			id := h.start("../rerun_do_while_workflow", `{"maxIterations":3}`,
				engine.WithTaskToDomain(map[string]string{"simple_do_while_task": "test-domain"}))
			iter := func(v runView, n int) (map[string]any, bool) {
				for i, tk := range v.Tasks {
					if tk.TaskType == "simple_do_while_task" && tk.Iteration == n {
						return h.rawTasks(id)[i], true
					}
				}
				return nil, false
			}
			v := h.await(id, "iteration 1", func(v runView) string {
				if _, ok := iter(v, 1); !ok {
					return "none"
				}
				return ""
			})
			first1, _ := iter(v, 1)
			if first1["domain"] != "test-domain" {
				t.Fatalf("iteration 1 domain %v", first1["domain"])
			}
			h.answer(id, "simple_do_while_task", engine.TaskCompleted)
			v = h.await(id, "iteration 2", func(v runView) string {
				if _, ok := iter(v, 2); !ok {
					return "none"
				}
				return ""
			})
			second, _ := iter(v, 2)
			if second["domain"] != "test-domain" {
				t.Fatalf("iteration 2 domain %v", second["domain"])
			}
			h.answer(id, "simple_do_while_task", engine.TaskFailedTerminal)
			v = h.awaitStatus(id, engine.StatusFailed)
			var loopID string
			for _, tk := range v.Tasks {
				if tk.TaskType == "DO_WHILE" {
					loopID = tk.TaskID
				}
			}

			h.rerun(id, engine.RerunOptions{FromTaskID: loopID})
			v = h.await(id, "RUNNING, iteration 1 again", func(v runView) string {
				if v.Status != engine.StatusRunning || len(v.Tasks) < 2 || v.Tasks[1].Status != engine.TaskScheduled {
					return "not yet"
				}
				return ""
			})
			if len(v.Tasks) != 2 {
				t.Fatalf("want 2 tasks after the rerun: %s", describeRun(v))
			}
			checkAt(t, v, 0, "DO_WHILE", engine.TaskInProgress)
			checkAt(t, v, 1, "simple_do_while_task", engine.TaskScheduled)
			raw := h.rawTasks(id)
			if v.Tasks[0].Iteration != 1 || v.Tasks[1].Iteration != 1 || raw[1]["domain"] != "test-domain" || v.Tasks[1].TaskID == first1["taskId"] {
				t.Fatalf("after the rerun: %s (domain %v; first iteration's id was %v)", describeRun(v), raw[1]["domain"], first1["taskId"])
			}
			for _, tk := range v.Tasks {
				if tk.Iteration == 2 {
					t.Fatalf("an iteration 2 after the rerun: %s", describeRun(v))
				}
			}
		}},
		{"testSwitchTaskRerun", func(t *testing.T, h *rerunHarness) {
			id := h.start("rerun-switch-workflow", `{"switchValue":"case1"}`)
			v := h.await(id, "2 tasks", atLeast(2))
			h.answer(id, v.Tasks[1].Ref, engine.TaskFailedTerminal)
			v = h.awaitStatus(id, engine.StatusFailed)

			h.rerun(id, engine.RerunOptions{FromTaskID: v.Tasks[0].TaskID, TaskInput: []byte(`{"switchValue":"case2"}`)})
			v = h.await(id, "RUNNING, case2_task SCHEDULED", func(v runView) string {
				if v.Status != engine.StatusRunning || len(v.Tasks) < 2 || v.Tasks[1].Status != engine.TaskScheduled {
					return "not yet"
				}
				return ""
			})
			if len(v.Tasks) != 2 || v.Tasks[0].Status != engine.TaskCompleted || v.Tasks[1].Ref != "case2_task" {
				t.Fatalf("after the rerun: %s", describeRun(v))
			}
			h.answer(id, "case2_task", engine.TaskCompleted)
			h.awaitStatus(id, engine.StatusCompleted)
		}},
		{"testWaitTaskWithTimerRerun", func(t *testing.T, _ *rerunHarness) {
			// On an engine clock the test moves: the rerun WAIT's timer
			// counts its 30 seconds from the rerun (not from the first
			// attempt's start), and it does end the WAIT.
			clock := engine.NewManualClock(time.Now())
			h := newRerunHarness(t, engine.WithClock(clock))
			ctx := context.Background()
			id := h.start("rerun-wait-timer-workflow", "")
			h.await(id, "WAIT IN_PROGRESS", statusIs("", "wait_timer_task="+engine.TaskInProgress))
			raw := h.rawTasks(id)[0]
			initial, _ := raw["callbackAfterSeconds"].(float64)
			if initial <= 0 {
				t.Fatalf("wait task should have callback timer: %v", raw)
			}
			if err := clock.WaitForWaiters(ctx, 1); err != nil {
				t.Fatal(err)
			}
			clock.Advance(20 * time.Second) // 10 seconds left of the first attempt's wait
			h.terminate(id)
			h.rerun(id, engine.RerunOptions{FromTaskID: raw["taskId"].(string)})
			h.await(id, "RUNNING, WAIT IN_PROGRESS", statusIs(engine.StatusRunning, "wait_timer_task="+engine.TaskInProgress))
			again := h.rawTasks(id)[0]
			if cb, _ := again["callbackAfterSeconds"].(float64); cb != initial {
				t.Fatalf("timer should restart with same duration: %v, was %v", cb, initial)
			}
			if pc, _ := again["pollCount"].(float64); pc != 0 {
				t.Fatalf("new wait task should not have been polled: pollCount %v", pc)
			}
			if err := clock.WaitForWaiters(ctx, 1); err != nil {
				t.Fatal(err)
			}
			// Past the first attempt's end, short of the rerun's.
			clock.Advance(20 * time.Second)
			for end := time.Now().Add(300 * time.Millisecond); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
				if v, err := h.view(id); err == nil && v.Status != engine.StatusRunning {
					t.Fatalf("the rerun WAIT ended 20 seconds after the rerun, its timer not restarted: %s", describeRun(v))
				}
			}
			clock.Advance(10 * time.Second) // the rerun's 30 seconds
			if v := h.awaitStatus(id, engine.StatusCompleted); v.Tasks[0].Status != engine.TaskCompleted {
				t.Fatalf("after the rerun WAIT's 30 seconds: %s", describeRun(v))
			}
		}},
	})
}
