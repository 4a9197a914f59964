package server_test

import (
	"fmt"
	"testing"
)

// TestForkedTasksTakeNoAdHocDefinition: the tasks a FORK_JOIN_DYNAMIC
// forks are WorkflowTasks ForkJoinDynamicTaskMapper makes at run time,
// giving each the registered definition of its name or none; the ad-hoc
// new TaskDef(name) is given at the run's start (MetadataMapperService),
// to the tasks of its definition only. So GET /api/workflow/{id}, read
// through the Go client, shows a forked WAIT without a registered
// definition with no taskDefinition, in its record or its workflowTask,
// and the FORK and JOIN of the definition with their ad-hoc ones.
func TestForkedTasksTakeNoAdHocDefinition(t *testing.T) {
	c := newE2EClient(t, nil)
	def := `{"name":"forked_defs","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"dynamicTasks","dynamicForkTasksInputParamName":"dynamicTasksInput",
	  "inputParameters":{"dynamicTasks":[{"name":"fk_wait","taskReferenceName":"fw","type":"WAIT"}],
	   "dynamicTasksInput":{"fw":{}}}},
	 {"name":"join","taskReferenceName":"join","type":"JOIN"}]}`
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	id := c.start("forked_defs")
	c.await("the forked tasks", func() error {
		wf := c.get(id)
		if len(wf.Tasks) != 3 {
			return fmt.Errorf("%d tasks (%s)", len(wf.Tasks), describeTasks(wf))
		}
		for _, tk := range wf.Tasks {
			var own, wt string
			if tk.TaskDefinition != nil {
				own = tk.TaskDefinition.Name
			}
			if tk.WorkflowTask == nil {
				return fmt.Errorf("%s has no workflowTask", tk.ReferenceTaskName)
			}
			if tk.WorkflowTask.TaskDefinition != nil {
				wt = tk.WorkflowTask.TaskDefinition.Name
			}
			want := map[string]string{"fork": "fork", "join": "join", "fw": ""}[tk.ReferenceTaskName]
			if own != want || wt != want {
				t.Fatalf("%s: taskDefinition %q, workflowTask.taskDefinition %q; want %q", tk.ReferenceTaskName, own, wt, want)
			}
		}
		return nil
	})
}

// TestForkedTaskTakesItsRegisteredDefinition: ForkJoinDynamicTaskMapper
// gives each WorkflowTask it forks that has no taskDefinition the one
// registered for its name (metadataDAO.getTaskDef), and a Task's
// taskDefinition is its WorkflowTask's. So GET /api/workflow/{id} shows a
// forked task whose name is registered with that definition in its record
// and its workflowTask, as its poll does, whatever its type; a forked
// task of an unregistered name keeps showing none.
func TestForkedTaskTakesItsRegisteredDefinition(t *testing.T) {
	c := newE2EClient(t, nil)
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/taskdefs", `[{"name":"fk_registered","retryCount":2,"timeoutSeconds":100,"responseTimeoutSeconds":50,"ownerEmail":"a@b.c"}]`); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	def := `{"name":"forked_registered","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"dynamicTasks","dynamicForkTasksInputParamName":"dynamicTasksInput",
	  "inputParameters":{"dynamicTasks":[{"name":"fk_registered","taskReferenceName":"rs"},{"name":"fk_registered","taskReferenceName":"rw","type":"WAIT"},{"name":"fk_unregistered","taskReferenceName":"uw","type":"WAIT"}],
	   "dynamicTasksInput":{"rs":{},"rw":{},"uw":{}}}},
	 {"name":"join","taskReferenceName":"join","type":"JOIN"}]}`
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	id := c.start("forked_registered")
	c.awaitActive(id, "rs")
	polled := c.ts.pollRaw(t, "fk_registered", 0)
	if len(polled) != 1 || polled[0]["taskDefinition"] == nil {
		t.Fatalf("poll of rs: %v, want its registered taskDefinition", polled)
	}
	wf := c.get(id)
	for _, tk := range wf.Tasks {
		want, ok := map[string]int64{"rs": 50, "rw": 50, "uw": -1}[tk.ReferenceTaskName]
		if !ok {
			continue
		}
		if tk.WorkflowTask == nil {
			t.Fatalf("%s has no workflowTask", tk.ReferenceTaskName)
		}
		own, wt := tk.TaskDefinition, tk.WorkflowTask.TaskDefinition
		if want < 0 {
			if own != nil || wt != nil {
				t.Fatalf("%s: taskDefinition %+v, workflowTask.taskDefinition %+v; want none", tk.ReferenceTaskName, own, wt)
			}
			continue
		}
		if own == nil || wt == nil || own.Name != "fk_registered" || own.ResponseTimeoutSeconds != want || own.RetryCount != 2 || wt.ResponseTimeoutSeconds != want {
			t.Fatalf("%s: taskDefinition %+v, workflowTask.taskDefinition %+v; want the registered fk_registered", tk.ReferenceTaskName, own, wt)
		}
	}
}
