package engine_test

import (
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// forkWithEmptyBranch is a FORK_JOIN whose second branch has no task.
const forkWithEmptyBranch = `{"name":"f","taskReferenceName":"f","type":"FORK_JOIN","forkTasks":[[{"name":"echo","taskReferenceName":"b0","inputParameters":{}}],[]]},
  {"name":"j","taskReferenceName":"j","type":"JOIN","joinOn":["b0"]}`

// Conductor's registration checks no fork branch's length, but its
// ForkJoinTaskMapper takes each branch's first task, and throws on an
// empty branch out of the decide. As the workflow's first task it is
// mapped by the start's decide, so the start fails: wfrun refuses the
// definition, naming the branch.
func TestForkWithAnEmptyBranchFirstIsRefused(t *testing.T) {
	for def, want := range map[string]string{
		`{"name":"w","tasks":[` + forkWithEmptyBranch + `]}`: `/tasks/0/forkTasks/1: FORK_JOIN "f": fork branch 1 has no task`,
		// A fork that is the first task of the first fork's branch is
		// mapped with it.
		`{"name":"w","tasks":[{"name":"o","taskReferenceName":"o","type":"FORK_JOIN","forkTasks":[[` + forkWithEmptyBranch + `]]},
		  {"name":"oj","taskReferenceName":"oj","type":"JOIN","joinOn":["j"]}]}`: `/tasks/0/forkTasks/0/0/forkTasks/1: FORK_JOIN "f": fork branch 1 has no task`,
	} {
		_, err := engine.ParseDefinition([]byte(def))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Count(err.Error(), "\n") != 1 {
			t.Errorf("%v, want one problem %q", err, want)
		}
	}
}

// Mapped by a later decide (after a worker's task, in a loop, in a case),
// the mapper's throw would leave the run RUNNING for ever: the run fails
// naming the branch instead, nothing of the fork recorded.
func TestForkWithAnEmptyBranchLaterFailsTheRun(t *testing.T) {
	for name, c := range map[string]struct{ def, loc string }{
		"after a task": {`{"name":"w","tasks":[{"name":"echo","taskReferenceName":"first","inputParameters":{}},` + forkWithEmptyBranch + `]}`, "/tasks/1/forkTasks/1"},
		"in a loop":    {inLoop(forkWithEmptyBranch), "/tasks/0/loopOver/0/forkTasks/1"},
		"in a case": {`{"name":"w","tasks":[{"name":"s","taskReferenceName":"s","type":"SWITCH","evaluatorType":"value-param","expression":"k","inputParameters":{"k":"a"},
		  "decisionCases":{"a":[` + forkWithEmptyBranch + `]}}]}`, "/tasks/0/decisionCases/a/0/forkTasks/1"},
	} {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, nil)
			res := h.run(c.def, `{}`)
			want := `FORK_JOIN "f" at ` + c.loc + `: fork branch 1 has no task, which Conductor's ForkJoinTaskMapper cannot map`
			if res.Status != engine.StatusFailed || res.Reason != want {
				t.Fatalf("run %s %q, want FAILED %q", res.Status, res.Reason, want)
			}
			v := viewRun(t, h.e, res.RunID)
			for _, tk := range v.Tasks {
				if tk.TaskType == "FORK" || tk.Ref == "b0" || tk.Ref == "j" {
					t.Fatalf("recorded %+v", v.Tasks)
				}
			}
		})
	}
}
