package engine_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// WorkflowRerunTests' reruns from tasks inside a DO_WHILE of HTTP,
// SUB_WORKFLOW (the "Wait" child: a 4 seconds WAIT), WAIT and SWITCH
// (registerViaToDoWhileWorkflowDef); the HTTP tasks call a local API
// tester.

// rawRun is getWorkflow(id) with every field.
func (h *rerunHarness) rawRun(id string) map[string]any {
	h.t.Helper()
	b, err := h.e.Show(context.Background(), id)
	if err != nil {
		h.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		h.t.Fatal(err)
	}
	return m
}

// typed is the first record of taskType at iteration (Java's
// stream().filter(type, iteration).findFirst()).
func typed(v runView, taskType string, iteration int) (taskView, bool) {
	for _, tk := range v.Tasks {
		if tk.TaskType == taskType && tk.Iteration == iteration {
			return tk, true
		}
	}
	return taskView{}, false
}

// awaitTyped waits for a record of taskType at iteration (with status,
// when given) and returns it.
func (h *rerunHarness) awaitTyped(id, taskType string, iteration int, status string) taskView {
	h.t.Helper()
	var got taskView
	h.await(id, taskType+" of iteration "+string(rune('0'+iteration))+" "+status, func(v runView) string {
		tk, ok := typed(v, taskType, iteration)
		if !ok || (status != "" && tk.Status != status) {
			return "not yet"
		}
		got = tk
		return ""
	})
	return got
}

var viaInput = `{"variables":{"status":"InProgress"}}`

func TestConductorE2ERerunInsideDoWhile(t *testing.T) {
	t.Parallel()
	cases := []rerunCase{
		{"testRerunFromHttpTaskInDoWhileWithNestedTasks", func(t *testing.T, h *rerunHarness) {
			id := h.start("vialtodoowhile-rerun-test", viaInput)
			h.awaitTyped(id, "SUB_WORKFLOW", 1, engine.TaskCompleted)
			wait := h.awaitTyped(id, "WAIT", 1, "")
			if _, err := h.e.CompleteTask(context.Background(), id, wait.Ref, engine.TaskCompleted, nil); err != nil {
				t.Fatal(err)
			}
			http2 := h.awaitTyped(id, "HTTP", 2, "")
			h.terminate(id)

			h.rerun(id, engine.RerunOptions{FromTaskID: http2.TaskID})
			// The rerun's write resets the HTTP task in place with the
			// RUNNING status, as Conductor's rerunWF does: the first read
			// that shows the run RUNNING holds its record.
			v := h.awaitStatus(id, engine.StatusRunning)
			loop, _ := typed(v, "DO_WHILE", 0)
			for _, tk := range v.Tasks {
				if tk.TaskType == "DO_WHILE" {
					loop = tk
					break
				}
			}
			if loop.Status != engine.TaskInProgress {
				t.Fatalf("do_while after the rerun: %s", describeRun(v))
			}
			if tk, ok := typed(v, "HTTP", 2); !ok || tk.Ref != "http_ref__2" || tk.TaskID != http2.TaskID {
				t.Fatalf("http task of iteration 2 after the rerun: %s", describeRun(v))
			}
		}},
		{"testRerunFromSubWorkflowTaskInDoWhile", func(t *testing.T, h *rerunHarness) {
			id := h.start("vialtodoowhile-subworkflow-rerun-test", viaInput,
				engine.WithTaskToDomain(map[string]string{"http": "parent-domain"}))
			domainOf := func() any {
				m, _ := h.rawRun(id)["taskToDomain"].(map[string]any)
				return m["http"]
			}
			h.await(id, "the run", func(runView) string { return "" })
			if d := domainOf(); d != "parent-domain" {
				t.Fatalf("taskToDomain http: %v", d)
			}
			sub1 := h.awaitTyped(id, "SUB_WORKFLOW", 1, engine.TaskCompleted)
			// The Java test checks the child's taskToDomain only when the
			// task's input carries a non-empty subWorkflowTaskToDomain.
			if m, _ := sub1.Input["subWorkflowTaskToDomain"].(map[string]any); len(m) > 0 {
				if h.rawRun(sub1.SubWorkflowID)["taskToDomain"] == nil {
					t.Fatal("sub-workflow should have taskToDomain if passed from parent")
				}
			}
			wait := h.awaitTyped(id, "WAIT", 1, "")
			if _, err := h.e.CompleteTask(context.Background(), id, wait.Ref, engine.TaskCompleted, nil); err != nil {
				t.Fatal(err)
			}
			sub2 := h.awaitTyped(id, "SUB_WORKFLOW", 2, engine.TaskInProgress)
			if err := h.e.Terminate(context.Background(), sub2.SubWorkflowID, "Fail for test"); err != nil {
				t.Fatal(err)
			}
			h.awaitStatus(id, engine.StatusTerminated)

			h.rerun(id, engine.RerunOptions{FromTaskID: sub2.TaskID})
			v := h.await(id, "RUNNING, the SUB_WORKFLOW of iteration 2 IN_PROGRESS", func(v runView) string {
				tk, _ := typed(v, "SUB_WORKFLOW", 2)
				if v.Status != engine.StatusRunning || tk.Status != engine.TaskInProgress {
					return v.Status + " " + tk.Status
				}
				return ""
			})
			if d := domainOf(); d != "parent-domain" {
				t.Fatalf("parent domain should be preserved after rerun: %v", d)
			}
			if now, _ := typed(v, "SUB_WORKFLOW", 2); now.Input["subWorkflowTaskToDomain"] != nil && sub2.Input["subWorkflowTaskToDomain"] != nil {
				a, _ := json.Marshal(now.Input["subWorkflowTaskToDomain"])
				b, _ := json.Marshal(sub2.Input["subWorkflowTaskToDomain"])
				if string(a) != string(b) {
					t.Fatalf("sub-workflow task-to-domain should be preserved after rerun: %s, was %s", a, b)
				}
			}
			for _, tk := range v.Tasks {
				if tk.TaskType == "DO_WHILE" {
					if tk.Status != engine.TaskInProgress {
						t.Fatalf("do_while after the rerun: %s", describeRun(v))
					}
					break
				}
			}
			h.terminate(id)

			v = h.await(id, "", func(runView) string { return "" })
			http2, ok := lastRef(v, "http_ref__2")
			if !ok {
				t.Fatalf("no http_ref__2: %s", describeRun(v))
			}
			h.rerun(id, engine.RerunOptions{FromTaskID: http2.TaskID})
			h.await(id, "RUNNING, the SUB_WORKFLOW of iteration 2 IN_PROGRESS", func(v runView) string {
				if v.Status != engine.StatusRunning {
					return v.Status
				}
				for _, tk := range v.Tasks {
					if tk.TaskType == "SUB_WORKFLOW" && tk.Iteration == 2 && tk.Status == engine.TaskInProgress {
						return ""
					}
				}
				return "no SUB_WORKFLOW of iteration 2 IN_PROGRESS"
			})
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, newRerunHarness(t).withTester())
		})
	}
}
