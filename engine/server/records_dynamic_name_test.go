package server_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/antihax/optional"
	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
)

// TestDynamicTaskIsNamedAfterTheTaskItRuns: Conductor's DynamicTaskMapper
// sets the name of the DYNAMIC task's WorkflowTask — the one the run keeps
// in its workflowDefinition, stored with the run — to the task it
// resolves, and makes the task from it; its type stays DYNAMIC and its
// taskDefinition the one the run's start gave it by its own name. Read
// through the Go client: before the task is reached the definition shows
// the DYNAMIC task's own name; once it runs as dn_worker, the run's
// workflowDefinition, the record's workflowTask and the polled task's
// workflowTask show dn_worker (type DYNAMIC, taskDefinition "dyn"), while
// the registered definition keeps "dyn".
func TestDynamicTaskIsNamedAfterTheTaskItRuns(t *testing.T) {
	c := newE2EClient(t, nil)
	def := `{"name":"dyn_named","version":1,"schemaVersion":2,"tasks":[
	 {"name":"gate","taskReferenceName":"gate","type":"WAIT"},
	 {"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn","inputParameters":{"tn":"dn_worker"}}]}`
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	id := c.start("dyn_named")
	show := func(wt *model.WorkflowTask) string {
		if wt == nil {
			return "none"
		}
		d := "none"
		if wt.TaskDefinition != nil {
			d = wt.TaskDefinition.Name
		}
		return wt.Name + " " + wt.Type_ + " def " + d
	}
	dynamicOf := func(wf model.Workflow) *model.WorkflowTask {
		if wf.WorkflowDefinition == nil || len(wf.WorkflowDefinition.Tasks) != 2 {
			return nil
		}
		return &wf.WorkflowDefinition.Tasks[1]
	}
	c.await("the WAIT", func() error {
		wf := c.get(id)
		if len(wf.Tasks) != 1 {
			return fmt.Errorf("tasks %s", describeTasks(wf))
		}
		if got := show(dynamicOf(wf)); got != "dyn DYNAMIC def dyn" {
			t.Fatalf("before it runs, the DYNAMIC task in workflowDefinition: %s, want its own name", got)
		}
		return nil
	})
	if st, _, body := c.ts.do(t, "POST", "/api/tasks/"+id+"/gate/COMPLETED", `{}`); st != 200 {
		t.Fatalf("complete the WAIT: %d %s", st, body)
	}
	const want = "dn_worker DYNAMIC def dyn"
	c.await("the dynamic task", func() error {
		wf := c.get(id)
		if len(wf.Tasks) != 2 {
			return fmt.Errorf("tasks %s", describeTasks(wf))
		}
		if got := show(dynamicOf(wf)); got != want {
			t.Errorf("workflowDefinition's DYNAMIC task: %s, want %s", got, want)
		}
		if got := show(wf.Tasks[1].WorkflowTask); got != want {
			t.Errorf("the record's workflowTask: %s, want %s", got, want)
		}
		return nil
	})
	task, _, err := c.tc.Poll(c.ctx, "dn_worker", &client.TaskResourceApiPollOpts{Workerid: optional.NewString("w")})
	if err != nil || task.WorkflowInstanceId != id {
		t.Fatalf("poll: %+v %v", task, err)
	}
	if got := show(task.WorkflowTask); got != want {
		t.Errorf("the polled task's workflowTask: %s, want %s", got, want)
	}
	reg, _, err := c.mc.Get(c.ctx, "dyn_named", &client.MetadataResourceApiGetOpts{Version: optional.NewInt32(1)})
	if err != nil || len(reg.Tasks) != 2 || reg.Tasks[1].Name != "dyn" {
		t.Errorf("the registered definition: %+v %v, want its DYNAMIC task named dyn", reg.Tasks, err)
	}
}

// TestDynamicTaskInALoopIsNamedPerIteration: a DYNAMIC task in a DO_WHILE
// is mapped again in each iteration, DynamicTaskMapper naming its
// WorkflowTask each time: the run's workflowDefinition shows the name of
// the last iteration's task, each record's workflowTask its own.
func TestDynamicTaskInALoopIsNamedPerIteration(t *testing.T) {
	c := newE2EClient(t, nil)
	def := `{"name":"dyn_loop_named","version":1,"schemaVersion":2,"tasks":[
	 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","inputParameters":{},
	  "loopCondition":"if ($.loop['iteration'] < 2) { true; } else { false; }",
	  "loopOver":[{"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn",
	   "inputParameters":{"tn":"dl_${loop.output.iteration}"}}]}]}`
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	id := c.start("dyn_loop_named")
	for _, name := range []string{"dl_1", "dl_2"} {
		task, _, err := c.tc.Poll(c.ctx, name, &client.TaskResourceApiPollOpts{Workerid: optional.NewString("w")})
		for deadline := time.Now().Add(10 * time.Second); (err != nil || task.TaskId == "") && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			task, _, err = c.tc.Poll(c.ctx, name, &client.TaskResourceApiPollOpts{Workerid: optional.NewString("w")})
		}
		if err != nil || task.WorkflowInstanceId != id {
			t.Fatalf("poll %s: %+v %v", name, task, err)
		}
		c.update(id, task.TaskId, "COMPLETED", "", nil)
	}
	wf := c.awaitStatus(id, "COMPLETED")
	if n := wf.WorkflowDefinition.Tasks[0].LoopOver[0].Name; n != "dl_2" {
		t.Errorf("workflowDefinition's DYNAMIC task: %s, want dl_2 (the last iteration's)", n)
	}
	for _, tk := range wf.Tasks {
		if tk.TaskType == "DO_WHILE" {
			continue
		}
		if tk.WorkflowTask == nil || tk.WorkflowTask.Name != tk.TaskDefName || tk.WorkflowTask.Type_ != "DYNAMIC" {
			t.Errorf("%s (%s): workflowTask %+v, want named %s, type DYNAMIC", tk.ReferenceTaskName, tk.TaskDefName, tk.WorkflowTask, tk.TaskDefName)
		}
	}
}
