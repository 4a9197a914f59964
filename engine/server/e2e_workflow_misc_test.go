package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
)

// Ports of the smaller classes of conductor-oss/conductor e2e/src/test/
// java/io/conductor/e2e/workflow/ (b54f0d4): ClearContextTest,
// EndTimeIssueTests, FailureWorkflowTests, JavaSDKTests, WorkflowInputTests
// and WorkflowPriorityTests, through `wfrun serve` and the Go SDK.

// TestE2EContextNotPolluted is ClearContextTest.testContextNotPolluted:
// while another client updates the task definition over and over, a run
// started and read back has no ownerApp.
func TestE2EContextNotPolluted(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register("transcribed/e2e_clear_context.json")
	ctx, stop := context.WithCancel(c.ctx)
	updater := make(chan struct{})
	go func() {
		defer close(updater)
		def := model.TaskDef{Name: "clear_context_test_task", OwnerEmail: "test@conductor.io"}
		for i := 0; i < 1000 && ctx.Err() == nil; i++ {
			_, _ = c.mc.UpdateTaskDef(ctx, def)
		}
	}()
	id := c.start("clear_context_test_workflow")
	if wf := c.get(id); wf.OwnerApp != "" {
		t.Errorf("ownerApp should be empty but was: %q", wf.OwnerApp)
	}
	stop()
	<-updater
}

// TestE2EEndTimeIsReplacedCorrectly is EndTimeIssueTests.endTimeIsReplacedCorrectly
// (end_time_workflow.json, unmodified): the first SIMPLE task, polled
// IN_PROGRESS and completed, then end_time_simple_2 and _3, each polled
// IN_PROGRESS with an input endTime, ${simple_ref.endTime}, no earlier
// than the test's start.
func TestE2EEndTimeIsReplacedCorrectly(t *testing.T) {
	start := time.Now().UnixMilli()
	c := newE2EClient(t, nil)
	def, err := os.ReadFile("../../testdata/conductor/end_time_workflow.json")
	if err != nil {
		t.Fatal(err)
	}
	if st, _, body := c.ts.do(t, "PUT", "/api/metadata/workflow", "["+string(def)+"]"); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	id := c.start("end_time_issue_wf")
	poll := func(taskType string) model.Task {
		t.Helper()
		var task model.Task
		c.await("poll "+taskType, func() error {
			var err error
			task, _, err = c.tc.Poll(c.ctx, taskType, &client.TaskResourceApiPollOpts{Workerid: optional.NewString("end-time-worker")})
			if err != nil || task.TaskId == "" {
				return fmt.Errorf("nothing polled (%v)", err)
			}
			return nil
		})
		if task.WorkflowInstanceId != id || task.Status != "IN_PROGRESS" {
			t.Fatalf("polled %s: run %s status %s", taskType, task.WorkflowInstanceId, task.Status)
		}
		return task
	}
	first := poll("end_time_simple")
	if first.ReferenceTaskName != "simple_ref" {
		t.Fatalf("polled %s", first.ReferenceTaskName)
	}
	c.update(id, first.TaskId, "COMPLETED", "", first.OutputData)
	for _, taskType := range []string{"end_time_simple_2", "end_time_simple_3"} {
		task := poll(taskType)
		end, ok := task.InputData["endTime"].(float64)
		if !ok || int64(end) < start {
			t.Fatalf("Invalid value for ${simple_ref.endTime}: %v in task %s", task.InputData["endTime"], taskType)
		}
		c.update(id, task.TaskId, "COMPLETED", "", task.OutputData)
	}
	c.awaitStatus(id, "COMPLETED")
}

// registerWorkflowData registers the definitions of workflow_data.json
// (unmodified but for this_will_fail's HTTP host, pointed at api) one by
// one, as FailureWorkflowTests' @BeforeAll does in one call, and the task
// definitions of tasks_data.json.
func (c *e2eClient) registerWorkflowData(api string) {
	c.t.Helper()
	var defs []json.RawMessage
	if err := json.Unmarshal(readConductorFile(c.t, "workflow_data.json"), &defs); err != nil {
		c.t.Fatal(err)
	}
	for _, d := range defs {
		body := strings.ReplaceAll(string(d), "https://orkes-api-tester.orkesconductor.com", api)
		if st, _, resp := c.ts.do(c.t, "PUT", "/api/metadata/workflow", "["+body+"]"); st != 200 {
			c.t.Fatalf("updateWorkflowDefs: %d %s", st, resp)
		}
	}
	if st, _, resp := c.ts.do(c.t, "POST", "/api/metadata/taskdefs", string(readConductorFile(c.t, "tasks_data.json"))); st != 200 {
		c.t.Fatalf("registerTaskDefs: %d %s", st, resp)
	}
}

