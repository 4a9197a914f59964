package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// specCase runs one test-harness definition (testdata/conductor, unmodified)
// to its end with workers standing in for the spec's pollAndCompleteTask
// calls, and checks the end state the spec asserts: the run's status, its
// task list (taskType:status, in order) and whatever check looks at.
type specCase struct {
	name, file, input string
	// outputs: what the worker of a task name returns (default {}).
	outputs map[string]string
	// fails: how many times the worker of a task name fails first.
	fails      map[string]int
	wantStatus string
	wantTasks  []string
	check      func(t *testing.T, e *engine.Engine, wf runView)
}

// harnessWorkers answers every worker task the harness defines.
func harnessWorkers(outputs map[string]string, fails map[string]int) []engine.Option {
	var mu sync.Mutex
	failed := map[string]int{}
	names := []string{"task_rt", "task_optional", "simple_task_in_sub_wf", "waitTimeout", "user_task"}
	for i := 0; i <= 20; i++ {
		names = append(names, fmt.Sprintf("integration_task_%d", i))
	}
	for i := 0; i <= 4; i++ {
		names = append(names, fmt.Sprintf("integration_task_0_RT_%d", i))
	}
	var opts []engine.Option
	for _, n := range names {
		n := n
		opts = append(opts, engine.WithWorker(n, func(context.Context, json.RawMessage) (json.RawMessage, error) {
			mu.Lock()
			f := failed[n] < fails[n]
			if f {
				failed[n]++
			}
			mu.Unlock()
			if f {
				return nil, fmt.Errorf("%s failed on purpose", n)
			}
			if out, ok := outputs[n]; ok {
				return json.RawMessage(out), nil
			}
			return json.RawMessage(`{}`), nil
		}))
	}
	return opts
}

func runSpecCases(t *testing.T, cases []specCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := harnessEngine(t, nil, harnessWorkers(tc.outputs, tc.fails)...)
			d := harnessDef(t, e, tc.file)
			in := tc.input
			if in == "" {
				in = "{}"
			}
			res := startRun(t, e, d, in)
			wf := viewRun(t, e, res.RunID)
			if wf.Status != tc.wantStatus {
				t.Fatalf("status %s (%q), want %s", wf.Status, wf.Reason, tc.wantStatus)
			}
			checkTasks(t, wf.Tasks, tc.wantTasks...)
			if tc.check != nil {
				tc.check(t, e, wf)
			}
		})
	}
}

