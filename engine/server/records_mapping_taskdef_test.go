package server_test

import (
	"testing"

	"github.com/conductor-sdk/conductor-go/sdk/model"
)

// mappedDefOf checks the record of ref in wf: its taskDefinition and its
// workflowTask.taskDefinition both have responseTimeoutSeconds want (-1:
// neither is there).
func mappedDefOf(t *testing.T, wf model.Workflow, ref string, want int64) {
	t.Helper()
	for _, tk := range wf.Tasks {
		if tk.ReferenceTaskName != ref {
			continue
		}
		if tk.WorkflowTask == nil {
			t.Fatalf("%s has no workflowTask", ref)
		}
		own, wt := tk.TaskDefinition, tk.WorkflowTask.TaskDefinition
		if want < 0 {
			if own != nil || wt != nil {
				t.Errorf("%s: taskDefinition %+v, workflowTask.taskDefinition %+v; want none, as its mapping took none", ref, own, wt)
			}
			return
		}
		if own == nil || wt == nil || own.ResponseTimeoutSeconds != want || wt.ResponseTimeoutSeconds != want {
			t.Errorf("%s: taskDefinition %+v, workflowTask.taskDefinition %+v; want responseTimeoutSeconds %d, as its mapping took it", ref, own, wt, want)
		}
		return
	}
	t.Fatalf("no record of %s", ref)
}