// TestE2EFailureTasksAreNotLost is FailureWorkflowTests.testFailureTasksAreNotLost:
// 100 runs of this_will_fail (its last HTTP task gets a 404); each, once
// terminal, has tasks and is retried (retryLastFailedTask); each fails
// again, with its tasks.
func TestE2EFailureTasksAreNotLost(t *testing.T) {
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/api" {
			w.WriteHeader(http.StatusNotFound)
			_, _ = w.Write([]byte(`{"error":"not found"}`))
			return
		}
		_, _ = w.Write([]byte(`{"fact":"a fact"}`))
	}))
	t.Cleanup(api.Close)
	c := newE2EClient(t, nil)
	c.registerWorkflowData(api.URL)
	pending := map[string]bool{}
	var retried []string
	for i := 0; i < 100; i++ {
		pending[c.start("this_will_fail")] = true
	}
	for deadline := time.Now().Add(20 * time.Second); len(pending) > 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d runs never ended", len(pending))
		}
		for id := range pending {
			wf := c.get(id)
			if !terminalRun(wf.Status) {
				continue
			}
			if len(wf.Tasks) == 0 {
				t.Fatalf("%s %s has no tasks", id, wf.Status)
			}
			delete(pending, id)
			c.retryLast(id, true)
			retried = append(retried, id)
		}
	}
	for _, id := range retried {
		c.await(id+" FAILED again with its tasks", func() error {
			wf := c.get(id)
			if wf.Status != "FAILED" || len(wf.Tasks) == 0 {
				return fmt.Errorf("%s with %d tasks", wf.Status, len(wf.Tasks))
			}
			return nil
		})
	}
}

// TestE2EFailureWorkflowInputs is FailureWorkflowTests.testFailureWorkflowInputs:
// the first task completed (updateTaskSync with {status, reason}), the
// second failed with FAILED_WITH_TERMINAL_ERROR and a reason; the run
// FAILED has output["conductor.failure_workflow"], the failure run's id,
// whose input has failedWorkflow (with the failed run's tasks and the
// first task's output), failureTaskId, workflowId, failureStatus FAILED
// and the reason.
func TestE2EFailureWorkflowInputs(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register("transcribed/e2e_failure_workflow_def.json")
	id := c.start("failure-workflow-test")
	first := c.taskAt(id, 0)
	wf := c.updateSync(id, first.ReferenceTaskName, "COMPLETED", map[string]any{"status": "completed", "reason": "inserted"})
	if len(wf.Tasks) < 2 {
		t.Fatalf("updateTaskSync answered %s", describeTasks(wf))
	}
	const reason = "Employee not found"
	c.update(id, wf.Tasks[1].TaskId, "FAILED_WITH_TERMINAL_ERROR", reason, nil)
	var failureID string
	c.await("FAILED with its failure workflow", func() error {
		wf := c.get(id)
		failureID, _ = wf.Output["conductor.failure_workflow"].(string)
		if wf.Status != "FAILED" || failureID == "" {
			return fmt.Errorf("%s, output %v", wf.Status, wf.Output)
		}
		return nil
	})
	in := c.get(failureID).Input
	for _, k := range []string{"failedWorkflow", "failureTaskId", "workflowId"} {
		if in[k] == nil {
			t.Errorf("failure run input has no %s: %v", k, in)
		}
	}
	if in["failureStatus"] != "FAILED" {
		t.Errorf("failureStatus %v", in["failureStatus"])
	}
	if r, _ := in["reason"].(string); !strings.Contains(r, reason) {
		t.Errorf("Reason should contain %q: %q", reason, r)
	}
	failed, _ := in["failedWorkflow"].(map[string]any)
	tasks, _ := failed["tasks"].([]any)
	if len(tasks) == 0 {
		t.Fatalf("failedWorkflow has no tasks: %v", failed)
	}
	out, _ := tasks[0].(map[string]any)["outputData"].(map[string]any)
	if out["reason"] != "inserted" || out["status"] != "completed" {
		t.Errorf("failedWorkflow.tasks[0].outputData = %v", out)
	}
}

