package server_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"
)

// callbackSpec is a clock server with the harness's task definitions and
// integration_test_wf registered, a run of it started, and the SDK's
// clients.
type callbackSpec struct {
	ts  *conductorServer
	mc  interface{ Advance(time.Duration) }
	wc  client.WorkflowClient
	tc  client.TaskClient
	id  string
	ctx context.Context
}

func newCallbackSpec(t *testing.T) *callbackSpec {
	t.Helper()
	ts, mc := clockServer(t)
	defs, err := os.ReadFile("../../testdata/conductor/taskdefs/test_harness_taskdefs.json")
	if err != nil {
		t.Fatal(err)
	}
	if st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", string(defs)); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	registerConductorDef(t, ts, "simple_workflow_1_integration_test.json")
	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	s := &callbackSpec{ts: ts, mc: mc, wc: client.NewWorkflowClient(api), tc: client.NewTaskClient(api), ctx: context.Background()}
	s.id, _, err = s.wc.StartWorkflowWithRequest(s.ctx, model.StartWorkflowRequest{Name: "integration_test_wf", Version: 1,
		CorrelationId: "integration_test_1", Input: map[string]any{"param1": "p1 value", "param2": "p2 value"}})
	if err != nil {
		t.Fatal(err)
	}
	d := ts.waitRun(t, s.id, "integration_task_1 SCHEDULED", func(d runDoc) bool { return len(d.Tasks) == 1 })
	if d.Status != "RUNNING" || d.Tasks[0].Status != "SCHEDULED" {
		t.Fatalf("after start: %+v", d)
	}
	return s
}

// poll polls one task of name (nil when none comes within wait).
func (s *callbackSpec) poll(t *testing.T, name string, wait time.Duration) *model.Task {
	t.Helper()
	got, _, err := s.tc.BatchPoll(s.ctx, name, &client.TaskResourceApiBatchPollOpts{Workerid: optional.NewString("task1.integration.worker"),
		Count: optional.NewInt32(1), Timeout: optional.NewInt32(int32(wait / time.Millisecond))})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) == 0 {
		return nil
	}
	return &got[0]
}

func (s *callbackSpec) update(t *testing.T, task *model.Task, status string, callback int64, out map[string]any) {
	t.Helper()
	if _, _, err := s.tc.UpdateTask(s.ctx, &model.TaskResult{WorkflowInstanceId: s.id, TaskId: task.TaskId, WorkerId: "task1.integration.worker",
		Status: model.TaskResultStatus(status), CallbackAfterSeconds: callback, OutputData: out}); err != nil {
		t.Fatal(err)
	}
}

