package server_test

import "testing"

// TestForkedTaskShowsTheDefinitionItWasMappedWith: ForkJoinDynamicTaskMapper
// copies the definition registered for a forked task's name onto the
// WorkflowTask it forks (DynamicTaskMapper, for a forked DYNAMIC task
// without one, that of the name it resolves), and the WorkflowTask is
// stored with the task: GET /api/workflow/{id} shows a forked task's
// taskDefinition as it was registered when the fork was mapped, not as it
// is registered since, and a forked task of a name none was registered
// for then keeps showing none.
func TestForkedTaskShowsTheDefinitionItWasMappedWith(t *testing.T) {
	c := newE2EClient(t, nil)
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/taskdefs", `[{"name":"fk_mapped","retryCount":2,"timeoutSeconds":100,"responseTimeoutSeconds":50,"ownerEmail":"a@b.c"}]`); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	def := `{"name":"forked_mapped","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"dynamicTasks","dynamicForkTasksInputParamName":"dynamicTasksInput",
	  "inputParameters":{"dynamicTasks":[{"name":"fk_mapped","taskReferenceName":"rs"},{"name":"fk_mapped","taskReferenceName":"rw","type":"WAIT"},
	    {"name":"fk_later","taskReferenceName":"uw","type":"WAIT"},{"name":"fk_dyn","taskReferenceName":"dy","type":"DYNAMIC","dynamicTaskNameParam":"tn"}],
	   "dynamicTasksInput":{"rs":{},"rw":{},"uw":{},"dy":{"tn":"fk_mapped"}}}},
	 {"name":"join","taskReferenceName":"join","type":"JOIN"}]}`
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	id := c.start("forked_mapped")
	c.awaitActive(id, "rs")
	c.awaitActive(id, "dy")
	if st, _, body := c.ts.do(t, "PUT", "/api/metadata/taskdefs", `{"name":"fk_mapped","retryCount":5,"timeoutSeconds":100,"responseTimeoutSeconds":70,"ownerEmail":"a@b.c"}`); st != 200 {
		t.Fatalf("update taskdef: %d %s", st, body)
	}
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/taskdefs", `[{"name":"fk_later","retryCount":1,"responseTimeoutSeconds":20,"ownerEmail":"a@b.c"}]`); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	wf := c.get(id)
	seen := 0
	for _, tk := range wf.Tasks {
		want, ok := map[string]int64{"rs": 50, "rw": 50, "dy": 50, "uw": -1}[tk.ReferenceTaskName]
		if !ok {
			continue
		}
		seen++
		if tk.WorkflowTask == nil {
			t.Fatalf("%s has no workflowTask", tk.ReferenceTaskName)
		}
		own, wt := tk.TaskDefinition, tk.WorkflowTask.TaskDefinition
		if want < 0 {
			if own != nil || wt != nil {
				t.Fatalf("%s: taskDefinition %+v, workflowTask.taskDefinition %+v; want none, as when it was mapped", tk.ReferenceTaskName, own, wt)
			}
			continue
		}
		if own == nil || wt == nil || own.Name != "fk_mapped" || own.ResponseTimeoutSeconds != want || own.RetryCount != 2 || wt.ResponseTimeoutSeconds != want || wt.RetryCount != 2 {
			t.Fatalf("%s: taskDefinition %+v, workflowTask.taskDefinition %+v; want fk_mapped as it was mapped", tk.ReferenceTaskName, own, wt)
		}
	}
	if seen != 4 {
		t.Fatalf("saw %d of the forked tasks, want 4", seen)
	}
}
