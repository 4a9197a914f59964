package server_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/conductor-sdk/conductor-go/sdk/model"
)

// Ports of conductor-oss e2e task/ConcurrentExecLimitTests,
// task/ContextPropagationTest and task/HTTPTaskTests through `wfrun serve`:
// definitions copied unmodified (exec_limit_workflow.json,
// context_concurrency_issue.json, workflow_data.json; SOURCES.md),
// registered with updateWorkflowDefs (PUT /api/metadata/workflow), tasks
// polled with the Go SDK and completed with updateTaskSync (POST
// /api/tasks/{workflowId}/{ref}/COMPLETED/sync, plain HTTP: the Go SDK has
// no call for it).

// putDefFile registers a copied definition as updateWorkflowDefs does.
func (s *e2tServer) putDefFile(t *testing.T, file string) {
	t.Helper()
	if code, _, body := s.do(t, "PUT", "/api/metadata/workflow", "["+string(readConductorFile(t, file))+"]"); code != 200 {
		t.Fatalf("updateWorkflowDefs %s: %d %s", file, code, body)
	}
}

// updateTaskSync is TaskClient.updateTaskSync(workflowId, ref, COMPLETED,
// {"updatedBy": "e2e"}).
func (s *e2tServer) updateTaskSync(t *testing.T, wfID, ref string) {
	t.Helper()
	if code, _, body := s.do(t, "POST", "/api/tasks/"+wfID+"/"+ref+"/COMPLETED/sync", `{"updatedBy":"e2e"}`); code != 200 {
		t.Fatalf("updateTaskSync %s: %d %s", ref, code, body)
	}
}

// TestConductorE2EConcurrentExecLimitTests: testTerminateForDataInconsistency
// (exec_limit_check forks six exec_limit tasks, concurrentExecLimit 2: no
// batch poll of 10 hands out more than 2, and completing what was handed
// out lets the run complete) and testPostponedTaskReleasedOnSlotFree
// (concurrentExecLimit 1, two forked tasks: the first poll gets one, polls
// get nothing while it is held, and once it is completed the other is
// handed out within 5 s).
func TestConductorE2EConcurrentExecLimitTests(t *testing.T) {
	t.Run("testTerminateForDataInconsistency", func(t *testing.T) {
		s := newE2TServer(t)
		s.putDefFile(t, "exec_limit_workflow.json")
		def := javaTaskDef("exec_limit")
		def.ConcurrentExecLimit = 2
		if resp, err := s.meta.RegisterTaskDef(t.Context(), []model.TaskDef{def}); err != nil {
			t.Fatalf("registerTaskDefs: %v (status %d)", err, status(resp))
		}
		id := s.start(t, model.StartWorkflowRequest{Name: "exec_limit_check", Version: 1})
		s.run(t, id)
		completed := 0
		for deadline := time.Now().Add(20 * time.Second); s.run(t, id).Status != "COMPLETED"; {
			if time.Now().After(deadline) {
				t.Fatalf("not COMPLETED: %s", e2tTaskLine(s.run(t, id)))
			}
			got := s.pollFor(t, "exec_limit", "worker", 10, time.Second)
			if len(got) > 2 {
				t.Fatalf("Got %d tasks with concurrentExecLimit 2", len(got))
			}
			for _, tk := range got {
				s.updateTaskSync(t, id, tk.ReferenceTaskName)
				completed++
			}
		}
		if completed != 6 {
			t.Fatalf("%d tasks completed, want the 6 forked ones", completed)
		}
	})
	t.Run("testPostponedTaskReleasedOnSlotFree", func(t *testing.T) {
		s := newE2TServer(t)
		def := javaTaskDef("concurrency_wakeup")
		def.RetryCount, def.ConcurrentExecLimit = 0, 1
		if resp, err := s.meta.RegisterTaskDef(t.Context(), []model.TaskDef{def}); err != nil {
			t.Fatalf("registerTaskDefs: %v (status %d)", err, status(resp))
		}
		s.updateDefs(t, transcribedDef(t, "e2e_concurrency_wakeup_check.json"))
		id := s.start(t, model.StartWorkflowRequest{Name: "concurrency_wakeup_check", Version: 1})
		var first []model.Task
		for deadline := time.Now().Add(10 * time.Second); len(first) == 0 && time.Now().Before(deadline); {
			first = s.pollFor(t, "concurrency_wakeup", "worker", 1, 500*time.Millisecond)
		}
		if len(first) != 1 {
			t.Fatalf("Expected exactly one task on first poll due to concurrentExecLimit=1: %d", len(first))
		}
		for range 3 {
			if drain := s.pollFor(t, "concurrency_wakeup", "worker", 10, 200*time.Millisecond); len(drain) != 0 {
				t.Fatalf("Did not expect a second task while A is in progress: %s", drain[0].ReferenceTaskName)
			}
		}
		completedAt := time.Now()
		s.updateTaskSync(t, id, first[0].ReferenceTaskName)
		var b []model.Task
		for len(b) == 0 && time.Since(completedAt) < 5*time.Second {
			b = s.pollFor(t, "concurrency_wakeup", "worker", 1, 500*time.Millisecond)
		}
		if len(b) != 1 || b[0].ReferenceTaskName == first[0].ReferenceTaskName {
			t.Fatalf("Task B should be pollable within 5s of A completing: %+v (waited %s)", b, time.Since(completedAt))
		}
		s.updateTaskSync(t, id, b[0].ReferenceTaskName)
		s.awaitStatus(t, id, "COMPLETED")
	})
}