// SimpleWorkflowSpec "Test Long running simple workflow" through wfrun
// serve with the Go SDK: integration_task_1, answered IN_PROGRESS with
// callbackAfterSeconds 5, is not handed out again before the callback; 5 s
// later (the engine's clock) it is, and completed; its output is the last
// update's; integration_task_2 gets task 1's output and the run completes
// with two tasks.
func TestConductorLongRunningSpec(t *testing.T) {
	s := newCallbackSpec(t)
	try1 := s.poll(t, "integration_task_1", time.Second)
	if try1 == nil || try1.InputData["p1"] != "p1 value" || try1.InputData["p2"] != "p2 value" {
		t.Fatalf("first poll: %+v", try1)
	}
	s.update(t, try1, "IN_PROGRESS", 5, map[string]any{"op": "task1.in.progress"})
	s.ts.waitRun(t, s.id, "integration_task_1 SCHEDULED again", func(d runDoc) bool { return d.Tasks[0].Status == "SCHEDULED" })
	if again := s.poll(t, "integration_task_1", 200*time.Millisecond); again != nil {
		t.Fatalf("polled before its callback: %+v", again)
	}
	s.mc.Advance(6 * time.Second)
	try3 := s.poll(t, "integration_task_1", 2*time.Second)
	if try3 == nil || try3.TaskId != try1.TaskId || try3.PollCount != 2 {
		t.Fatalf("poll after the callback: %+v", try3)
	}
	s.update(t, try3, "COMPLETED", 0, map[string]any{"op": "task1.done"})
	d := s.ts.waitRun(t, s.id, "integration_task_2 SCHEDULED", func(d runDoc) bool { return len(d.Tasks) == 2 })
	if d.Tasks[0].Status != "COMPLETED" || d.Tasks[0].TaskType != "integration_task_1" || d.Tasks[0].Output["op"] != "task1.done" {
		t.Fatalf("task 1: %+v", d.Tasks[0])
	}
	t2 := s.poll(t, "integration_task_2", 2*time.Second)
	if t2 == nil || t2.InputData["tp2"] != "task1.done" || t2.InputData["tp1"] != "p1 value" {
		t.Fatalf("task 2: %+v", t2)
	}
	s.update(t, t2, "COMPLETED", 0, nil)
	d = s.ts.waitRun(t, s.id, "COMPLETED", func(d runDoc) bool { return d.Status == "COMPLETED" })
	if len(d.Tasks) != 2 || d.Tasks[1].Status != "COMPLETED" || d.Tasks[1].TaskType != "integration_task_2" {
		t.Fatalf("at the end: %+v", d.Tasks)
	}
}

