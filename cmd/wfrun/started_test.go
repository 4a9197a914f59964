package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// wfrun run waits for the runs a run starts on its own: Conductor's
// test_terminate_task_failed_wf ends FAILED by its TERMINATE task and starts
// its failureWorkflow (failure_workflow, a LAMBDA), a run of its own whose
// id is in the failed run's output; the command exits 1 for the failed run
// once the failure run has COMPLETED (the runs list says so right after).
func TestRunWaitsForFailureWorkflow(t *testing.T) {
	cliEnv(t)
	const dir = "../../testdata/conductor/"
	out, errOut, code := wfrun(t, "", "run", dir+"terminate_task_failed_workflow_integration.json", "--input", `{"a":1}`)
	if code != 1 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var o map[string]any
	if err := json.Unmarshal([]byte(out), &o); err != nil {
		t.Fatalf("stdout %q", out)
	}
	fid, _ := o["conductor.failure_workflow"].(string)
	// The failure run may end before the failed run's result is printed;
	// if it has not, the command says it waits for it.
	if fid == "" || (strings.Contains(errOut, "waiting for") && !strings.Contains(errOut, "waiting for the run(s) it started: "+fid)) {
		t.Fatalf("output %s, stderr %s", out, errOut)
	}
	var list []map[string]any
	runs := mustRun(t, "", "runs", "-o", "json")
	if err := json.Unmarshal([]byte(runs), &list); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, r := range list {
		seen[r["workflowId"].(string)], _ = r["status"].(string)
	}
	if seen[fid] != "COMPLETED" || len(seen) != 2 {
		t.Fatalf("runs %v", seen)
	}
}
