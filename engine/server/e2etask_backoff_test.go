package server_test

import (
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/conductor-sdk/conductor-go/sdk/model"
)

// javaTaskDef is `new TaskDef(name)` of Conductor's Java client with its
// defaults, as the Java client sends it (the Go SDK's zero values differ:
// retryCount 0, no retryDelaySeconds or responseTimeoutSeconds).
func javaTaskDef(name string) model.TaskDef {
	return model.TaskDef{Name: name, OwnerEmail: "test@conductor.io", RetryCount: 3, TimeoutPolicy: "TIME_OUT_WF", RetryLogic: "FIXED",
		RetryDelaySeconds: 60, ResponseTimeoutSeconds: 3600, BackoffScaleFactor: 1}
}

// TestConductorE2EBackoffTests is conductor-oss e2e task/BackoffTests
// testRetryLogic: one task definition per retry logic (retry_0 FIXED,
// retry_1 EXPONENTIAL_BACKOFF, retry_2 LINEAR_BACKOFF; retryDelaySeconds 2,
// backoffScaleFactor 2, retryCount 3), a workflow running the three in
// turn (built with ConductorWorkflow and SimpleTask(name, name)), workers
// that fail each task until its retryCount is 2 and then complete it with
// {"number": 42}. The run completes with 9 tasks, and each task waited in
// its queue (startTime - scheduledTime) at least the delay its retry logic
// gives, read from the task's own definition. The workers poll every 100
// ms of the engine's manual clock, as the Java workers poll every 100 ms.
func TestConductorE2EBackoffTests(t *testing.T) {
	s := newE2TServer(t)
	var defs []model.TaskDef
	for i, logic := range []string{"FIXED", "EXPONENTIAL_BACKOFF", "LINEAR_BACKOFF"} {
		d := javaTaskDef(fmt.Sprintf("retry_%d", i))
		d.RetryLogic, d.BackoffScaleFactor, d.RetryDelaySeconds, d.RetryCount = logic, 2, 2, 3
		defs = append(defs, d)
	}
	if resp, err := s.meta.RegisterTaskDef(t.Context(), defs); err != nil {
		t.Fatalf("registerTaskDefs: %v (status %d)", err, status(resp))
	}
	s.updateDefs(t, transcribedDef(t, "e2e_retry_logic_test.json"))
	id := s.start(t, model.StartWorkflowRequest{Name: "retry_logic_test", Version: 1, Input: map[string]any{}})

	for tick := 0; ; tick++ {
		if tick == 400 {
			t.Fatalf("not COMPLETED after 40 s of polling: %s", e2tTaskLine(s.run(t, id)))
		}
		for _, d := range defs {
			for _, tk := range s.pollFor(t, d.Name, "backoff-worker", 1, 0) {
				r := &model.TaskResult{WorkflowInstanceId: tk.WorkflowInstanceId, TaskId: tk.TaskId, OutputData: map[string]any{"number": 42}, Status: "COMPLETED"}
				if tk.RetryCount < 2 {
					r.Status = "FAILED"
				}
				if _, resp, err := s.tasks.UpdateTask(t.Context(), r); err != nil {
					t.Fatalf("updateTask: %v (status %d)", err, status(resp))
				}
			}
		}
		if s.run(t, id).Status == "COMPLETED" {
			break
		}
		s.clock.Advance(100 * time.Millisecond)
	}
	wf := s.run(t, id)
	if len(wf.Tasks) != 9 {
		t.Fatalf("%d tasks, want 9: %s", len(wf.Tasks), e2tTaskLine(wf))
	}
	for i, tk := range wf.Tasks {
		if want := fmt.Sprintf("retry_%d", i/3); tk.TaskDefName != want || tk.RetryCount != int32(i%3) {
			t.Fatalf("task %d: %s retryCount %d, want %s %d", i, tk.TaskDefName, tk.RetryCount, want, i%3)
		}
		if i == 0 {
			continue // the Java test starts at 1
		}
		// As the Java test, the definition read off the record
		// (task.getTaskDefinition(): its workflowTask's).
		if tk.WorkflowTask == nil || tk.WorkflowTask.TaskDefinition == nil {
			t.Fatalf("task %d (%s): no workflowTask.taskDefinition", i, tk.ReferenceTaskName)
		}
		def := tk.WorkflowTask.TaskDefinition
		delay := int64(def.RetryDelaySeconds) * 1000
		backoff := int64(def.BackoffScaleFactor)
		var expected int64
		switch def.RetryLogic {
		case "FIXED":
			expected = delay
		case "LINEAR_BACKOFF":
			expected = int64(tk.RetryCount) * delay * backoff
		case "EXPONENTIAL_BACKOFF":
			if tk.RetryCount > 0 {
				expected = int64(math.Pow(2, float64(tk.RetryCount-1))) * delay
			}
		default:
			t.Fatalf("task %d: retryLogic %q", i, def.RetryLogic)
		}
		if diff := tk.StartTime - tk.ScheduledTime; diff < expected-1 {
			t.Errorf("delay %d not within the range of expected %d, taskId = %s:%s", diff, expected, tk.ReferenceTaskName, tk.TaskId)
		}
	}
}
