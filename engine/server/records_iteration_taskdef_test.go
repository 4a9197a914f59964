package server_test

import "testing"

// TestForkedTaskOfEachIterationShowsItsOwnMapping: a dynamic fork in a
// DO_WHILE maps its tasks again in each iteration, and
// ForkJoinDynamicTaskMapper copies the definition registered at that
// moment onto each WorkflowTask it forks, stored with that iteration's
// task: GET /api/workflow/{id} shows iteration 1's task with the
// definition registered when iteration 1 mapped it (responseTimeoutSeconds
// 50) and iteration 2's with the one registered when iteration 2 mapped
// it (70), not both with the first mapping's.
func TestForkedTaskOfEachIterationShowsItsOwnMapping(t *testing.T) {
	c := newE2EClient(t, nil)
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/taskdefs", `[{"name":"fk_iter","retryCount":2,"timeoutSeconds":100,"responseTimeoutSeconds":50,"ownerEmail":"a@b.c"}]`); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	def := `{"name":"forked_iterations","version":1,"schemaVersion":2,"tasks":[
	 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 2","loopOver":[
	  {"name":"fj","taskReferenceName":"fj","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"dynamicTasks","dynamicForkTasksInputParamName":"inputs",
	   "inputParameters":{"dynamicTasks":[{"name":"fk_iter","taskReferenceName":"w","type":"WAIT"}],"inputs":{"w":{}}}},
	  {"name":"join","taskReferenceName":"join","type":"JOIN"}]}]}`
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	id := c.start("forked_iterations")
	first := c.awaitActive(id, "w__1")
	if st, _, body := c.ts.do(t, "PUT", "/api/metadata/taskdefs", `{"name":"fk_iter","retryCount":2,"timeoutSeconds":100,"responseTimeoutSeconds":70,"ownerEmail":"a@b.c"}`); st != 200 {
		t.Fatalf("update taskdef: %d %s", st, body)
	}
	c.update(id, first.TaskId, "COMPLETED", "", nil)
	c.awaitActive(id, "w__2")
	wf := c.get(id)
	seen := 0
	for _, tk := range wf.Tasks {
		want, ok := map[string]int64{"w__1": 50, "w__2": 70}[tk.ReferenceTaskName]
		if !ok {
			continue
		}
		seen++
		if tk.WorkflowTask == nil || tk.TaskDefinition == nil || tk.WorkflowTask.TaskDefinition == nil {
			t.Fatalf("%s: workflowTask %+v, taskDefinition %+v; want both with the definition its mapping took", tk.ReferenceTaskName, tk.WorkflowTask, tk.TaskDefinition)
		}
		own, wt := tk.TaskDefinition, tk.WorkflowTask.TaskDefinition
		if own.ResponseTimeoutSeconds != want || wt.ResponseTimeoutSeconds != want {
			t.Errorf("%s: taskDefinition.responseTimeoutSeconds %d, workflowTask.taskDefinition's %d; want %d, as its iteration's mapping took it",
				tk.ReferenceTaskName, own.ResponseTimeoutSeconds, wt.ResponseTimeoutSeconds, want)
		}
	}
	if seen != 2 {
		t.Fatalf("saw %d of the forked tasks, want 2", seen)
	}
}