// SimpleWorkflowSpec "Test simple workflow when update task's result with
// call back after seconds": an IN_PROGRESS update without
// callbackAfterSeconds puts the task back in the queue at once (SCHEDULED,
// callbackAfterSeconds 0) and the next poll takes it; one with 3600 puts it
// back SCHEDULED with callbackAfterSeconds 3600, and a poll finds nothing.
func TestConductorUpdateWithCallbackSpec(t *testing.T) {
	s := newCallbackSpec(t)
	try1 := s.poll(t, "integration_task_1", time.Second)
	if try1 == nil {
		t.Fatal("nothing polled")
	}
	const value = "in-progress-secret-3319"
	s.update(t, try1, "IN_PROGRESS", 0, map[string]any{"op": "task1.in.progress", "_secrets": map[string]any{"token": value}})
	w := func() model.Workflow {
		t.Helper()
		w, _, err := s.wc.GetExecutionStatus(s.ctx, s.id, &client.WorkflowResourceApiGetExecutionStatusOpts{IncludeTasks: optional.NewBool(true)})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	s.ts.waitRun(t, s.id, "integration_task_1 SCHEDULED again", func(d runDoc) bool { return d.Tasks[0].Status == "SCHEDULED" })
	if got := w(); got.Status != "RUNNING" || len(got.Tasks) != 1 || got.Tasks[0].TaskType != "integration_task_1" || got.Tasks[0].CallbackAfterSeconds != 0 {
		t.Fatalf("after IN_PROGRESS: %+v", got.Tasks)
	}
	// The update's outputData is the record's, protected as any output.
	if got := w(); got.Tasks[0].OutputData["op"] != "task1.in.progress" || got.Tasks[0].OutputData["_secrets"] != "***" {
		t.Fatalf("output after IN_PROGRESS: %v", got.Tasks[0].OutputData)
	}
	if stored, _, err := s.ts.runs.Load(s.ctx, s.id); err != nil || strings.Contains(string(stored), value) {
		t.Fatalf("the IN_PROGRESS output's secret is stored in clear (%v)", err)
	}
	if st, _, body := s.ts.do(t, "POST", "/api/tasks", `{"workflowInstanceId":"`+s.id+`","taskId":"`+try1.TaskId+`","status":"IN_PROGRESS","outputData":[1]}`); st != 400 {
		t.Fatalf("IN_PROGRESS with an array output: %d %s", st, body)
	}
	try2 := s.poll(t, "integration_task_1", 2*time.Second)
	if try2 == nil || try2.TaskId != try1.TaskId {
		t.Fatalf("second poll: %+v", try2)
	}
	s.update(t, try2, "IN_PROGRESS", 3600, map[string]any{"op": "task1.in.progress"})
	s.ts.waitRun(t, s.id, "integration_task_1 SCHEDULED again", func(d runDoc) bool { return d.Tasks[0].Status == "SCHEDULED" })
	if got := w(); got.Status != "RUNNING" || len(got.Tasks) != 1 || got.Tasks[0].Status != "SCHEDULED" || got.Tasks[0].CallbackAfterSeconds != 3600 {
		t.Fatalf("after IN_PROGRESS with a callback: %+v", got.Tasks)
	}
	if try3 := s.poll(t, "integration_task_1", 200*time.Millisecond); try3 != nil {
		t.Fatalf("polled before its callback: %+v", try3)
	}
}

// SimpleWorkflowSpec "Test simple workflow when the task's call back after
// seconds are reset": integration_task_1 answered IN_PROGRESS with
// callbackAfterSeconds 3600 is not polled again (twice); after
// ResetWorkflow (POST /api/workflow/{id}/resetcallbacks) it is, at once,
// and completed; integration_task_2 gets its output and the run
// completes. A reset of an unknown run is 404.
func TestConductorResetCallbacksSpec(t *testing.T) {
	s := newCallbackSpec(t)
	try1 := s.poll(t, "integration_task_1", time.Second)
	if try1 == nil || try1.InputData["p1"] != "p1 value" {
		t.Fatalf("first poll: %+v", try1)
	}
	s.update(t, try1, "IN_PROGRESS", 3600, map[string]any{"op": "task1.in.progress"})
	s.ts.waitRun(t, s.id, "integration_task_1 SCHEDULED again", func(d runDoc) bool { return d.Tasks[0].Status == "SCHEDULED" })
	for i := 0; i < 2; i++ {
		if again := s.poll(t, "integration_task_1", 200*time.Millisecond); again != nil {
			t.Fatalf("polled before its callback: %+v", again)
		}
	}
	if _, err := s.wc.ResetWorkflow(s.ctx, s.id); err != nil {
		t.Fatal(err)
	}
	try4 := s.poll(t, "integration_task_1", 2*time.Second)
	if try4 == nil || try4.TaskId != try1.TaskId {
		t.Fatalf("poll after the reset: %+v", try4)
	}
	s.update(t, try4, "COMPLETED", 0, map[string]any{"op": "task1.done"})
	d := s.ts.waitRun(t, s.id, "integration_task_2 SCHEDULED", func(d runDoc) bool { return len(d.Tasks) == 2 })
	if d.Tasks[0].Status != "COMPLETED" || d.Tasks[0].Output["op"] != "task1.done" {
		t.Fatalf("task 1: %+v", d.Tasks[0])
	}
	t2 := s.poll(t, "integration_task_2", 2*time.Second)
	if t2 == nil || t2.InputData["tp2"] != "task1.done" || t2.InputData["tp1"] != "p1 value" {
		t.Fatalf("task 2: %+v", t2)
	}
	s.update(t, t2, "COMPLETED", 0, nil)
	d = s.ts.waitRun(t, s.id, "COMPLETED", func(d runDoc) bool { return d.Status == "COMPLETED" })
	if len(d.Tasks) != 2 || d.Tasks[0].Status != "COMPLETED" || d.Tasks[1].Status != "COMPLETED" {
		t.Fatalf("at the end: %+v", d.Tasks)
	}
	// The late callback of the reset update hands out nothing.
	s.mc.Advance(2 * time.Hour)
	if late := s.poll(t, "integration_task_1", 200*time.Millisecond); late != nil {
		t.Fatalf("polled after the run ended: %+v", late)
	}
	if st, _, _ := s.ts.do(t, "POST", "/api/workflow/no-such-run/resetcallbacks", ""); st != 404 {
		t.Fatalf("reset of an unknown run: %d", st)
	}
}
