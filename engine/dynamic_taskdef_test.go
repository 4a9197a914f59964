package engine_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// A DYNAMIC task's resolved task takes the DYNAMIC task's own definition,
// never the one registered for the name it resolves: Conductor's start
// populates every task of the definition (MetadataMapperService: the
// definition registered for the task's name, else new TaskDef(name), with
// retryCount 0 and responseTimeoutSeconds 0 for a type other than
// SIMPLE), and DynamicTaskMapper.getDynamicTaskDefinition returns the
// WorkflowTask's definition when it has one: its "Invalid task specified.
// Cannot find task by name ..." cannot come for a task of the definition.
// DeciderService.retry then expects the WorkflowTask's retryCount, else
// that definition's.
func TestDynamicTaskTakesTheDynamicTasksDefinition(t *testing.T) {
	const def = `{"name":"dyn_wf","schemaVersion":2,"tasks":[{"name":"dyn","taskReferenceName":"d","type":"DYNAMIC",%s
	  "dynamicTaskNameParam":"tn","inputParameters":{"tn":"${workflow.input.tn}"}}]}`
	zero, one, two := 0, 1, 2
	cases := []struct {
		name     string
		defs     []*engine.TaskDef
		task     string // task-level settings of the DYNAMIC task
		resolve  string
		status   string
		attempts int64
	}{
		{"no definition anywhere: the DYNAMIC task's ad-hoc one, no retry", nil, "", "fail", engine.StatusFailed, 1},
		{"the resolved name's registered definition does not apply",
			[]*engine.TaskDef{{Name: "fail", RetryCount: &two, RetryDelaySeconds: &zero}}, "", "fail", engine.StatusFailed, 1},
		{"the DYNAMIC task's registered definition applies",
			[]*engine.TaskDef{{Name: "dyn", RetryCount: &one, RetryDelaySeconds: &zero}}, "", "fail", engine.StatusFailed, 2},
		{"the DYNAMIC task's own retryCount over its definition",
			[]*engine.TaskDef{{Name: "dyn", RetryCount: &zero, RetryDelaySeconds: &zero}}, `"retryCount":2,`, "flaky", engine.StatusCompleted, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defs := engine.NewTaskDefs()
			if err := defs.Put(c.defs...); err != nil {
				t.Fatal(err)
			}
			h := newHarness(t, nil, engine.WithTaskDefs(defs))
			res := h.run(fmt.Sprintf(def, c.task), `{"tn":"`+c.resolve+`"}`)
			v := viewRun(t, h.e, res.RunID)
			if v.Status != c.status || strings.Contains(v.Reason, "Invalid task specified") {
				t.Fatalf("run %s %q, want %s", v.Status, v.Reason, c.status)
			}
			if n := h.calls[c.resolve].Load(); n != c.attempts {
				t.Fatalf("%s ran %d times, want %d", c.resolve, n, c.attempts)
			}
			for _, tk := range v.Tasks {
				if tk.Ref != "d" || tk.TaskType != c.resolve {
					t.Fatalf("task %+v, want d as %s", tk, c.resolve)
				}
			}
		})
	}
}

// A DYNAMIC task a dynamic fork makes has the registry's definition of its
// name or none (ForkJoinDynamicTaskMapper looks it up; nothing populates
// it): without one, DynamicTaskMapper looks up the name it resolves and,
// finding none, throws its TerminateWorkflowException. It is mapped with
// the fork (getTasksToBeScheduled), so the decide stores nothing it
// mapped: the run fails with no FORK, no forked task and no JOIN.
func TestForkedDynamicTaskWithoutDefinitionFailsTheRun(t *testing.T) {
	const def = `{"name":"fork_dyn","schemaVersion":2,"tasks":[
	  {"name":"fj","taskReferenceName":"fj","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"dynamicTasks","dynamicForkTasksInputParamName":"inputs",
	   "inputParameters":{"dynamicTasks":[{"name":"inner_dyn","taskReferenceName":"x","type":"DYNAMIC","dynamicTaskNameParam":"tn"}],
	     "inputs":{"x":{"tn":"nosuch"}}}},
	  {"name":"join","taskReferenceName":"join","type":"JOIN"}]}`
	h := newHarness(t, nil, engine.WithTaskDefs(engine.NewTaskDefs()))
	res := h.run(def, `{}`)
	if want := "Invalid task specified.  Cannot find task by name nosuch in the task definitions"; res.Status != engine.StatusFailed || res.Reason != want {
		t.Fatalf("run %s %q, want FAILED %q", res.Status, res.Reason, want)
	}
	if v := viewRun(t, h.e, res.RunID); len(v.Tasks) != 0 {
		t.Fatalf("tasks %s, want none", refsStatuses(v))
	}
}