// evaluationResults checks the evaluationResult of the run's SWITCH /
// DECISION records, in order.
func evaluationResults(key string, want ...string) func(*testing.T, *engine.Engine, runView) {
	return func(t *testing.T, _ *engine.Engine, wf runView) {
		t.Helper()
		var got []string
		for _, tk := range wf.Tasks {
			if tk.TaskType == "SWITCH" || tk.TaskType == "DECISION" {
				b, _ := json.Marshal(tk.Output[key])
				got = append(got, string(b))
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Fatalf("%s %v, want %v", key, got, want)
		}
	}
}

func joinOnIs(ref string, want ...string) func(*testing.T, *engine.Engine, runView) {
	return func(t *testing.T, _ *engine.Engine, wf runView) {
		t.Helper()
		for _, tk := range wf.Tasks {
			if tk.Ref == ref {
				var got []string
				for _, x := range tk.Input["joinOn"].([]any) {
					got = append(got, x.(string))
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("%s joinOn %v, want %v", ref, got, want)
				}
				return
			}
		}
		t.Fatalf("no task %s", ref)
	}
}

// SwitchTaskSpec, every feature test.
func TestConductorSwitchTaskSpec(t *testing.T) {
	runSpecCases(t, []specCase{
		{name: "simple switch workflow", file: "simple_switch_task_integration_test.json",
			input: `{"param1":"p1","param2":"p2","case":"c"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"SWITCH:COMPLETED", "integration_task_1:COMPLETED", "integration_task_2:COMPLETED", "integration_task_20:COMPLETED"}},
		{name: "switch task that leads to a fork join", file: "switch_and_fork_join_integration_test.json",
			input: `{"param1":"p1","param2":"p2","case":"c"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"FORK:COMPLETED", "SWITCH:COMPLETED", "integration_task_1:COMPLETED", "integration_task_10:COMPLETED",
				"JOIN:COMPLETED", "integration_task_2:COMPLETED", "integration_task_20:COMPLETED"},
			check: joinOnIs("joinTask", "t20", "t10")},
		{name: "default case", file: "conditional_switch_task_workflow_integration_test.json",
			input: `{"param1":"xxx","param2":"two"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"SWITCH:COMPLETED", "integration_task_10:COMPLETED", "SWITCH:COMPLETED"},
			check:     evaluationResults("evaluationResult", `["xxx"]`, `["null"]`)},
		{name: "nested and two", file: "conditional_switch_task_workflow_integration_test.json",
			input: `{"param1":"nested","param2":"two"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"SWITCH:COMPLETED", "SWITCH:COMPLETED", "integration_task_2:COMPLETED", "SWITCH:COMPLETED"},
			check:     evaluationResults("evaluationResult", `["nested"]`, `["two"]`, `["null"]`)},
		{name: "nested and one", file: "conditional_switch_task_workflow_integration_test.json",
			input: `{"param1":"nested","param2":"one"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"SWITCH:COMPLETED", "SWITCH:COMPLETED", "integration_task_1:COMPLETED", "SWITCH:COMPLETED"},
			check:     evaluationResults("evaluationResult", `["nested"]`, `["one"]`, `["null"]`)},
		{name: "three", file: "conditional_switch_task_workflow_integration_test.json",
			input: `{"param1":"three","param2":"two","finalCase":"notify"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"SWITCH:COMPLETED", "integration_task_3:COMPLETED", "SWITCH:COMPLETED", "integration_task_4:COMPLETED"},
			check:     evaluationResults("evaluationResult", `["three"]`, `["notify"]`)},
		{name: "no default case", file: "switch_with_no_default_case_integration_test.json",
			input: `{"param1":"p1","param2":"p2"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"SWITCH:COMPLETED", "integration_task_2:COMPLETED"}},
	})
}

// DecisionTaskSpec, every feature test (DECISION's output is caseOutput).
func TestConductorDecisionTaskSpec(t *testing.T) {
	runSpecCases(t, []specCase{
		{name: "simple decision workflow", file: "simple_decision_task_integration_test.json",
			input: `{"param1":"p1","param2":"p2","case":"c"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"DECISION:COMPLETED", "integration_task_1:COMPLETED", "integration_task_2:COMPLETED", "integration_task_20:COMPLETED"}},
		{name: "decision task that leads to a fork join", file: "decision_and_fork_join_integration_test.json",
			input: `{"param1":"p1","param2":"p2","case":"c"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"FORK:COMPLETED", "DECISION:COMPLETED", "integration_task_1:COMPLETED", "integration_task_10:COMPLETED",
				"JOIN:COMPLETED", "integration_task_2:COMPLETED", "integration_task_20:COMPLETED"},
			check: joinOnIs("joinTask", "t20", "t10")},
		{name: "default case", file: "conditional_task_workflow_integration_test.json",
			input: `{"param1":"xxx","param2":"two"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"DECISION:COMPLETED", "integration_task_10:COMPLETED", "DECISION:COMPLETED"},
			check:     evaluationResults("caseOutput", `["xxx"]`, `["null"]`)},
		{name: "nested and two", file: "conditional_task_workflow_integration_test.json",
			input: `{"param1":"nested","param2":"two"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"DECISION:COMPLETED", "DECISION:COMPLETED", "integration_task_2:COMPLETED", "DECISION:COMPLETED"},
			check:     evaluationResults("caseOutput", `["nested"]`, `["two"]`, `["null"]`)},
		{name: "nested and one", file: "conditional_task_workflow_integration_test.json",
			input: `{"param1":"nested","param2":"one"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"DECISION:COMPLETED", "DECISION:COMPLETED", "integration_task_1:COMPLETED", "DECISION:COMPLETED"},
			check:     evaluationResults("caseOutput", `["nested"]`, `["one"]`, `["null"]`)},
		{name: "three", file: "conditional_task_workflow_integration_test.json",
			input: `{"param1":"three","param2":"two","finalCase":"notify"}`, wantStatus: engine.StatusCompleted,
			wantTasks: []string{"DECISION:COMPLETED", "integration_task_3:COMPLETED", "DECISION:COMPLETED", "integration_task_4:COMPLETED"},
			check:     evaluationResults("caseOutput", `["three"]`, `["notify"]`)},
	})
}
