package server_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"

	"github.com/wfrun/wfrun/engine"
)

// clockServer is a Conductor server whose engine runs on a manual clock.
func clockServer(t *testing.T) (*conductorServer, *engine.ManualClock) {
	t.Helper()
	mc := engine.NewManualClock(time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	return newConductorServerWith(t, nil, []engine.Option{engine.WithClock(mc)}), mc
}

// runDoc is the part of a Conductor Workflow these tests read.
type runDoc struct {
	Status string `json:"status"`
	Reason string `json:"reasonForIncompletion"`
	Output map[string]any
	Tasks  []struct {
		TaskID        string         `json:"taskId"`
		TaskType      string         `json:"taskType"`
		Ref           string         `json:"referenceTaskName"`
		Status        string         `json:"status"`
		Reason        string         `json:"reasonForIncompletion"`
		RetryCount    int            `json:"retryCount"`
		RetriedTaskID string         `json:"retriedTaskId"`
		Output        map[string]any `json:"outputData"`
	} `json:"tasks"`
}

// waitRun reads the run until ok accepts it (the engine works
// asynchronously to the requests that moved it).
func (ts *conductorServer) waitRun(t *testing.T, id string, what string, ok func(d runDoc) bool) runDoc {
	t.Helper()
	var d runDoc
	var body string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		_, _, body = ts.do(t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
		d = runDoc{}
		if json.Unmarshal([]byte(body), &d) == nil && ok(d) {
			return d
		}
	}
	t.Fatalf("run %s never reached %s: %s", id, what, body)
	return d
}

func (ts *conductorServer) pollRaw(t *testing.T, name string, timeoutMS int) []map[string]any {
	t.Helper()
	_, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/"+name+"?workerid=w1&count=1&timeout="+itoa(timeoutMS), "")
	var got []map[string]any
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("poll %s: %v %s", name, err, body)
	}
	return got
}

func itoa(n int) string { b, _ := json.Marshal(n); return string(b) }

