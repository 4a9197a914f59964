package server_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/wfrun/wfrun/engine"
)

// TestE2ESubWorkflowDomains ports SubWorkflowTests.testSubWorkflowWithDomain
// and .testSubworkflowExecutionWithOutDomains on sub_workflow_test
// (workflows.json: worker tasks, JSON_JQ_TRANSFORM, WAIT, SET_VARIABLE,
// SUB_WORKFLOWs of PopulationMinMax… without a version, with version 1 and
// with version 0, a dynamic fork, a fork with a DO_WHILE and an inline
// sub-workflow of an inline sub-workflow). Workers answer every worker task
// with {"number": 42}, in the test's domains and without one, as the Java
// test's two TaskRunnerConfigurers do. Started with taskToDomain (a domain
// for every worker task name and for the non-SIMPLE types the Java test
// collects) or without, the run completes; its taskToDomain is the one it
// was started with (or empty), and so is each SUB_WORKFLOW child's; a
// child of a registered definition runs the version its subWorkflowParam
// names, the latest (3) when it names none or 0. The same holds after two
// restarts (useLatestDefinitions).
func TestE2ESubWorkflowDomains(t *testing.T) {
	// The WAIT of 1 s lasts 50 ms: the engine clock runs 20 times faster.
	ts := ctlServer(t, engine.WithClock(newCtlFastClock(20)))
	ctlUpdateDefs(t, ts, ctlFile(t, "workflows.json"))
	workers := []string{"x_test_worker_0", "x_test_worker_1", "x_test_worker_2", "x_test_worker_4"}
	domains := map[string]string{}
	for i, name := range append([]string{"SET_VARIABLE", "SUB_WORKFLOW", "TERMINATE"}, workers...) {
		domains[name] = fmt.Sprintf("SubWorkflowTests_e2e_%d", i)
	}
	answer := func(string, map[string]any) map[string]any { return map[string]any{"number": 42} }
	for _, name := range workers {
		ctlWorkers(t, ts, []string{name}, domains[name], answer)
	}
	ctlWorkers(t, ts, workers, "", answer)
	for _, tc := range []struct {
		test    string
		domains map[string]string
	}{
		{"testSubWorkflowWithDomain", domains},
		{"testSubworkflowExecutionWithOutDomains", nil},
	} {
		t.Run(tc.test, func(t *testing.T) {
			req := `{"name":"sub_workflow_test"}`
			if tc.domains != nil {
				m, _ := json.Marshal(tc.domains)
				req = `{"name":"sub_workflow_test","taskToDomain":` + string(m) + `}`
			}
			id := ctlStart(t, ts, req)
			for round := 0; round < 3; round++ {
				if round > 0 {
					ctlCall(t, ts, "POST", "/api/workflow/"+id+"/restart?useLatestDefinitions=true", "")
				}
				d := ctlAwait(t, ts, id, ctlStatus("COMPLETED"))
				checkDomains(t, fmt.Sprintf("round %d: run", round), d.TaskToDomain, tc.domains)
				subs := 0
				for _, tk := range d.Tasks {
					if tk.TaskType != "SUB_WORKFLOW" {
						continue
					}
					subs++
					c := ctlGet(t, ts, tk.SubWorkflowID)
					checkDomains(t, fmt.Sprintf("round %d: child of %s", round, tk.Ref), c.TaskToDomain, tc.domains)
					p, _ := tk.WorkflowTask["subWorkflowParam"].(map[string]any)
					if p == nil {
						t.Fatalf("round %d: %s has no workflowTask.subWorkflowParam", round, tk.Ref)
					}
					if p["workflowDefinition"] != nil {
						continue
					}
					want := ctlNum(p["version"])
					if p["version"] == nil || want == 0 {
						want = 3
					}
					if c.Version != want {
						t.Errorf("round %d: child of %s is version %d, want %d", round, tk.Ref, c.Version, want)
					}
				}
				if subs != 4 {
					t.Fatalf("round %d: %d SUB_WORKFLOW tasks, want 4 (%s)", round, subs, d.shape())
				}
			}
		})
	}
}

// checkDomains: got is want (nil: empty).
func checkDomains(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(want) == 0 {
		if len(got) != 0 {
			t.Errorf("%s taskToDomain %v, want empty", what, got)
		}
		return
	}
	if len(got) == 0 {
		t.Errorf("%s taskToDomain empty", what)
	}
	for k, v := range got {
		if want[k] != v {
			t.Errorf("%s taskToDomain[%s] = %q, want %q", what, k, v, want[k])
		}
	}
}
