package engine_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// userTask is the test harness's USER_TASK system task: with asyncComplete
// it stays IN_PROGRESS until it is completed from outside; otherwise it
// completes with the size of its largeInput.TEST_SAMPLE list.
type userTask struct{}

func (userTask) Execute(_ context.Context, req *tasks.Request) tasks.Result {
	var def struct {
		AsyncComplete bool `json:"asyncComplete"`
	}
	_ = json.Unmarshal(req.Def, &def)
	if def.AsyncComplete {
		return tasks.Result{Status: tasks.InProgress}
	}
	var in struct {
		LargeInput map[string][]any `json:"largeInput"`
	}
	_ = json.Unmarshal(req.Input, &in)
	size := 1
	if l, ok := in.LargeInput["TEST_SAMPLE"]; ok {
		size = len(l)
	}
	out, _ := json.Marshal(map[string]int{"size": size})
	return tasks.Result{Status: tasks.Completed, Output: out}
}

// SystemTaskSpec "Test system task with asyncComplete set to true": the
// harness's USER_TASK (registered here as the harness registers it, in the
// task registry) has asyncComplete: it stays IN_PROGRESS after it started
// until its result is given from outside (the spec's
// workflowExecutor.updateTask, CompleteTask here); the run then completes.
func TestConductorSystemTaskAsyncComplete(t *testing.T) {
	reg := tasks.NewDefaultRegistry()
	reg.Register("USER_TASK", userTask{})
	e := harnessEngine(t, nil, append(harnessWorkers(map[string]string{"integration_task_1": `{"op":"task1.done"}`}, nil),
		engine.WithRegistry(reg))...)
	d := harnessDef(t, e, "simple_workflow_with_async_complete_system_task_integration_test.json")
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(context.Background(), d, json.RawMessage(`{"param1":"p1 value","param2":"p2 value"}`),
			engine.WithRunID("async-system"), engine.WithCorrelationID("async_complete_test"))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	wf := waitTasks(t, e, "async-system", "integration_task_1:COMPLETED", "USER_TASK:IN_PROGRESS")
	if wf.Status != engine.StatusRunning || wf.Tasks[1].Input["input"] != "task1.done" {
		t.Fatalf("%s, user task input %v", wf.Status, wf.Tasks[1].Input)
	}
	if _, err := e.CompleteTask(context.Background(), "async-system", "user_task", engine.TaskCompleted,
		json.RawMessage(`{"op":"user.task.done"}`)); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("run %+v", res)
	}
	wf = viewRun(t, e, "async-system")
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "USER_TASK:COMPLETED")
	if wf.Tasks[1].Output["op"] != "user.task.done" {
		t.Fatalf("user task output %v", wf.Tasks[1].Output)
	}
}