// TestConductorResponseTimeoutSpec runs the test harness's RTOWF definition
// (simple_workflow_with_resp_time_out_integration_test.json, task_rt with
// responseTimeoutSeconds 10 and retryCount 1) as SimpleWorkflowSpec's "Test
// Simple Workflow with response timeout" does, with the Go SDK's task and
// workflow clients, and asserts what it asserts: the polled task that is
// not answered within 10 s is TIMED_OUT and a retry is SCHEDULED in its
// place; the retry called back after 2 s is SCHEDULED again, then polled
// and completed; the run completes. The first worker's late answer is
// taken with 200, as Conductor takes it, and applied to nothing.
func TestConductorResponseTimeoutSpec(t *testing.T) {
	ts, mc := clockServer(t)
	defs, err := os.ReadFile("../../testdata/conductor/taskdefs/test_harness_taskdefs.json")
	if err != nil {
		t.Fatal(err)
	}
	if st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", string(defs)); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	wf, err := os.ReadFile("../../testdata/conductor/simple_workflow_with_resp_time_out_integration_test.json")
	if err != nil {
		t.Fatal(err)
	}
	if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", string(wf)); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	ctx := context.Background()
	api := client.NewAPIClient(nil, settings.NewHttpSettings(ts.URL+"/api"))
	wc, tc := client.NewWorkflowClient(api), client.NewTaskClient(api)
	id, _, err := wc.StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "RTOWF", Version: 1, CorrelationId: "unit_test_1",
		Input: map[string]any{"param1": "p1 value", "param2": "p2 value"}})
	if err != nil {
		t.Fatal(err)
	}
	status := func() model.Workflow {
		t.Helper()
		w, _, err := wc.GetExecutionStatus(ctx, id, &client.WorkflowResourceApiGetExecutionStatusOpts{IncludeTasks: optional.NewBool(true)})
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	poll := func(name string) []model.Task {
		t.Helper()
		got, _, err := tc.BatchPoll(ctx, name, &client.TaskResourceApiBatchPollOpts{Workerid: optional.NewString("task1.integration.worker.testTimeout"),
			Count: optional.NewInt32(1), Timeout: optional.NewInt32(200)})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	ts.waitRun(t, id, "task_rt SCHEDULED", func(d runDoc) bool { return len(d.Tasks) == 1 })
	if w := status(); w.Status != "RUNNING" || len(w.Tasks) != 1 || w.Tasks[0].TaskType != "task_rt" || w.Tasks[0].Status != "SCHEDULED" {
		t.Fatalf("after start: %s %+v", w.Status, w.Tasks)
	}
	first := poll("task_rt")
	if len(first) != 1 || first[0].TaskType != "task_rt" || first[0].WorkflowInstanceId != id || first[0].Status != "IN_PROGRESS" {
		t.Fatalf("first poll: %+v", first)
	}
	if again := poll("task_rt"); len(again) != 0 {
		t.Fatalf("a second poll got the polled task: %+v", again)
	}
	ts.waitRun(t, id, "task_rt IN_PROGRESS", func(d runDoc) bool { return len(d.Tasks) == 1 && d.Tasks[0].Status == "IN_PROGRESS" })

	mc.Advance(11 * time.Second) // the worker stays silent past responseTimeoutSeconds
	d := ts.waitRun(t, id, "a retry", func(d runDoc) bool { return len(d.Tasks) == 2 })
	if d.Status != "RUNNING" || d.Tasks[0].Status != "TIMED_OUT" || d.Tasks[1].Status != "SCHEDULED" ||
		d.Tasks[1].RetryCount != 1 || d.Tasks[1].RetriedTaskID != first[0].TaskId || d.Tasks[1].TaskID == first[0].TaskId ||
		d.Tasks[0].Reason != "responseTimeout: 10 exceeded for the taskId: "+first[0].TaskId+" with Task Definition: task_rt" {
		t.Fatalf("after the response timeout: %+v", d)
	}

	// The first worker answers late: taken with 200 (Conductor ignores an
	// update of an ended task), applied to nothing.
	late, _, err := tc.UpdateTask(ctx, &model.TaskResult{WorkflowInstanceId: id, TaskId: first[0].TaskId, Status: "COMPLETED",
		OutputData: map[string]any{"op": "late answer"}})
	if err != nil || late != first[0].TaskId {
		t.Fatalf("late update: %q %v", late, err)
	}

	second := poll("task_rt")
	if len(second) != 1 || second[0].TaskId != d.Tasks[1].TaskID || second[0].RetryCount != 1 {
		t.Fatalf("poll of the retry: %+v", second)
	}
	if _, _, err := tc.UpdateTask(ctx, &model.TaskResult{WorkflowInstanceId: id, TaskId: second[0].TaskId, Status: "IN_PROGRESS", CallbackAfterSeconds: 2}); err != nil {
		t.Fatal(err)
	}
	d = ts.waitRun(t, id, "the retry SCHEDULED again", func(d runDoc) bool { return len(d.Tasks) == 2 && d.Tasks[1].Status == "SCHEDULED" })
	if d.Status != "RUNNING" {
		t.Fatalf("after the callback update: %+v", d)
	}
	if got := poll("task_rt"); len(got) != 0 {
		t.Fatalf("offered before its callback time: %+v", got)
	}
	mc.Advance(2 * time.Second)
	var third []model.Task
	for deadline := time.Now().Add(5 * time.Second); len(third) == 0 && time.Now().Before(deadline); {
		third = poll("task_rt")
	}
	if len(third) != 1 || third[0].TaskId != second[0].TaskId {
		t.Fatalf("poll after the callback: %+v", third)
	}
	if _, _, err := tc.UpdateTask(ctx, &model.TaskResult{WorkflowInstanceId: id, TaskId: third[0].TaskId, Status: "COMPLETED",
		OutputData: map[string]any{"op": "task1.done"}}); err != nil {
		t.Fatal(err)
	}
	var t2 []model.Task
	for deadline := time.Now().Add(5 * time.Second); len(t2) == 0 && time.Now().Before(deadline); {
		t2 = poll("integration_task_2")
	}
	if len(t2) != 1 || t2[0].InputData["tp2"] != "task1.done" {
		t.Fatalf("integration_task_2: %+v", t2)
	}
	if _, _, err := tc.UpdateTask(ctx, &model.TaskResult{WorkflowInstanceId: id, TaskId: t2[0].TaskId, Status: "COMPLETED",
		OutputData: map[string]any{"uuid": "u-1"}}); err != nil {
		t.Fatal(err)
	}
	d = ts.waitRun(t, id, "COMPLETED", func(d runDoc) bool { return d.Status == "COMPLETED" })
	if len(d.Tasks) != 3 || d.Tasks[1].Output["op"] != "task1.done" || d.Output["o3"] != "task1.done" {
		t.Fatalf("completed run: %+v", d)
	}
	_, _, body := ts.do(t, "GET", "/api/workflow/"+id, "")
	if strings.Contains(body, "late answer") {
		t.Fatalf("the late answer was applied: %s", body)
	}
}

// TestConductorRemoteTaskTimeouts: the timeouts of a remote SIMPLE task and
// what follows them, each from its task definition, on the engine's clock:
// retries after retryDelaySeconds (EXPONENTIAL_BACKOFF: 5 s, LINEAR_BACKOFF
// 2 s × 3: 6 s), the workflow
// TIMED_OUT once they are spent, an optional task letting the workflow
// complete, timeoutSeconds with TIME_OUT_WF, pollTimeoutSeconds.
func TestConductorRemoteTaskTimeouts(t *testing.T) {
	for _, tc := range []struct {
		name, taskDef string
		optional      bool
		// steps: "poll" (a worker takes the task), "progress" (it reports
		// IN_PROGRESS), "advance:N" (seconds), "none" (nothing is offered)
		steps      []string
		wantStatus string
		wantTasks  []string
		wantReason string
	}{
		{"retries spent", `{"name":"slow_task","responseTimeoutSeconds":1,"retryCount":1,"retryDelaySeconds":5,"retryLogic":"EXPONENTIAL_BACKOFF"}`, false,
			[]string{"poll", "advance:1", "none", "advance:5", "poll", "advance:1"},
			"TIMED_OUT", []string{"TIMED_OUT", "TIMED_OUT"}, "responseTimeout: 1 exceeded"},
		{"linear backoff", `{"name":"slow_task","responseTimeoutSeconds":1,"retryCount":1,"retryDelaySeconds":2,"backoffScaleFactor":3,"retryLogic":"LINEAR_BACKOFF"}`, false,
			[]string{"poll", "advance:1", "none", "advance:5", "none", "advance:1", "poll", "advance:1"},
			"TIMED_OUT", []string{"TIMED_OUT", "TIMED_OUT"}, "responseTimeout: 1 exceeded"},
		{"optional", `{"name":"slow_task","responseTimeoutSeconds":1,"retryCount":0}`, true,
			[]string{"poll", "advance:1"},
			"COMPLETED", []string{"COMPLETED_WITH_ERRORS"}, ""},
		{"progress holds", `{"name":"slow_task","responseTimeoutSeconds":2,"retryCount":0,"timeoutSeconds":5,"timeoutPolicy":"TIME_OUT_WF"}`, false,
			[]string{"poll", "advance:1", "progress", "advance:1", "progress", "advance:1", "progress", "advance:2"},
			"TIMED_OUT", []string{"TIMED_OUT"}, "Task timed out after 5 seconds. Timeout configured as 5 seconds. Timeout policy configured to TIME_OUT_WF"},
		{"poll timeout", `{"name":"slow_task","pollTimeoutSeconds":3,"retryCount":0,"timeoutPolicy":"RETRY"}`, false,
			[]string{"advance:3"},
			"TIMED_OUT", []string{"TIMED_OUT"}, "Task poll timed out after 3 seconds. Poll timeout configured as 3 seconds"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, mc := clockServer(t)
			if st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", "["+tc.taskDef+"]"); st != 200 {
				t.Fatalf("taskdefs: %d %s", st, body)
			}
			def := simpleDef
			if tc.optional {
				def = strings.Replace(def, `"type":"SIMPLE"`, `"type":"SIMPLE","optional":true`, 1)
			}
			if st, _, body := ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
				t.Fatalf("register: %d %s", st, body)
			}
			_, _, id := ts.do(t, "POST", "/api/workflow/one_simple", `{"k":"v"}`)
			ts.waitRun(t, id, "a task", func(d runDoc) bool { return len(d.Tasks) == 1 })
			var held string
			for _, step := range tc.steps {
				switch {
				case step == "poll":
					var got []map[string]any
					for deadline := time.Now().Add(5 * time.Second); len(got) == 0 && time.Now().Before(deadline); {
						got = ts.pollRaw(t, "slow_task", 200)
					}
					if len(got) != 1 {
						t.Fatalf("%s: nothing to poll", step)
					}
					held, _ = got[0]["taskId"].(string)
				case step == "progress":
					upd, _ := json.Marshal(map[string]any{"taskId": held, "workflowInstanceId": id, "status": "IN_PROGRESS"})
					if st, _, body := ts.do(t, "POST", "/api/tasks", string(upd)); st != 200 {
						t.Fatalf("progress: %d %s", st, body)
					}
				case step == "none":
					if got := ts.pollRaw(t, "slow_task", 100); len(got) != 0 {
						t.Fatalf("offered before its retry delay: %v", got)
					}
				case strings.HasPrefix(step, "advance:"):
					var n int
					_ = json.Unmarshal([]byte(strings.TrimPrefix(step, "advance:")), &n)
					time.Sleep(20 * time.Millisecond) // let the engine take the last step in
					mc.Advance(time.Duration(n) * time.Second)
				}
			}
			d := ts.waitRun(t, id, tc.wantStatus, func(d runDoc) bool { return d.Status == tc.wantStatus })
			var got []string
			for _, x := range d.Tasks {
				got = append(got, x.Status)
			}
			if strings.Join(got, ",") != strings.Join(tc.wantTasks, ",") || !strings.Contains(d.Reason, tc.wantReason) {
				t.Fatalf("run: %s %q tasks %v; want %s with tasks %v and a reason about %q", d.Status, d.Reason, got, tc.wantStatus, tc.wantTasks, tc.wantReason)
			}
			if len(d.Tasks) == 2 && d.Tasks[1].RetriedTaskID != d.Tasks[0].TaskID {
				t.Errorf("retry: %+v", d.Tasks)
			}
		})
	}
}
