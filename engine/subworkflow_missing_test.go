package engine_test

import (
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// TestSubWorkflowWithoutDefinition: Conductor's SubWorkflowTaskMapper
// looks the latest version up for a child named without a version (and
// without an inline definition) and, finding none, throws a
// TerminateWorkflowException: the decision ends, none of the tasks it
// mapped is stored, and the run FAILS with "The Task <name> defined as a
// sub-workflow has no workflow definition available " (a SUB_WORKFLOW
// that is a fork branch's first task takes the FORK with it). A static
// name never gets there: the run's start pinned it or was refused
// (TestSubWorkflowStartRefusedWithoutDefinition); a name given by an
// expression does. A child named with a version is not looked up by the
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
		{"a name from the input, no version", wrap(sub(`{"name":"${workflow.input.child}"}`)),
			"The Task nope_input defined as a sub-workflow has no workflow definition available ", []string{"before"}, ""},
		{"a fork branch's first task", wrap(`{"name":"fk","taskReferenceName":"fk","type":"FORK_JOIN","forkTasks":[[` + sub(`{"name":"${workflow.input.child}"}`) + `],[{"name":"echo","taskReferenceName":"e2","inputParameters":{}}]]},
		  {"name":"jn","taskReferenceName":"jn","type":"JOIN","joinOn":["sw","e2"]}`),
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
			if res.Status != engine.StatusFailed || len(refs) != len(c.refs) || refs[len(refs)-1] != c.refs[len(c.refs)-1] {
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
