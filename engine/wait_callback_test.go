package engine_test

import (
	"context"
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// WaitTaskSpec's wait_workflow_integration_test.json: its WAIT has neither
// duration nor until. Conductor's WaitTaskMapper.setCallbackAfter makes such
// a WAIT wait for ever, callbackAfterSeconds Integer.MAX_VALUE (2147483647),
// which clients and UIs read from the record while it waits; completed from
// outside, the run goes on (the spec's flow).
func TestConductorWaitForeverCallback(t *testing.T) {
	e := harnessEngine(t, nil, harnessWorkers(nil, nil)...)
	d := harnessDef(t, e, "wait_workflow_integration_test.json")
	done := startAsync(t, e, d, "wait-forever")
	waitCallbacks(t, e, "wait-forever", "IN_PROGRESS 2147483647")
	if _, err := e.CompleteTask(context.Background(), "wait-forever", "wait0", engine.TaskCompleted, nil); err != nil {
		t.Fatal(err)
	}
	if res := <-done; res == nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%+v", res)
	}
	checkTasks(t, viewRun(t, e, "wait-forever").Tasks, "WAIT:COMPLETED", "integration_task_1:COMPLETED")
}

// WaitTaskMapper.setCallbackAfter for the other inputs: a duration shows its
// seconds, an until its seconds from now; an until it cannot read fails
// the WAIT with FAILED_WITH_TERMINAL_ERROR and the mapper's words.
func TestWaitCallbackAfterSeconds(t *testing.T) {
	wait := func(in string) string {
		return `{"name":"w","schemaVersion":2,"tasks":[{"name":"wait","taskReferenceName":"wait0","type":"WAIT","inputParameters":` + in + `}]}`
	}
	until := time.Now().UTC().Add(3 * time.Hour).Format("2006-01-02 15:04 MST")
	cases := []struct {
		name, in string
		want     string // status and callbackAfterSeconds, or the reason of the failure
		failed   bool
	}{
		{"duration", `{"duration":"2 minutes"}`, "IN_PROGRESS 120", false},
		{"until", `{"until":"` + until + `"}`, "IN_PROGRESS ~", false},
		// Given as an expression: written as text, validation rejects it.
		{"bad until", `{"until":"${workflow.input.bad}"}`, "Invalid/Unsupported Wait Until format.  Provided: someday", true},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := harnessEngine(t, nil)
			d, err := e.Parse([]byte(wait(c.in)))
			if err != nil {
				t.Fatal(err)
			}
			id := "wait-cb-" + strconv.Itoa(i)
			if c.failed {
				res, err := e.Start(context.Background(), d, json.RawMessage(`{"bad":"someday"}`))
				if err != nil {
					t.Fatal(err)
				}
				wf := viewRun(t, e, res.RunID)
				if res == nil || res.Status != engine.StatusFailed || len(wf.Tasks) != 1 ||
					wf.Tasks[0].Status != engine.TaskFailedTerminal || wf.Tasks[0].Reason != c.want {
					t.Fatalf("run %+v, tasks %+v", res, wf.Tasks)
				}
				return
			}
			done := startAsync(t, e, d, id)
			if c.want == "IN_PROGRESS ~" {
				// Seconds until then: about three hours, minus the
				// minutes the format drops.
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

// waitCallbacks polls a run until its records read want ("STATUS
// callbackAfterSeconds" each, retryCallbacks).
func waitCallbacks(t *testing.T, e *engine.Engine, id string, want ...string) {
	t.Helper()
	waitCallbacksFunc(t, e, id, func(got []string) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if got[i] != want[i] {
				return false
			}
		}
		return true
	})
}

func waitCallbacksFunc(t *testing.T, e *engine.Engine, id string, ok func([]string) bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if _, err := e.Show(context.Background(), id); err == nil {
			got := retryCallbacks(t, e, id)
			if ok(got) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("run %s records %v", id, got)
			}
		} else if time.Now().After(deadline) {
			t.Fatalf("run %s: %v", id, err)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
