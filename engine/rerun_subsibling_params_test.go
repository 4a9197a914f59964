package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// rerunSubParamsDef: sub's child is named by the workflow input (name,
// version, priority); while the first run fails, the child's task waits
// until the run's failure cancels it, and b fails once pre has seen it
// start: sub ends CANCELED with a seq below b's.
const rerunSubParamsDef = `{"name":"rerun_sub_params","version":1,"schemaVersion":2,"tasks":[
 {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
  [{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","inputParameters":{"k":"${workflow.input.k}"},
    "subWorkflowParam":{"name":"${workflow.input.child}","version":"${workflow.input.cv}","priority":"${workflow.input.p}"}}],
  [{"name":"w_ok","taskReferenceName":"pre"},
   {"name":"w_flaky","taskReferenceName":"b","inputParameters":{"who":"b","k":"${workflow.input.k}"}}]]},
 {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["sub","b"]}]}`

// TestRerunStartsResetSubWorkflowFromItsStoredParams: Conductor's
// SubWorkflow.start reads the child's name, version and priority from the
// task's inputData, which finalizeRerun leaves as it is on the
// SUB_WORKFLOW it resets in place: a rerun from another branch's task,
// with a workflow input naming another workflow, starts the reset task's
// new child as the record stored it (rerun_sub_a version 1, priority 3),
// not as subWorkflowParam's expressions read the new input.
func TestRerunStartsResetSubWorkflowFromItsStoredParams(t *testing.T) {
	dir := t.TempDir()
	for file, def := range map[string]string{
		"a1.json": `{"name":"rerun_sub_a","version":1,"schemaVersion":2,"tasks":[{"name":"w_side","taskReferenceName":"inner","inputParameters":{"who":"inner","k":"${workflow.input.k}"}}]}`,
		"a2.json": `{"name":"rerun_sub_a","version":2,"schemaVersion":2,"tasks":[{"name":"w_ok","taskReferenceName":"a2","inputParameters":{"who":"a2"}}]}`,
		"b2.json": `{"name":"rerun_sub_b","version":2,"schemaVersion":2,"tasks":[{"name":"w_ok","taskReferenceName":"b2","inputParameters":{"who":"b2"}}]}`,
	} {
		if err := os.WriteFile(filepath.Join(dir, file), []byte(def), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var fail atomic.Bool
	e := controlSiblingsEngine(t, runstore.NewMemory(), &fail, map[string]chan struct{}{"inner": make(chan struct{})}, func(string) {},
		engine.WithDefinitionsDir(dir))
	d, err := e.Parse([]byte(rerunSubParamsDef))
	if err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	res := startRun(t, e, d, `{"k":"v1","child":"rerun_sub_a","cv":1,"p":3}`)
	if res.Status != engine.StatusFailed {
		t.Fatalf("first run: %+v", res)
	}
	_, before := rawTasks(t, e, res.RunID)
	prior := map[string]map[string]any{}
	for _, tk := range before {
		prior[tk["referenceTaskName"].(string)] = tk
	}
	if prior["sub"]["status"] != engine.TaskCanceled || prior["b"]["status"] != engine.TaskFailed || prior["sub"]["seq"].(float64) > prior["b"]["seq"].(float64) {
		t.Fatalf("first run: want sub CANCELED before b FAILED: %v", before)
	}
	fail.Store(false)
	rr, err := e.RerunWith(context.Background(), res.RunID, engine.RerunOptions{FromTaskID: prior["b"]["taskId"].(string),
		WorkflowInput: json.RawMessage(`{"k":"v2","child":"rerun_sub_b","cv":2,"p":9}`)})
	if err != nil || rr.Status != engine.StatusCompleted {
		t.Fatalf("rerun: %v %+v", err, rr)
	}
	_, after := rawTasks(t, e, res.RunID)
	for _, tk := range after {
		if tk["referenceTaskName"] != "sub" {
			continue
		}
		if tk["taskId"] != prior["sub"]["taskId"] {
			t.Errorf("sub after the rerun: task id %v, want %v (reset in place)", tk["taskId"], prior["sub"]["taskId"])
		}
		in, _ := tk["inputData"].(map[string]any)
		if in["subWorkflowName"] != "rerun_sub_a" || in["subWorkflowVersion"] != 1.0 || in["priority"] != 3.0 {
			t.Errorf("sub's input after the rerun: %v, want rerun_sub_a version 1 priority 3", in)
		}
		child, _ := tk["subWorkflowId"].(string)
		if child == "" || child == prior["sub"]["subWorkflowId"] {
			t.Fatalf("sub after the rerun: child %q, want a new one (was %v)", child, prior["sub"]["subWorkflowId"])
		}
		b, err := e.Show(context.Background(), child)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			WorkflowType string         `json:"workflowType"`
			Version      int            `json:"version"`
			Priority     int            `json:"priority"`
			Status       string         `json:"status"`
			Input        map[string]any `json:"input"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		if v.WorkflowType != "rerun_sub_a" || v.Version != 1 || v.Priority != 3 || v.Status != engine.StatusCompleted || v.Input["k"] != "v1" {
			t.Errorf("sub's new child: %s version %d priority %d %s input %v, want rerun_sub_a version 1 priority 3 COMPLETED with k v1",
				v.WorkflowType, v.Version, v.Priority, v.Status, v.Input)
		}
		return
	}
	t.Fatalf("no record of sub after the rerun: %v", after)
}