// TestConductorE2EContextPropagationTest is testScheduledTasksArePolled:
// context_concurrency_issue forks eight concurrency_issue tasks (no task
// definition registered); the run shows the eight SCHEDULED, and one batch
// poll of 10 (timeout 0) hands out those eight.
func TestConductorE2EContextPropagationTest(t *testing.T) {
	s := newE2TServer(t)
	s.putDefFile(t, "context_concurrency_issue.json")
	id := s.start(t, model.StartWorkflowRequest{Name: "context_concurrency_issue", Version: 1})
	scheduled := map[string]bool{}
	s.await(t, id, "scheduled 8 concurrency_issue tasks", func(w model.Workflow) bool {
		clear(scheduled)
		for _, tk := range w.Tasks {
			if tk.TaskDefName == "concurrency_issue" && tk.Status == "SCHEDULED" {
				scheduled[tk.TaskId] = true
			}
		}
		return len(scheduled) == 8
	})
	// The start answered once the eight were queued (as Conductor's): one
	// poll at once gets them.
	polled := s.pollFor(t, "concurrency_issue", "test", 10, 0)
	if len(polled) != 8 {
		t.Fatalf("Expected 8 to be polled but got %d", len(polled))
	}
	for _, tk := range polled {
		if !scheduled[tk.TaskId] {
			t.Fatalf("polled %s, not one of the scheduled tasks", tk.TaskId)
		}
	}
	if code, _, body := s.do(t, "DELETE", "/api/workflow/"+id+"?reason=cleanup", ""); code != 200 {
		t.Fatalf("terminate: %d %s", code, body)
	}
}

