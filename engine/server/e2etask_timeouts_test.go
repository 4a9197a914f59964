package server_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
)

// Ports of conductor-oss e2e task/TaskTimeoutTests, task/PollTimeoutTests
// and task/WaitTaskTest through `wfrun serve` on the engine's manual clock:
// where the Java tests wait (awaitility, Thread.sleep) for Conductor's
// sweeper, the clock moves by the time they wait.

// TestConductorE2ETaskTimeoutTests: the three definitions of
// TaskTimeoutTests.setup(), each a workflow of one SIMPLE task whose
// definition (retryCount 0, TIME_OUT_WF) times it out: never polled within
// pollTimeoutSeconds 25; polled and not answered within
// responseTimeoutSeconds 5; polled and not completed within timeoutSeconds
// 25 (its responseTimeoutSeconds 5 comes first). The workflow ends
// TIMED_OUT within the time the Java test waits (45 s, 2 min, 40 s).
func TestConductorE2ETaskTimeoutTests(t *testing.T) {
	for _, tc := range []struct {
		test, task, workflow    string
		poll, timeout, response int
		polled                  bool
		wait                    time.Duration
	}{
		{"testTaskPollTimeout", "task_timeout_test", "task_timeout_workflow", 25, 100, 40, false, 45 * time.Second},
		{"testTaskResponseTimeout", "task_response_timeout_test", "workflow_response_timeout_test", 6, 120, 5, true, 2 * time.Minute},
		{"testTaskOverallTimeout", "task_overall_timeout_test", "workflow_overall_timeout_test", 10, 25, 5, true, 40 * time.Second},
	} {
		t.Run(tc.test, func(t *testing.T) {
			s := newE2TServer(t)
			def := javaTaskDef(tc.task)
			def.PollTimeoutSeconds, def.TimeoutSeconds, def.ResponseTimeoutSeconds = int32(tc.poll), int64(tc.timeout), int64(tc.response)
			def.RetryCount, def.TimeoutPolicy = 0, "TIME_OUT_WF"
			if resp, err := s.meta.RegisterTaskDef(t.Context(), []model.TaskDef{def}); err != nil {
				t.Fatalf("registerTaskDefs: %v (status %d)", err, status(resp))
			}
			s.updateDefs(t, transcribedDef(t, "e2e_"+tc.workflow+".json"))
			id := s.start(t, model.StartWorkflowRequest{Name: tc.workflow}) // no version: the latest
			s.await(t, id, "scheduled its task", func(w model.Workflow) bool { return len(w.Tasks) == 1 })
			if tc.polled {
				// The start answered once the task was queued (as Conductor's):
				// one poll at once gets it.
				got, resp, err := s.tasks.Poll(t.Context(), tc.task, &client.TaskResourceApiPollOpts{Workerid: optional.NewString("test-worker")})
				if err != nil || got.WorkflowInstanceId != id {
					t.Fatalf("pollTask: %+v %v (status %d)", got, err, status(resp))
				}
				s.await(t, id, "shown its task IN_PROGRESS", func(w model.Workflow) bool { return w.Tasks[0].Status == "IN_PROGRESS" })
			}
			// The Java test reads the run every few seconds until it is
			// TIMED_OUT; here the clock moves a second at a time.
			start := s.clock.Now()
			for s.run(t, id).Status == "RUNNING" {
				if s.clock.Now().Sub(start) >= tc.wait {
					t.Fatalf("still RUNNING after %s: %s", tc.wait, e2tTaskLine(s.run(t, id)))
				}
				s.clock.Advance(time.Second)
				time.Sleep(20 * time.Millisecond)
			}
			w := s.awaitStatus(t, id, "TIMED_OUT")
			if w.Tasks[0].Status != "TIMED_OUT" {
				t.Fatalf("task %s", w.Tasks[0].Status)
			}
		})
	}
}

