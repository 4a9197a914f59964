package engine_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// A WAIT built at run time with both a duration and an until: Conductor's
// WaitTaskMapper.setCallbackAfter maps it FAILED_WITH_TERMINAL_ERROR,
// "Both 'duration' and 'until' specified. Please provide only one input"
// (WaitTaskMapperTest.testInvalidWaitConfig); a terminal failure is never
// retried, so the run FAILS with "Task <id> failed with status: FAILED and
// reason: '<that>'" and the JOIN is cancelled. Registration refuses such a
// WAIT written in a definition (WorkflowTaskTypeConstraint), so the test
// harness's dynamic fork (dynamic_fork_join_integration_test.json,
// unmodified) builds it, from its worker's output.
func TestWaitDurationAndUntilBothGivenAtRunTime(t *testing.T) {
	const both = "Both 'duration' and 'until' specified. Please provide only one input"
	out := `{"dynamicTasks":[{"name":"wait","taskReferenceName":"w","type":"WAIT"}],
	  "dynamicTasksInput":{"w":{"duration":"1s","until":"2030-01-01 00:00"}}}`
	e := harnessEngine(t, nil, harnessWorkers(map[string]string{"integration_task_1": out}, nil)...)
	d := harnessDef(t, e, "dynamic_fork_join_integration_test.json")
	res := startRun(t, e, d, `{}`)
	wf := viewRun(t, e, res.RunID)
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "FORK:COMPLETED", "WAIT:FAILED_WITH_TERMINAL_ERROR", "JOIN:CANCELED")
	w := wf.Tasks[2]
	if w.Reason != both {
		t.Fatalf("WAIT reason %q, want %q", w.Reason, both)
	}
	if want := "Task " + w.TaskID + " failed with status: FAILED and reason: '" + both + "'"; wf.Status != engine.StatusFailed || wf.Reason != want {
		t.Fatalf("run %s %q, want FAILED %q", wf.Status, wf.Reason, want)
	}
}

// A blank duration (or until) is not given: WaitTaskMapper reads each as
// text and takes a blank one as absent, so a WAIT whose duration is blank
// (written so, or resolved to nothing) and that has no until waits for
// ever, callbackAfterSeconds Integer.MAX_VALUE, until it is completed from
// outside; beside a blank duration an until is the wait. Conductor's
// registration (WorkflowTaskTypeConstraint.isWaitTaskValid) accepts these
// definitions: it refuses only two inputs that are both not blank.
func TestWaitBlankDurationWaitsForEver(t *testing.T) {
	until := time.Now().UTC().Add(3 * time.Hour).Format("2006-01-02 15:04 MST")
	cases := []struct{ name, in, input, want string }{
		{"blank", `{"duration":"  "}`, `{}`, "IN_PROGRESS 2147483647"},
		{"resolved to blank", `{"duration":"${workflow.input.d}"}`, `{"d":""}`, "IN_PROGRESS 2147483647"},
		{"resolved to nothing", `{"duration":"${workflow.input.d}"}`, `{}`, "IN_PROGRESS 2147483647"},
		{"both blank", `{"duration":"","until":" "}`, `{}`, "IN_PROGRESS 2147483647"},
		{"blank duration beside an until", `{"duration":"","until":"` + until + `"}`, `{}`, "IN_PROGRESS ~"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := harnessEngine(t, nil)
			d, err := e.Parse([]byte(`{"name":"w","schemaVersion":2,"tasks":[{"name":"wait","taskReferenceName":"wait0","type":"WAIT","inputParameters":` + c.in + `}]}`))
			if err != nil {
				t.Fatal(err)
			}
			id := "wait-blank-" + strconv.Itoa(i)
			done := startAsyncInput(t, e, d, id, c.input)
			if c.want == "IN_PROGRESS ~" {
				waitCallbacksFunc(t, e, id, func(got []string) bool {
					if len(got) != 1 || len(got[0]) < 13 {
						return false
					}
					s, err := strconv.Atoi(got[0][len("IN_PROGRESS "):])
					return err == nil && s > 3*3600-120 && s <= 3*3600
				})
			} else {
				waitCallbacks(t, e, id, c.want)
			}
			if _, err := e.CompleteTask(context.Background(), id, "wait0", engine.TaskCompleted, nil); err != nil {
				t.Fatal(err)
			}
			if res := <-done; res == nil || res.Status != engine.StatusCompleted {
				t.Fatalf("%+v", res)
			}
		})
	}
}

// startAsyncInput is startAsync with the run's input.
func startAsyncInput(t *testing.T, e *engine.Engine, d *engine.Definition, id, input string) <-chan *engine.Result {
	t.Helper()
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(context.Background(), d, json.RawMessage(input), engine.WithRunID(id))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	return done
}
