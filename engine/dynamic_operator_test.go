package engine_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
)

// A DYNAMIC task that names a type the engine runs from the definition
// (a control task, JOIN, SUB_WORKFLOW, TERMINATE, WAIT, ...) fails with
// one line saying so, FAILED_WITH_TERMINAL_ERROR. Run as a worker task of
// that name it was handed to remote workers that never poll a control
// type's name (Engine.IsWorkerTask): the run waited for ever; locally it
// failed for want of a worker named SWITCH.
func TestDynamicTaskNamingAnOperatorFails(t *testing.T) {
	var handed atomic.Int64
	remote := engine.WithRemoteWorker(func(ctx context.Context, rt engine.RemoteTask) tasks.Result {
		handed.Add(1)
		return tasks.Result{Status: tasks.Failed, Reason: "handed to remote workers"}
	})
	const def = `{"name":"dyn_operator","version":1,"schemaVersion":2,"tasks":[{"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn",
	 "inputParameters":{"tn":"${workflow.input.tn}","terminationStatus":"COMPLETED","subWorkflowName":"child","subWorkflowVersion":1,"joinOn":[],"duration":"1 s"}}]}`
	for _, local := range []bool{true, false} {
		opts := []engine.Option{engine.WithRegistry(tasks.NewDefaultRegistry())}
		if !local {
			opts = append(opts, remote)
		}
		h := newHarness(t, nil, opts...)
		for _, tn := range []string{"SWITCH", "DECISION", "DO_WHILE", "FORK_JOIN", "FORK", "FORK_JOIN_DYNAMIC", "JOIN", "EXCLUSIVE_JOIN",
			"SUB_WORKFLOW", "DYNAMIC", "TERMINATE", "SET_VARIABLE", "WAIT", "HUMAN", "EVENT", "START_WORKFLOW", "LAMBDA"} {
			res := h.run(def, `{"tn":"`+tn+`"}`)
			if res.Status != engine.StatusFailed || !strings.Contains(res.Reason, "a DYNAMIC task runs as a worker or system task") ||
				!strings.Contains(res.Reason, "not as "+tn+":") || strings.Contains(res.Reason, "\n") {
				t.Errorf("local=%v %s: %s %q: want FAILED saying a DYNAMIC task does not run as %s", local, tn, res.Status, res.Reason, tn)
				continue
			}
			wf := viewRun(t, h.e, res.RunID)
			if len(wf.Tasks) != 1 || wf.Tasks[0].Status != "FAILED_WITH_TERMINAL_ERROR" {
				t.Errorf("local=%v %s: want one task FAILED_WITH_TERMINAL_ERROR, got %+v", local, tn, wf.Tasks)
			}
		}
		// A worker's name and a registry type still run.
		if res := h.run(def, `{"tn":"echo"}`); res.Status != engine.StatusCompleted {
			t.Errorf("local=%v echo: %s %s", local, res.Status, res.Reason)
		}
		if res := h.run(def, `{"tn":"NOOP"}`); res.Status != engine.StatusCompleted {
			t.Errorf("local=%v NOOP: %s %s", local, res.Status, res.Reason)
		}
	}
	if n := handed.Load(); n != 0 {
		t.Errorf("%d operator tasks were handed to remote workers", n)
	}
}

// Whatever a DYNAMIC task becomes, a secret never becomes program text:
// its input's INLINE expression or jq queryExpression reading a secret
// fails the run when it resolves to that type; a worker takes the same
// input as input.
func TestDynamicTaskSecretNeverProgramText(t *testing.T) {
	h := newHarness(t, nil, engine.WithRegistry(tasks.NewDefaultRegistry()))
	const def = `{"name":"dyn_program","version":1,"schemaVersion":2,"tasks":[{"name":"dyn","taskReferenceName":"d","type":"DYNAMIC","dynamicTaskNameParam":"tn",
	 "inputParameters":{"tn":"${workflow.input.tn}","evaluatorType":"javascript","expression":"'${workflow.secrets.api_token}'.length","queryExpression":"\"${workflow.secrets.api_token}\""}}]}`
	for _, tn := range []string{"INLINE", "JSON_JQ_TRANSFORM"} {
		res := h.run(def, `{"tn":"`+tn+`"}`)
		if res.Status != engine.StatusFailed || !strings.Contains(res.Reason, "a secret reference must not be part of program text") {
			t.Errorf("%s: %s %q: want it refused", tn, res.Status, res.Reason)
		}
		if strings.Contains(res.Reason, token) {
			t.Errorf("%s: the reason holds the secret", tn)
		}
	}
	if res := h.run(def, `{"tn":"echo"}`); res.Status != engine.StatusCompleted {
		t.Errorf("echo: %s %s", res.Status, res.Reason)
	}
}
