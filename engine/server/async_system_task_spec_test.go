package server_test

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// rsDoc is what the resilience specs read of GET /api/workflow/{id}.
type rsDoc struct {
	Status string `json:"status"`
	Tasks  []struct {
		TaskID        string `json:"taskId"`
		TaskType      string `json:"taskType"`
		Ref           string `json:"referenceTaskName"`
		Status        string `json:"status"`
		SubWorkflowID string `json:"subWorkflowId"`
		Callback      int64  `json:"callbackAfterSeconds"`
	} `json:"tasks"`
}

// rsServer is a Conductor server with the test harness's task definitions
// registered and the given definition files of testdata/conductor.
func rsServer(t *testing.T, more []engine.Option, files ...string) *conductorServer {
	t.Helper()
	ts := newConductorServerWith(t, nil, more)
	defs, err := os.ReadFile("../../testdata/conductor/taskdefs/test_harness_taskdefs.json")
	if err != nil {
		t.Fatal(err)
	}
	if st, _, body := ts.do(t, "POST", "/api/metadata/taskdefs", string(defs)); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	for _, f := range files {
		registerConductorDef(t, ts, f)
	}
	return ts
}

func rsStart(t *testing.T, ts *testServer, name, correlationID, input string) string {
	t.Helper()
	st, _, id := ts.do(t, "POST", "/api/workflow", `{"name":"`+name+`","version":1,"correlationId":"`+correlationID+`","input":`+input+`}`)
	if st != 200 {
		t.Fatalf("start %s: %d %s", name, st, id)
	}
	return id
}

func rsGet(t *testing.T, ts *testServer, id string) rsDoc {
	t.Helper()
	st, _, body := ts.do(t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
	var d rsDoc
	if st != 200 || json.Unmarshal([]byte(body), &d) != nil {
		t.Fatalf("get %s: %d %s", id, st, body)
	}
	return d
}

// rsWait reads the run until ok accepts it.
func rsWait(t *testing.T, ts *testServer, id, what string, ok func(rsDoc) bool) rsDoc {
	t.Helper()
	var d rsDoc
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if d = rsGet(t, ts, id); ok(d) {
			return d
		}
	}
	t.Fatalf("run %s never reached %s: %+v", id, what, d)
	return d
}

// rsTasks is "type:STATUS ..." of a run's task list.
func rsTasks(d rsDoc) string {
	var b strings.Builder
	for i, tk := range d.Tasks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(tk.TaskType + ":" + tk.Status)
	}
	return b.String()
}

// rsPollComplete polls one task of taskType (as pollAndCompleteTask does:
// a few tries) and completes it with output.
func rsPollComplete(t *testing.T, ts *testServer, taskType, output string) map[string]any {
	t.Helper()
	got := rsPoll(t, ts, taskType, 2000)
	if len(got) != 1 {
		t.Fatalf("poll %s: %v", taskType, got)
	}
	body := `{"workflowInstanceId":"` + got[0]["workflowInstanceId"].(string) + `","taskId":"` + got[0]["taskId"].(string) +
		`","workerId":"test.worker","status":"COMPLETED","outputData":` + output + `}`
	if st, _, b := ts.do(t, "POST", "/api/tasks", body); st != 200 {
		t.Fatalf("update %s: %d %s", taskType, st, b)
	}
	return got[0]
}

// rsPoll is a batch poll of one task of taskType, waiting up to timeoutMS.
func rsPoll(t *testing.T, ts *testServer, taskType string, timeoutMS int) []map[string]any {
	t.Helper()
	st, _, body := ts.do(t, "GET", "/api/tasks/poll/batch/"+taskType+"?workerid=test.worker&count=1&timeout="+itoa(timeoutMS), "")
	var got []map[string]any
	if err := json.Unmarshal([]byte(body), &got); st != 200 || err != nil {
		t.Fatalf("poll %s: %d %s", taskType, st, body)
	}
	return got
}

