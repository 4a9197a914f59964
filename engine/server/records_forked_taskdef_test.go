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