// TestE2EJavaSDK is JavaSDKTests.testSDK (@Disabled in Conductor for its
// SDK's shared worker pool): a run of a definition given in the start
// request (the SDK's executeDynamic), its one SIMPLE task answered by a
// worker polling it (the @WorkerTask task1: greetings "Hello, <name>"),
// COMPLETED with one task whose output has the greeting.
func TestE2EJavaSDK(t *testing.T) {
	c := newE2EClient(t, nil)
	var def model.WorkflowDef
	if err := json.Unmarshal(readConductorFile(t, "transcribed/e2e_java_sdk_workflow.json"), &def); err != nil {
		t.Fatal(err)
	}
	id, _, err := c.wc.StartWorkflowWithRequest(c.ctx, model.StartWorkflowRequest{Name: def.Name, Version: def.Version, WorkflowDef: &def, Input: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	// The worker: poll task1, answer greetings.
	c.await("task1 polled and answered", func() error {
		task, _, err := c.tc.Poll(c.ctx, "task1", &client.TaskResourceApiPollOpts{Workerid: optional.NewString("sdk-worker")})
		if err != nil || task.TaskId == "" {
			return fmt.Errorf("nothing polled (%v)", err)
		}
		c.update(task.WorkflowInstanceId, task.TaskId, "COMPLETED", "", map[string]any{"greetings": "Hello, " + fmt.Sprint(task.InputData["name"])})
		return nil
	})
	wf := c.awaitStatus(id, "COMPLETED")
	if len(wf.Tasks) != 1 || wf.Tasks[0].OutputData["greetings"] != "Hello, orkes" {
		t.Fatalf("run: %s, output %v", describeTasks(wf), wf.Tasks)
	}
}

// TestE2EWorkflowInput is WorkflowInputTests (its method named
// testWorkflowSearchPermissions): a run's input holding text that looks
// like expressions keeps it as given.
func TestE2EWorkflowInput(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register("transcribed/e2e_workflow_input_def.json")
	var input map[string]any
	if err := json.Unmarshal([]byte(`{"a":[{"b":["${workflow.functions.date_utc}"]}], "c":"${workflow.c}", "d":"${workflow.task2.output.a}"}`), &input); err != nil {
		t.Fatal(err)
	}
	id, _, err := c.wc.StartWorkflowWithRequest(c.ctx, model.StartWorkflowRequest{Name: "workflow_input_test", Version: 1, Input: input})
	if err != nil {
		t.Fatal(err)
	}
	wf := c.get(id)
	if wf.Input["c"] != "${workflow.c}" || wf.Input["d"] != "${workflow.task2.output.a}" {
		t.Fatalf("input %v", wf.Input)
	}
}

// TestE2EWorkflowPriorityWorkflowTerminated is
// WorkflowPriorityTests.testWorkflowPriorityWorkflowTerminated: of two runs
// (priority 2, then priority 1), the higher-priority one terminated
// through the bulk API, a poll of priority-task gets the other's task.
func TestE2EWorkflowPriorityWorkflowTerminated(t *testing.T) {
	c := newE2EClient(t, nil)
	c.register("transcribed/e2e_workflow_priority_def.json")
	start := func(priority int32) string {
		id, _, err := c.wc.StartWorkflowWithRequest(c.ctx, model.StartWorkflowRequest{Name: "workflow-priority-test", Priority: priority, Input: map[string]any{}})
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	lower := start(2)
	higher := start(1)
	resp, _, err := c.bulk.Terminate(c.ctx, []string{higher}, &client.WorkflowBulkResourceApiTerminateOpts{Reason: optional.NewString("Terminated by e2e")})
	if err != nil || len(resp.BulkSuccessfulResults) != 1 {
		t.Fatalf("terminateWorkflows: %+v %v", resp, err)
	}
	c.await("a task of the lower-priority run polled", func() error {
		task, _, err := c.tc.Poll(c.ctx, "priority-task", &client.TaskResourceApiPollOpts{Workerid: optional.NewString("e2e")})
		if err != nil || task.TaskId == "" {
			return fmt.Errorf("nothing polled (%v)", err)
		}
		if task.WorkflowInstanceId != lower {
			t.Fatalf("polled a task of %s, want %s (the terminated run is %s)", task.WorkflowInstanceId, lower, higher)
		}
		return nil
	})
	c.terminate(lower, "terminate - priority limiter test")
}