// AsyncSystemTaskWorkerSpec, through wfrun serve: nothing drives the
// SUB_WORKFLOW task by hand. Once integration_task_1 is polled and
// completed, the parent's SUB_WORKFLOW task is IN_PROGRESS with its child,
// and the child runs its first task ("the real system task worker polls
// and starts the SUB_WORKFLOW task"). Five decides of the parent while the
// child runs (the spec's sweeps) leave exactly one running sub_workflow,
// one SUB_WORKFLOW task pointing at it, and nothing in a SUB_WORKFLOW
// task queue ("repeated sweeps do not duplicate an in-flight SUB_WORKFLOW
// task").
func TestConductorAsyncSystemTaskWorkerSpec(t *testing.T) {
	for _, sweeps := range []int{0, 5} {
		name := "starts the SUB_WORKFLOW task"
		if sweeps > 0 {
			name = "repeated sweeps do not duplicate it"
		}
		t.Run(name, func(t *testing.T) {
			ts := rsServer(t, nil, "simple_one_task_sub_workflow_integration_test.json", "workflow_with_sub_workflow_1_integration_test.json")
			root := rsStart(t, ts.testServer, "integration_test_wf_with_sub_wf", "worker_poll_execute",
				`{"param1":"p1 value","param2":"p2 value","subwf":"sub_workflow"}`)
			d := rsWait(t, ts.testServer, root, "integration_task_1 SCHEDULED", func(d rsDoc) bool { return len(d.Tasks) == 1 })
			if d.Status != "RUNNING" || rsTasks(d) != "integration_task_1:SCHEDULED" {
				t.Fatalf("after start: %s %s", d.Status, rsTasks(d))
			}
			rsPollComplete(t, ts.testServer, "integration_task_1", `{"op":"task1.done"}`)
			d = rsWait(t, ts.testServer, root, "SUB_WORKFLOW IN_PROGRESS with its child", func(d rsDoc) bool {
				return len(d.Tasks) == 2 && d.Tasks[1].TaskType == "SUB_WORKFLOW" && d.Tasks[1].Status == "IN_PROGRESS" && d.Tasks[1].SubWorkflowID != ""
			})
			child := d.Tasks[1].SubWorkflowID
			c := rsWait(t, ts.testServer, child, "its first task", func(d rsDoc) bool { return len(d.Tasks) == 1 })
			if c.Status != "RUNNING" || c.Tasks[0].TaskType != "simple_task_in_sub_wf" {
				t.Fatalf("child %s %s", c.Status, rsTasks(c))
			}
			for i := 0; i < sweeps; i++ {
				if st, _, body := ts.do(t, "PUT", "/api/workflow/decide/"+root, ""); st != 200 {
					t.Fatalf("decide: %d %s", st, body)
				}
			}
			time.Sleep(100 * time.Millisecond) // what a decide started has run
			st, _, body := ts.do(t, "GET", "/api/workflow/running/sub_workflow?version=1", "")
			if st != 200 || body != `["`+child+`"]` {
				t.Fatalf("running sub_workflow: %d %s, want [%s]", st, body, child)
			}
			d = rsGet(t, ts.testServer, root)
			var subs []string
			for _, tk := range d.Tasks {
				if tk.TaskType == "SUB_WORKFLOW" {
					subs = append(subs, tk.SubWorkflowID)
				}
			}
			if len(subs) != 1 || subs[0] != child || d.Status != "RUNNING" {
				t.Fatalf("parent %s: SUB_WORKFLOW tasks' children %v, want [%s]", d.Status, subs, child)
			}
			if st, _, body := ts.do(t, "GET", "/api/tasks/queue/size?taskType=SUB_WORKFLOW", ""); st != 200 || body != "0" {
				t.Fatalf("SUB_WORKFLOW queue size: %d %s", st, body)
			}
		})
	}
}

// DynamicForkJoinLockContentionSpec "control: with no lock contention the
// same JOIN schedules the next task immediately", through wfrun serve:
// integration_task_1 answers two dynamic tasks; once both are completed
// (and the run decided, as the spec sweeps), the JOIN is COMPLETED and
// integration_task_4 SCHEDULED while the run is RUNNING; completing it
// completes the run (the contention case's last step).
func TestConductorDynamicForkJoinNextTask(t *testing.T) {
	ts := rsServer(t, nil, "dynamic_fork_join_integration_test.json", "simple_workflow_3_integration_test.json")
	id := rsStart(t, ts.testServer, "DynamicFanInOutTest", "dynamic_fork_join_workflow", `{}`)
	rsPollComplete(t, ts.testServer, "integration_task_1", `{"dynamicTasks":[{"name":"integration_task_2","taskReferenceName":"xdt1"},
	  {"name":"integration_task_3","taskReferenceName":"xdt2"}],"dynamicTasksInput":{"xdt1":{"k1":"v1"},"xdt2":{"k2":"v2"}}}`)
	rsPollComplete(t, ts.testServer, "integration_task_2", `{"ok1":"ov1"}`)
	rsPollComplete(t, ts.testServer, "integration_task_3", `{"ok1":"ov1"}`)
	if st, _, body := ts.do(t, "PUT", "/api/workflow/decide/"+id, ""); st != 200 {
		t.Fatalf("decide: %d %s", st, body)
	}
	d := rsWait(t, ts.testServer, id, "integration_task_4", func(d rsDoc) bool {
		for _, tk := range d.Tasks {
			if tk.TaskType == "integration_task_4" {
				return true
			}
		}
		return false
	})
	var join, next string
	for _, tk := range d.Tasks {
		switch {
		case tk.Ref == "dynamicfanouttask_join":
			join = tk.Status
		case tk.TaskType == "integration_task_4":
			next = tk.Status
		}
	}
	if d.Status != "RUNNING" || join != "COMPLETED" || next != "SCHEDULED" {
		t.Fatalf("run %s, JOIN %s, integration_task_4 %s: %s", d.Status, join, next, rsTasks(d))
	}
	rsPollComplete(t, ts.testServer, "integration_task_4", `{}`)
	if d := rsWait(t, ts.testServer, id, "COMPLETED", func(d rsDoc) bool { return d.Status != "RUNNING" }); d.Status != "COMPLETED" {
		t.Fatalf("run %s: %s", d.Status, rsTasks(d))
	}
}

