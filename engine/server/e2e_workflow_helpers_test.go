package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"
)

// e2eClient drives `wfrun serve` as the Java classes under Conductor's
// e2e/…/workflow/ drive a server: through the real Conductor Go SDK
// (WorkflowClient, TaskClient, MetadataClient, WorkflowBulkClient), and
// plain HTTP where the SDK has no call.
type e2eClient struct {
	t    *testing.T
	ts   *conductorServer
	ctx  context.Context
	wc   client.WorkflowClient
	tc   client.TaskClient
	mc   client.MetadataClient
	bulk client.WorkflowBulkClient
}

func newE2EClient(t *testing.T, ts *conductorServer) *e2eClient {
	if ts == nil {
		ts = newConductorServer(t, nil)
	}
	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	return &e2eClient{t: t, ts: ts, ctx: context.Background(),
		wc: client.NewWorkflowClient(api), tc: client.NewTaskClient(api),
		mc: client.NewMetadataClient(api), bulk: client.NewWorkflowBulkClient(api)}
}

// e2eDefs is a transcribed file: the task and workflow definitions a
// Java test registers (taskDefs first, as the metadata API needs them).
type e2eDefs struct {
	TaskDefs     []json.RawMessage `json:"taskDefs"`
	WorkflowDefs []json.RawMessage `json:"workflowDefs"`
}

// register loads testdata/conductor/<file> (a transcribed {taskDefs,
// workflowDefs} file) with the replacements old→new applied to its bytes
// (the Java tests register the same builder's definition under several
// names), and registers it through the metadata API.
func (c *e2eClient) register(file string, replace ...string) {
	c.t.Helper()
	b, err := os.ReadFile("../../testdata/conductor/" + file)
	if err != nil {
		c.t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(replace); i += 2 {
		s = strings.ReplaceAll(s, replace[i], replace[i+1])
	}
	var defs e2eDefs
	if err := json.Unmarshal([]byte(s), &defs); err != nil {
		c.t.Fatalf("%s: %v", file, err)
	}
	if len(defs.TaskDefs) > 0 {
		raw, _ := json.Marshal(defs.TaskDefs)
		if st, _, body := c.ts.do(c.t, "POST", "/api/metadata/taskdefs", string(raw)); st != 200 {
			c.t.Fatalf("%s: register task definitions: %d %s", file, st, body)
		}
	}
	raw, _ := json.Marshal(defs.WorkflowDefs)
	if st, _, body := c.ts.do(c.t, "PUT", "/api/metadata/workflow", string(raw)); st != 200 {
		c.t.Fatalf("%s: register workflow definitions: %d %s", file, st, body)
	}
}

// start is workflowClient.startWorkflow(StartWorkflowRequest{name, version 1}).
func (c *e2eClient) start(name string) string {
	c.t.Helper()
	id, _, err := c.wc.StartWorkflowWithRequest(c.ctx, model.StartWorkflowRequest{Name: name, Version: 1, Input: map[string]any{}})
	if err != nil || id == "" {
		c.t.Fatalf("start %s: %q %v", name, id, err)
	}
	return id
}

// get is workflowClient.getWorkflow(id, includeTasks=true). A child run
// that its parent's SUB_WORKFLOW task already names is waited for (up to
// 2 s): wfrun stores the child's id in the parent's task before it stores
// the child run, where Conductor stores the child first.
func (c *e2eClient) get(id string) model.Workflow {
	c.t.Helper()
	var err error
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(2 * time.Millisecond) {
		var wf model.Workflow
		var resp *http.Response
		wf, resp, err = c.wc.GetExecutionStatus(c.ctx, id, &client.WorkflowResourceApiGetExecutionStatusOpts{IncludeTasks: optional.NewBool(true)})
		if err == nil {
			return wf
		}
		if resp == nil || resp.StatusCode != http.StatusNotFound || time.Now().After(deadline) {
			break
		}
	}
	c.t.Fatalf("get %s: %v", id, err)
	return model.Workflow{}
}

// await is awaitility's untilAsserted: check returns nil once what the
// Java block asserts holds; the test fails with the last answer after 10 s.
func (c *e2eClient) await(what string, check func() error) {
	c.t.Helper()
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if err = check(); err == nil {
			return
		}
	}
	c.t.Fatalf("%s: %v", what, err)
}

