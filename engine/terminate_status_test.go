package engine_test

import (
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// A TERMINATE whose termination status, resolved when it runs, is not
// COMPLETED, FAILED or TERMINATED spelled so: Conductor's Terminate.execute
// fails the task FAILED with "given termination status is not valid", and
// the next decision's retry() fails the run naming it.
func TestTerminateWithAnInvalidStatusFails(t *testing.T) {
	def := func() string {
		return `{"name":"w","tasks":[
		  {"name":"t","taskReferenceName":"t","type":"TERMINATE","inputParameters":{"terminationStatus":"${workflow.input.st}","workflowOutput":{"x":1}}},
		  {"name":"echo","taskReferenceName":"after","inputParameters":{}}]}`
	}
	for _, st := range []string{`"DONE"`, `"completed"`, `null`, `7`} {
		t.Run(st, func(t *testing.T) {
			h := newHarness(t, nil)
			res := h.run(def(), `{"st":`+st+`}`)
			v := viewRun(t, h.e, res.RunID)
			checkTasks(t, v.Tasks, "TERMINATE:FAILED")
			tk := v.Tasks[0]
			if tk.Reason != "given termination status is not valid" {
				t.Fatalf("task reason %q", tk.Reason)
			}
			want := "Task " + tk.TaskID + " failed with status: FAILED and reason: 'given termination status is not valid'"
			if res.Status != engine.StatusFailed || res.Reason != want {
				t.Fatalf("run %s %q, want FAILED %q", res.Status, res.Reason, want)
			}
			if n := h.calls["echo"].Load(); n != 0 {
				t.Fatalf("echo ran %d times", n)
			}
		})
	}
}