// blockingTask is the test harness's BLOCKING_SYSTEM_TASK: each execution
// counts, then blocks until the test releases it, then completes.
type blockingTask struct {
	calls   atomic.Int32
	entered chan struct{}
	release chan struct{}
	once    sync.Once
}

func (b *blockingTask) Execute(ctx context.Context, _ *tasks.Request) tasks.Result {
	b.calls.Add(1)
	b.once.Do(func() { close(b.entered) })
	select {
	case <-b.release:
	case <-ctx.Done():
		return tasks.Result{Status: tasks.Failed, Reason: ctx.Err().Error()}
	}
	return tasks.Result{Status: tasks.Completed}
}

// AsyncSystemTaskDuplicateExecutionSpec "a blocked async system task is
// not executed twice when repair re-queues its message", through wfrun
// serve: while BLOCKING_SYSTEM_TASK's execution is blocked the task is
// SCHEDULED, with its start time (as Conductor persists it before start()),
// and decides of the run (the spec's sweep) do not start a second
// execution; released, the task and the run complete, still after one
// execution.
func TestConductorAsyncSystemTaskNotDuplicated(t *testing.T) {
	bt := &blockingTask{entered: make(chan struct{}), release: make(chan struct{})}
	reg := tasks.NewDefaultRegistry()
	reg.Register("BLOCKING_SYSTEM_TASK", bt)
	ts := rsServer(t, []engine.Option{engine.WithRegistry(reg)}, "blocking_system_task_workflow_integration_test.json")
	id := rsStart(t, ts.testServer, "test_blocking_system_task_workflow", "duplicate_execution", `{}`)
	select {
	case <-bt.entered:
	case <-time.After(15 * time.Second):
		t.Fatal("the blocking task never started")
	}
	if n := bt.calls.Load(); n != 1 {
		t.Fatalf("%d executions", n)
	}
	scheduled := func(when string) {
		t.Helper()
		st, _, body := ts.do(t, "GET", "/api/workflow/"+id+"?includeTasks=true", "")
		var d struct {
			Tasks []struct {
				TaskType  string `json:"taskType"`
				Status    string `json:"status"`
				StartTime int64  `json:"startTime"`
			} `json:"tasks"`
		}
		if st != 200 || json.Unmarshal([]byte(body), &d) != nil || len(d.Tasks) != 1 {
			t.Fatalf("%s: %d %s", when, st, body)
		}
		if tk := d.Tasks[0]; tk.TaskType != "BLOCKING_SYSTEM_TASK" || tk.Status != "SCHEDULED" || tk.StartTime == 0 {
			t.Fatalf("%s: task %s %s startTime %d; want SCHEDULED with its start time", when, tk.TaskType, tk.Status, tk.StartTime)
		}
	}
	rsWait(t, ts.testServer, id, "the blocking task's record", func(d rsDoc) bool { return len(d.Tasks) == 1 })
	scheduled("while start() runs")
	for i := 0; i < 5; i++ {
		if st, _, body := ts.do(t, "PUT", "/api/workflow/decide/"+id, ""); st != 200 {
			t.Fatalf("decide: %d %s", st, body)
		}
	}
	time.Sleep(time.Second)
	if n := bt.calls.Load(); n != 1 {
		t.Fatalf("%d executions after the decides", n)
	}
	scheduled("after the decides")
	close(bt.release)
	d := rsWait(t, ts.testServer, id, "COMPLETED", func(d rsDoc) bool { return d.Status != "RUNNING" })
	if d.Status != "COMPLETED" || rsTasks(d) != "BLOCKING_SYSTEM_TASK:COMPLETED" || bt.calls.Load() != 1 {
		t.Fatalf("run %s %s after %d executions", d.Status, rsTasks(d), bt.calls.Load())
	}
}