// awaitStatus waits until run id has status.
func (c *e2eClient) awaitStatus(id, status string) model.Workflow {
	c.t.Helper()
	var wf model.Workflow
	c.await(id+" reaches "+status, func() error {
		wf = c.get(id)
		if string(wf.Status) != status {
			return fmt.Errorf("status %s (%s)", wf.Status, describeTasks(wf))
		}
		return nil
	})
	return wf
}

func describeTasks(wf model.Workflow) string {
	var parts []string
	for _, tk := range wf.Tasks {
		parts = append(parts, fmt.Sprintf("%s:%s:%s", tk.ReferenceTaskName, tk.TaskType, tk.Status))
	}
	return strings.Join(parts, " ")
}

// taskAt waits until run id has a task at index i and returns it.
func (c *e2eClient) taskAt(id string, i int) model.Task {
	c.t.Helper()
	var tk model.Task
	c.await(fmt.Sprintf("%s has a task %d", id, i), func() error {
		wf := c.get(id)
		if len(wf.Tasks) <= i || wf.Tasks[i].TaskId == "" {
			return fmt.Errorf("tasks: %s", describeTasks(wf))
		}
		tk = wf.Tasks[i]
		return nil
	})
	return tk
}

// subWorkflowAt waits until the task at index i of run id names its child.
func (c *e2eClient) subWorkflowAt(id string, i int) string {
	c.t.Helper()
	var child string
	c.await(fmt.Sprintf("%s task %d has a sub-workflow", id, i), func() error {
		wf := c.get(id)
		if len(wf.Tasks) <= i || wf.Tasks[i].SubWorkflowId == "" {
			return fmt.Errorf("%s: tasks: %s", wf.Status, describeTasks(wf))
		}
		child = wf.Tasks[i].SubWorkflowId
		return nil
	})
	return child
}

// taskByRef is the Java tests' findTaskByRef / taskOf: the first record of ref.
func taskByRef(wf model.Workflow, ref string) (model.Task, bool) {
	for _, tk := range wf.Tasks {
		if tk.ReferenceTaskName == ref {
			return tk, true
		}
	}
	return model.Task{}, false
}

// terminalTask is Task.Status.isTerminal().
func terminalTask(status model.TaskResultStatus) bool {
	switch status {
	case "IN_PROGRESS", "SCHEDULED":
		return false
	}
	return true
}

// terminalRun is Workflow.WorkflowStatus.isTerminal().
func terminalRun(status model.WorkflowStatus) bool {
	return status != "RUNNING" && status != "PAUSED"
}

// activeByRef is findActiveTaskByRef / findActiveTask: the first record
// of ref whose status is not terminal.
func activeByRef(wf model.Workflow, ref string) (model.Task, bool) {
	for _, tk := range wf.Tasks {
		if tk.ReferenceTaskName == ref && !terminalTask(tk.Status) {
			return tk, true
		}
	}
	return model.Task{}, false
}

// awaitActive waits until run id has an active record of ref.
func (c *e2eClient) awaitActive(id, ref string) model.Task {
	c.t.Helper()
	var tk model.Task
	c.await(id+" has an active "+ref, func() error {
		wf := c.get(id)
		var ok bool
		if tk, ok = activeByRef(wf, ref); !ok {
			return fmt.Errorf("tasks: %s", describeTasks(wf))
		}
		return nil
	})
	return tk
}

// update is taskClient.updateTask(TaskResult{workflowInstanceId, taskId,
// status, reasonForIncompletion}).
func (c *e2eClient) update(wfID, taskID, status, reason string, output map[string]any) {
	c.t.Helper()
	if _, _, err := c.tc.UpdateTask(c.ctx, &model.TaskResult{WorkflowInstanceId: wfID, TaskId: taskID,
		Status: model.TaskResultStatus(status), ReasonForIncompletion: reason, OutputData: output}); err != nil {
		c.t.Fatalf("update %s/%s %s: %v", wfID, taskID, status, err)
	}
}