// TestForkedTasksOfALaterIterationShowTheirMappingsDefinition: a dynamic
// fork in a DO_WHILE maps its tasks again in each iteration, each mapping
// taking the definition registered at its moment (ForkJoinDynamicTaskMapper
// for a forked task's name, DynamicTaskMapper for the name a forked
// DYNAMIC task resolves): iteration 2's records, a WAIT's and a DYNAMIC
// task's, show the definition registered when iteration 2 mapped them
// (responseTimeoutSeconds 70), iteration 1's the one of iteration 1 (50).
func TestForkedTasksOfALaterIterationShowTheirMappingsDefinition(t *testing.T) {
	c := newE2EClient(t, nil)
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/taskdefs", `[{"name":"fk_loop","retryCount":2,"timeoutSeconds":100,"responseTimeoutSeconds":50,"ownerEmail":"a@b.c"}]`); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	def := `{"name":"forked_loop_mappings","version":1,"schemaVersion":2,"tasks":[
	 {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 2","loopOver":[
	  {"name":"fj","taskReferenceName":"fj","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"dynamicTasks","dynamicForkTasksInputParamName":"inputs",
	   "inputParameters":{"dynamicTasks":[{"name":"fk_loop","taskReferenceName":"w","type":"WAIT"},{"name":"fk_loop_dyn","taskReferenceName":"dy","type":"DYNAMIC","dynamicTaskNameParam":"tn"}],
	    "inputs":{"w":{},"dy":{"tn":"fk_loop"}}}},
	  {"name":"join","taskReferenceName":"join","type":"JOIN"}]}]}`
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	id := c.start("forked_loop_mappings")
	w1, dy1 := c.awaitActive(id, "w__1"), c.awaitActive(id, "dy__1")
	if st, _, body := c.ts.do(t, "PUT", "/api/metadata/taskdefs", `{"name":"fk_loop","retryCount":2,"timeoutSeconds":100,"responseTimeoutSeconds":70,"ownerEmail":"a@b.c"}`); st != 200 {
		t.Fatalf("update taskdef: %d %s", st, body)
	}
	c.update(id, w1.TaskId, "COMPLETED", "", nil)
	c.update(id, dy1.TaskId, "COMPLETED", "", nil)
	c.awaitActive(id, "w__2")
	c.awaitActive(id, "dy__2")
	wf := c.get(id)
	for ref, want := range map[string]int64{"w__1": 50, "dy__1": 50, "w__2": 70, "dy__2": 70} {
		mappedDefOf(t, wf, ref, want)
	}
}

// TestForkedTaskMappedAfterItsDefinitionWasDeletedShowsNone: the run
// holds the definition of a name its definition has (the gate's), and the
// definition is deleted before a dynamic fork maps a task of that name:
// ForkJoinDynamicTaskMapper finds none registered and copies none, so the
// forked task's record shows none, while the gate's shows the one the run
// started with.
func TestForkedTaskMappedAfterItsDefinitionWasDeletedShowsNone(t *testing.T) {
	c := newE2EClient(t, nil)
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/taskdefs", `[{"name":"fk_gone","retryCount":2,"timeoutSeconds":100,"responseTimeoutSeconds":50,"ownerEmail":"a@b.c"}]`); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	def := `{"name":"forked_after_delete","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fk_gone","taskReferenceName":"gate","type":"WAIT"},
	 {"name":"fj","taskReferenceName":"fj","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"dynamicTasks","dynamicForkTasksInputParamName":"inputs",
	  "inputParameters":{"dynamicTasks":[{"name":"fk_gone","taskReferenceName":"w","type":"WAIT"}],"inputs":{"w":{}}}},
	 {"name":"join","taskReferenceName":"join","type":"JOIN"}]}`
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	id := c.start("forked_after_delete")
	gate := c.awaitActive(id, "gate")
	if st, _, body := c.ts.do(t, "DELETE", "/api/metadata/taskdefs/fk_gone", ""); st != 200 {
		t.Fatalf("delete taskdef: %d %s", st, body)
	}
	c.update(id, gate.TaskId, "COMPLETED", "", nil)
	c.awaitActive(id, "w")
	wf := c.get(id)
	mappedDefOf(t, wf, "gate", 50)
	mappedDefOf(t, wf, "w", -1)
}

// TestForkedDynamicTaskShowsItsMappingsDefinition: a DYNAMIC task a
// dynamic fork maps takes, from DynamicTaskMapper, the definition
// registered for the name it resolves when it is mapped, and its record
// shows that one, not the one the run held for the name before (the
// start's, which the gate of that name keeps showing).
func TestForkedDynamicTaskShowsItsMappingsDefinition(t *testing.T) {
	c := newE2EClient(t, nil)
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/taskdefs", `[{"name":"fk_dynres","retryCount":2,"timeoutSeconds":100,"responseTimeoutSeconds":50,"ownerEmail":"a@b.c"}]`); st != 200 {
		t.Fatalf("taskdefs: %d %s", st, body)
	}
	def := `{"name":"forked_dynamic_mapping","version":1,"schemaVersion":2,"tasks":[
	 {"name":"fk_dynres","taskReferenceName":"gate","type":"WAIT"},
	 {"name":"fj","taskReferenceName":"fj","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"dynamicTasks","dynamicForkTasksInputParamName":"inputs",
	  "inputParameters":{"dynamicTasks":[{"name":"fk_dynres_dyn","taskReferenceName":"dy","type":"DYNAMIC","dynamicTaskNameParam":"tn"}],"inputs":{"dy":{"tn":"fk_dynres"}}}},
	 {"name":"join","taskReferenceName":"join","type":"JOIN"}]}`
	if st, _, body := c.ts.do(t, "POST", "/api/metadata/workflow", def); st != 200 {
		t.Fatalf("register: %d %s", st, body)
	}
	id := c.start("forked_dynamic_mapping")
	gate := c.awaitActive(id, "gate")
	if st, _, body := c.ts.do(t, "PUT", "/api/metadata/taskdefs", `{"name":"fk_dynres","retryCount":2,"timeoutSeconds":100,"responseTimeoutSeconds":70,"ownerEmail":"a@b.c"}`); st != 200 {
		t.Fatalf("update taskdef: %d %s", st, body)
	}
	c.update(id, gate.TaskId, "COMPLETED", "", nil)
	c.awaitActive(id, "dy")
	wf := c.get(id)
	mappedDefOf(t, wf, "gate", 50)
	mappedDefOf(t, wf, "dy", 70)
}
