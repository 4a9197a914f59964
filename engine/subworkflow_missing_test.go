package engine_test

import (
	"slices"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// TestSubWorkflowWithoutDefinition: Conductor's SubWorkflowTaskMapper
// looks the latest version up for a child named without a version (and
// without an inline definition) and, finding none, throws a
// TerminateWorkflowException: the decision ends, none of the tasks it
// mapped is stored (for a dynamic fork's task: no FORK, no JOIN, as
// ForkJoinDynamicTaskMapper maps the forked tasks before any is stored),
// and the run FAILS with "The Task <name> defined as a
// sub-workflow has no workflow definition available ". A name written in
// the definition never gets there, given by an expression or not: the
// run's start pinned it or was refused (TestSubWorkflowStartRefusedWithoutDefinition,
// TestSubWorkflowExpressionNamePinnedAsWritten); a task made at run time
// does. A child named with a version is not looked up by the
// mapper: SubWorkflow.start fails the task (FAILED, retried as its
// definition says) with its lookup's "No such workflow defined. name=…,
// version=…". wfrun failed the task FAILED_WITH_TERMINAL_ERROR in both
// cases.
func TestSubWorkflowWithoutDefinition(t *testing.T) {
	sub := func(param string) string {
		return `{"name":"sw","taskReferenceName":"sw","type":"SUB_WORKFLOW","inputParameters":{},"subWorkflowParam":` + param + `}`
	}
	wrap := func(tasks string) string {
		return `{"name":"missing_sub","version":1,"schemaVersion":2,"tasks":[{"name":"echo","taskReferenceName":"before","inputParameters":{}},` + tasks + `]}`
	}
	cases := []struct {
		name, def, reason string
		refs              []string // the records stored, in order
		swStatus          string
	}{
		{"a dynamic fork's task", wrap(`{"name":"fk","taskReferenceName":"fk","type":"FORK_JOIN_DYNAMIC","dynamicForkTasksParam":"tasks","dynamicForkTasksInputParamName":"inputs",
		  "inputParameters":{"tasks":[` + sub(`{"name":"${workflow.input.child}"}`) + `],"inputs":{"sw":{}}}},
		  {"name":"jn","taskReferenceName":"jn","type":"JOIN"}`),
			"The Task nope_input defined as a sub-workflow has no workflow definition available ", []string{"before"}, ""},
		{"a version", wrap(sub(`{"name":"nope_wf","version":2}`)),
			"", []string{"before", "sw"}, engine.TaskFailed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()), engine.WithDefinitionsDir(t.TempDir()))
			res := h.run(c.def, `{"child":"nope_input"}`)
			_, recs := rawTasks(t, h.e, res.RunID)
			var refs []string
			var sw map[string]any
			for _, tk := range recs {
				refs = append(refs, tk["referenceTaskName"].(string))
				if tk["referenceTaskName"] == "sw" {
					sw = tk
				}
			}
			if res.Status != engine.StatusFailed || !slices.Equal(refs, c.refs) {
				t.Fatalf("run %s %q, records %v; want FAILED, records %v", res.Status, res.Reason, refs, c.refs)
			}
			if c.reason != "" && res.Reason != c.reason {
				t.Fatalf("reason %q, want %q", res.Reason, c.reason)
			}
			if c.swStatus != "" && (sw["status"] != c.swStatus || sw["reasonForIncompletion"] != "No such workflow defined. name=nope_wf, version=2") {
				t.Fatalf("sw: %v %v; want %s, No such workflow defined. name=nope_wf, version=2", sw["status"], sw["reasonForIncompletion"], c.swStatus)
			}
		})
	}
}