// completeWithStatus is WorkflowRetryTests.completeTaskWithStatus: a
// failing status carries "test-driven <status>" as its reason.
func (c *e2eClient) completeWithStatus(wfID, taskID, status string) {
	c.t.Helper()
	reason := ""
	if status == "FAILED" || status == "FAILED_WITH_TERMINAL_ERROR" {
		reason = "test-driven " + status
	}
	c.update(wfID, taskID, status, reason, nil)
}

// updateSync is taskClient.updateTaskSync(workflowId, ref, status,
// output): POST /api/tasks/{workflowId}/{ref}/{status}/sync, answering
// the run (the Go SDK has no call for it).
func (c *e2eClient) updateSync(wfID, ref, status string, output map[string]any) model.Workflow {
	c.t.Helper()
	if output == nil {
		output = map[string]any{}
	}
	raw, _ := json.Marshal(output)
	st, _, body := c.ts.do(c.t, "POST", "/api/tasks/"+wfID+"/"+ref+"/"+status+"/sync", string(raw))
	var wf model.Workflow
	if st != 200 || json.Unmarshal([]byte(body), &wf) != nil {
		c.t.Fatalf("updateTaskSync %s/%s %s: %d %s", wfID, ref, status, st, body)
	}
	return wf
}

// retryLast is workflowClient.retryLastFailedTask(id, resume).
func (c *e2eClient) retryLast(id string, resume bool) {
	c.t.Helper()
	if _, err := c.wc.Retry(c.ctx, id, &client.WorkflowResourceApiRetryOpts{ResumeSubworkflowTasks: optional.NewBool(resume)}); err != nil {
		c.t.Fatalf("retry %s (resume %v): %v", id, resume, err)
	}
}

// bulkRetry is workflowClient.retryWorkflow(List.of(ids…)): POST
// /api/workflow/bulk/retry; every id must be in the successful results.
func (c *e2eClient) bulkRetry(ids ...string) {
	c.t.Helper()
	resp, _, err := c.bulk.Retry1(c.ctx, ids)
	if err != nil || len(resp.BulkErrorResults) != 0 || strings.Join(resp.BulkSuccessfulResults, ",") != strings.Join(ids, ",") {
		c.t.Fatalf("bulk retry %v: %+v %v", ids, resp, err)
	}
}

// restart is workflowClient.restart(id, useLatestDefinitions).
func (c *e2eClient) restart(id string, latest bool) {
	c.t.Helper()
	if _, err := c.wc.Restart(c.ctx, id, &client.WorkflowResourceApiRestartOpts{UseLatestDefinitions: optional.NewBool(latest)}); err != nil {
		c.t.Fatalf("restart %s: %v", id, err)
	}
}

// terminate is workflowClient.terminateWorkflow(id, reason).
func (c *e2eClient) terminate(id, reason string) {
	c.t.Helper()
	if _, err := c.wc.Terminate(c.ctx, id, &client.WorkflowResourceApiTerminateOpts{Reason: optional.NewString(reason)}); err != nil {
		c.t.Fatalf("terminate %s: %v", id, err)
	}
}

// setOptional is metadataClient.getWorkflowDef(name, 1), its task i set
// optional, and updateWorkflowDefs of it.
func (c *e2eClient) setOptional(name string, i int) {
	c.t.Helper()
	st, _, body := c.ts.do(c.t, "GET", "/api/metadata/workflow/"+name+"?version=1", "")
	var def map[string]any
	if st != 200 || json.Unmarshal([]byte(body), &def) != nil {
		c.t.Fatalf("get definition %s: %d %s", name, st, body)
	}
	tasks, _ := def["tasks"].([]any)
	tasks[i].(map[string]any)["optional"] = true
	raw, _ := json.Marshal([]any{def})
	if st, _, body := c.ts.do(c.t, "PUT", "/api/metadata/workflow", string(raw)); st != 200 {
		c.t.Fatalf("update definition %s: %d %s", name, st, body)
	}
}

// with is c for subtest t (its failures are t's).
func (c *e2eClient) with(t *testing.T) *e2eClient {
	cc := *c
	cc.t = t
	return &cc
}
