package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// exclusiveJoinOutputs: each worker answers with its task's ref, as
// ExclusiveJoinSpec's pollAndCompleteTask calls do.
var exclusiveJoinOutputs = map[string]string{
	"integration_task_1": `{"taskReferenceName":"task1"}`, "integration_task_2": `{"taskReferenceName":"task2"}`,
	"integration_task_3": `{"taskReferenceName":"task3"}`, "integration_task_4": `{"taskReferenceName":"task4"}`,
	"integration_task_5": `{"taskReferenceName":"task5"}`,
}

func exclusiveJoined(ref string) func(*testing.T, *engine.Engine, runView) {
	return func(t *testing.T, _ *engine.Engine, wf runView) {
		t.Helper()
		j := wf.Tasks[len(wf.Tasks)-1]
		if j.Ref != "exclusiveJoin" || j.Output["taskReferenceName"] != ref {
			t.Fatalf("exclusive join %s output %v, want taskReferenceName %s", j.Ref, j.Output, ref)
		}
		b, _ := json.Marshal(j.Input)
		if string(b) != `{"defaultExclusiveJoinTask":["task2","task4","task1"],"joinOn":["task3","task5"]}` {
			t.Fatalf("exclusive join input %s", b)
		}
	}
}

// ExclusiveJoinSpec, every feature test: the EXCLUSIVE_JOIN after two
// levels of DECISION takes the output of the first joinOn task that ran
// (task3, task5), else of the first defaultExclusiveJoinTask that ran.
func TestConductorExclusiveJoinSpec(t *testing.T) {
	const file = "exclusive_join_integration_test.json"
	runSpecCases(t, []specCase{
		{name: "the default decision is run", file: file, input: `{"decision_1":"null"}`, outputs: exclusiveJoinOutputs,
			wantStatus: engine.StatusCompleted,
			wantTasks:  []string{"integration_task_1:COMPLETED", "DECISION:COMPLETED", "EXCLUSIVE_JOIN:COMPLETED"},
			check:      exclusiveJoined("task1")},
		{name: "one decision is true and the other is decision null", file: file, input: `{"decision_1":"true","decision_2":"null"}`,
			outputs: exclusiveJoinOutputs, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"integration_task_1:COMPLETED", "DECISION:COMPLETED", "integration_task_2:COMPLETED", "DECISION:COMPLETED",
				"EXCLUSIVE_JOIN:COMPLETED"},
			check: exclusiveJoined("task2")},
		{name: "both decisions are true", file: file, input: `{"decision_1":"true","decision_2":"true"}`,
			outputs: exclusiveJoinOutputs, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"integration_task_1:COMPLETED", "DECISION:COMPLETED", "integration_task_2:COMPLETED", "DECISION:COMPLETED",
				"integration_task_3:COMPLETED", "EXCLUSIVE_JOIN:COMPLETED"},
			check: exclusiveJoined("task3")},
		{name: "decision_1 is false and decision_3 is default", file: file, input: `{"decision_1":"false","decision_3":"null"}`,
			outputs: exclusiveJoinOutputs, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"integration_task_1:COMPLETED", "DECISION:COMPLETED", "integration_task_4:COMPLETED", "DECISION:COMPLETED",
				"EXCLUSIVE_JOIN:COMPLETED"},
			check: exclusiveJoined("task4")},
		{name: "decision_1 is false and decision_3 is true", file: file, input: `{"decision_1":"false","decision_3":"true"}`,
			outputs: exclusiveJoinOutputs, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"integration_task_1:COMPLETED", "DECISION:COMPLETED", "integration_task_4:COMPLETED", "DECISION:COMPLETED",
				"integration_task_5:COMPLETED", "EXCLUSIVE_JOIN:COMPLETED"},
			check: exclusiveJoined("task5")},
	})
}

// An EXCLUSIVE_JOIN whose joined task ended unsuccessfully fails with that
// task's reason (ExclusiveJoin's failure branch): here the joinOn task is
// permissive, so the run went on to the join, which fails — and the run
// with it.
func TestExclusiveJoinFailsOnFailedTask(t *testing.T) {
	const def = `{"name":"xj_fail","version":1,"schemaVersion":2,"tasks":[
	 {"name":"flaky","taskReferenceName":"flaky","type":"SIMPLE","permissive":true,"taskDefinition":{"name":"flaky","retryCount":0}},
	 {"name":"xj","taskReferenceName":"xj","type":"EXCLUSIVE_JOIN","joinOn":["flaky"]}]}`
	e := harnessEngine(t, nil, engine.WithWorker("flaky", func(context.Context, json.RawMessage) (json.RawMessage, error) {
		return nil, errors.New("flaky broke")
	}))
	d, err := e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	wf := viewRun(t, e, startRun(t, e, d, `{}`).RunID)
	if wf.Status != engine.StatusFailed {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "flaky:FAILED", "EXCLUSIVE_JOIN:FAILED")
	if wf.Tasks[1].Reason != "flaky broke" {
		t.Fatalf("join reason %q", wf.Tasks[1].Reason)
	}
}

// EXCLUSIVE_JOIN's configuration is checked when the definition loads.
func TestExclusiveJoinValidation(t *testing.T) {
	e := harnessEngine(t, nil)
	for _, tc := range []struct{ task, want string }{
		{`{"name":"xj","taskReferenceName":"xj","type":"EXCLUSIVE_JOIN"}`,
			"/tasks/1/joinOn: EXCLUSIVE_JOIN needs joinOn or defaultExclusiveJoinTask"},
		{`{"name":"xj","taskReferenceName":"xj","type":"EXCLUSIVE_JOIN","joinOn":["a","nope"]}`,
			`/tasks/1/joinOn/1: EXCLUSIVE_JOIN waits on unknown task "nope"`},
		{`{"name":"xj","taskReferenceName":"xj","type":"EXCLUSIVE_JOIN","joinOn":["a"],"defaultExclusiveJoinTask":["gone"]}`,
			`/tasks/1/defaultExclusiveJoinTask/0: EXCLUSIVE_JOIN defaults to unknown task "gone"`},
	} {
		def := `{"name":"xj_bad","version":1,"schemaVersion":2,"tasks":[{"name":"a","taskReferenceName":"a","type":"SET_VARIABLE","inputParameters":{"x":1}},` + tc.task + `]}`
		_, err := e.Parse([]byte(def))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("%s: error %v, want %q", tc.task, err, tc.want)
		}
	}
}