// TestConductorE2EHTTPTaskTests is HTTPAsyncCompleteTest (@Disabled in
// Conductor: it needs an httpbin server): http_async_complete from
// workflow_data.json, its uri's host pointed at a local server. The HTTP
// task (asyncComplete) makes its call and waits, IN_PROGRESS, with the
// response in its output; completed by updateTask with that output, the
// run completes and the response's statusCode is 200.
func TestConductorE2EHTTPTaskTests(t *testing.T) {
	hb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"message":"Hello, ` + r.URL.Query().Get("name") + `"}`))
	}))
	t.Cleanup(hb.Close)
	s := newE2TServer(t)
	var defs []json.RawMessage
	if err := json.Unmarshal(readConductorFile(t, "workflow_data.json"), &defs); err != nil {
		t.Fatal(err)
	}
	for _, d := range defs {
		if strings.Contains(string(d), `"name": "http_async_complete"`) || strings.Contains(string(d), `"name":"http_async_complete"`) {
			body := strings.ReplaceAll(string(d), "http://httpbin-server:8081", hb.URL)
			if code, _, resp := s.do(t, "PUT", "/api/metadata/workflow", "["+body+"]"); code != 200 {
				t.Fatalf("updateWorkflowDefs: %d %s", code, resp)
			}
		}
	}
	id := s.start(t, model.StartWorkflowRequest{Name: "http_async_complete", Version: 1})
	w := s.await(t, id, "made its call", func(w model.Workflow) bool {
		return len(w.Tasks) == 1 && w.Tasks[0].OutputData["response"] != nil
	})
	// IN_PROGRESS, as conductor-oss's HttpTask.start leaves an asyncComplete
	// task after its call (the Java test, never run against conductor-oss,
	// expects SCHEDULED).
	if len(w.Tasks) != 1 || w.Tasks[0].Status != "IN_PROGRESS" {
		t.Fatalf("after the call: %s", e2tTaskLine(w))
	}
	// new TaskResult(task): the task's output goes back with the update.
	r := &model.TaskResult{WorkflowInstanceId: id, TaskId: w.Tasks[0].TaskId, Status: "COMPLETED", OutputData: w.Tasks[0].OutputData}
	if _, resp, err := s.tasks.UpdateTask(t.Context(), r); err != nil {
		t.Fatalf("updateTask: %v (status %d)", err, status(resp))
	}
	w = s.awaitStatus(t, id, "COMPLETED")
	resp, _ := w.Tasks[0].OutputData["response"].(map[string]any)
	if code, _ := resp["statusCode"].(float64); code != 200 {
		t.Fatalf("response %v", resp)
	}
}

// TestUpdateTaskByIDCompletesWaitingTask: POST /api/tasks (updateTask, by
// task id) completes a WAIT or HUMAN task of a run this process executes,
// as Conductor's updateTask takes any task that waits for its completion
// (the Java SDK completes WAIT tasks this way: new TaskResult(task)); the
// output given becomes the task's.
func TestUpdateTaskByIDCompletesWaitingTask(t *testing.T) {
	for _, typ := range []string{"WAIT", "HUMAN"} {
		t.Run(typ, func(t *testing.T) {
			s := newE2TServer(t)
			s.updateDefs(t, model.WorkflowDef{Name: "wait_by_id", Version: 1, SchemaVersion: 2,
				Tasks: []model.WorkflowTask{{Name: "w", TaskReferenceName: "w_ref", Type_: typ}}})
			id := s.start(t, model.StartWorkflowRequest{Name: "wait_by_id", Version: 1})
			w := s.await(t, id, "waiting", func(w model.Workflow) bool { return len(w.Tasks) == 1 && w.Tasks[0].Status == "IN_PROGRESS" })
			r := &model.TaskResult{WorkflowInstanceId: id, TaskId: w.Tasks[0].TaskId, Status: "COMPLETED", OutputData: map[string]any{"approved": true}}
			if got, resp, err := s.tasks.UpdateTask(t.Context(), r); err != nil || got != w.Tasks[0].TaskId {
				t.Fatalf("updateTask: %q %v (status %d)", got, err, status(resp))
			}
			w = s.awaitStatus(t, id, "COMPLETED")
			if w.Tasks[0].Status != "COMPLETED" || w.Tasks[0].OutputData["approved"] != true {
				t.Fatalf("task %s output %v", w.Tasks[0].Status, w.Tasks[0].OutputData)
			}
		})
	}
}