// TestConductorE2EPollTimeoutTests is PollTimeoutTests.testPollTimeout
// (@Disabled in Conductor for its Postgres queue): timed_out_task
// (metadata/timed-out-tasks-not-removed.json, unmodified), started with
// its definition in the request; its optional task (inline
// taskDefinition: pollTimeoutSeconds 1, retryCount 2, LINEAR_BACKOFF 1 s)
// is queued; after five rounds of 3 s and a decide nobody polled it, and
// its queue is empty: the attempts that timed out were removed from it.
func TestConductorE2EPollTimeoutTests(t *testing.T) {
	s := newE2TServer(t)
	if n := s.size(t, "let_it_poll_timeout"); n != 0 {
		t.Fatalf("Task queue size should be zero but it was %d", n)
	}
	def := readConductorFile(t, "timed-out-tasks-not-removed.json")
	var wf struct{ Name string }
	if err := json.Unmarshal(def, &wf); err != nil {
		t.Fatal(err)
	}
	code, _, id := s.do(t, "POST", "/api/workflow", `{"name":"`+wf.Name+`","workflowDef":`+string(def)+`}`)
	if code != 200 || id == "" {
		t.Fatalf("startWorkflow: %d %s", code, id)
	}
	deadline := time.Now().Add(10 * time.Second)
	for s.size(t, "let_it_poll_timeout") == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the task was never queued")
		}
		time.Sleep(5 * time.Millisecond)
	}
	for range 5 {
		s.clock.Advance(3 * time.Second)
		time.Sleep(30 * time.Millisecond)
		if resp, err := s.wf.Decide(t.Context(), id); err != nil {
			t.Fatalf("runDecider: %v (status %d)", err, status(resp))
		}
	}
	deadline = time.Now().Add(10 * time.Second)
	for n := s.size(t, "let_it_poll_timeout"); n != 0; n = s.size(t, "let_it_poll_timeout") {
		if time.Now().After(deadline) {
			t.Fatalf("Task queue size should be zero but it was %d: %s", n, e2tTaskLine(s.run(t, id)))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestConductorE2EWaitTaskTest: WaitTaskTest's three workflows, each
// started with its definition in the request (executeDynamic, or
// StartWorkflowRequest.workflowDef): a WAIT of "2s" (the Java SDK's
// Wait(ref, Duration.of(2, SECONDS))) completes after its 2 s, its single
// task ending less than 15 s after it was scheduled; a WAIT of "2 seconds"
// in a run started with the taskToDomain {"*": "my_domain"} runs without a
// domain; a SET_VARIABLE then a WAIT of "1 second" both complete.
func TestConductorE2EWaitTaskTest(t *testing.T) {
	s := newE2TServer(t)
	start := func(t *testing.T, req model.StartWorkflowRequest, wait time.Duration) model.Workflow {
		t.Helper()
		id := s.start(t, req)
		// The WAIT's end (waitUntil) is recorded before its timer is armed
		// from it: once it shows, moving the clock fires the timer.
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			_, _, body := s.do(t, "GET", "/api/workflow/"+id, "")
			var doc struct {
				Tasks []struct {
					TaskType  string `json:"taskType"`
					WaitUntil int64  `json:"waitUntil"`
				} `json:"tasks"`
			}
			_ = json.Unmarshal([]byte(body), &doc)
			if n := len(doc.Tasks); n > 0 && doc.Tasks[n-1].TaskType == "WAIT" && doc.Tasks[n-1].WaitUntil > 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the WAIT never recorded its end: %s", body)
			}
		}
		s.clock.Advance(wait)
		return s.awaitStatus(t, id, "COMPLETED")
	}
	t.Run("testWaitTimeout", func(t *testing.T) {
		def := transcribedDef(t, "e2e_wait_task_test.json")
		run := start(t, model.StartWorkflowRequest{Name: def.Name, Version: 1, WorkflowDef: &def, Input: map[string]any{}}, 2*time.Second)
		if len(run.Tasks) != 1 {
			t.Fatalf("%d tasks: %s", len(run.Tasks), e2tTaskLine(run))
		}
		if took := run.Tasks[0].EndTime - run.Tasks[0].ScheduledTime; took >= 15000 {
			t.Fatalf("Wait task did not complete in time, took %d millis", took)
		}
	})
	t.Run("startWorkflowWithDomain", func(t *testing.T) {
		def := transcribedDef(t, "e2e_wait_task__with_domain.json")
		run := start(t, model.StartWorkflowRequest{Name: def.Name, Version: 1, WorkflowDef: &def, TaskToDomain: map[string]string{"*": "my_domain"}}, 2*time.Second)
		if len(run.Tasks) != 1 || run.Tasks[0].TaskType != "WAIT" || run.Tasks[0].Domain != "" || run.Tasks[0].Status != "COMPLETED" {
			t.Fatalf("tasks %s, domain %q", e2tTaskLine(run), run.Tasks[0].Domain)
		}
	})
	t.Run("setVariableAndWaitTaskTest", func(t *testing.T) {
		def := transcribedDef(t, "e2e_set_variable_wait_workflow.json")
		run := start(t, model.StartWorkflowRequest{Name: def.Name, Version: 1, WorkflowDef: &def}, time.Second)
		if len(run.Tasks) != 2 || run.Tasks[0].TaskType != "SET_VARIABLE" || run.Tasks[0].Status != "COMPLETED" ||
			run.Tasks[1].TaskType != "WAIT" || run.Tasks[1].Status != "COMPLETED" {
			t.Fatalf("tasks %s", e2tTaskLine(run))
		}
		wt := run.Tasks[1].WorkflowTask
		if wt == nil || wt.TaskDefinition == nil || wt.TaskDefinition.Name == "" {
			t.Fatalf("the WAIT task's workflowTask.taskDefinition.name: %+v", wt)
		}
	})
}
