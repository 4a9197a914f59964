package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
)

// The failure workflow is started, not waited for (Conductor's
// terminateWorkflow starts it and records its id in the failed run's
// output): Start returns while the failure run still executes; interrupted,
// the failure run stays RUNNING on its own and another engine resumes it to
// its end. integration_test_wf fails (integration_task_1 without retries)
// and names integration_test_wf3 through "$workflow.input.failureWfName".
func TestFailureWorkflowIsItsOwnRun(t *testing.T) {
	rs := runstore.NewMemory()
	k := keyring(t, 7)
	defs := harnessTaskDefs(t)
	zero := 0
	if err := defs.Put(&engine.TaskDef{Name: "integration_task_1", RetryCount: &zero, TimeoutSeconds: 120}); err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	polled := make(chan struct{}, 1)
	e1 := harnessEngine(t, rs, engine.WithTaskDefs(defs), engine.WithKeyring(k),
		engine.WithWorker("integration_task_1", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
			if calls.Add(1) == 1 {
				return nil, errors.New("failed on purpose")
			}
			polled <- struct{}{}
			<-ctx.Done() // the failure run's task: never answered here
			return nil, ctx.Err()
		}))
	d := harnessDef(t, e1, "simple_workflow_1_integration_test.json")
	res := startRun(t, e1, d, `{"param1":"p1 value","param2":"p2 value","failureWfName":"integration_test_wf3"}`)
	if res.Status != engine.StatusFailed {
		t.Fatalf("%s %q", res.Status, res.Reason)
	}
	wf := viewRun(t, e1, res.RunID)
	fid, _ := wf.Output["conductor.failure_workflow"].(string)
	if fid == "" {
		t.Fatalf("output %v", wf.Output)
	}
	select {
	case <-polled:
	case <-time.After(20 * time.Second):
		t.Fatal("the failure run never reached its first task")
	}
	if got := e1.Started(); len(got) != 1 || got[0] != fid {
		t.Fatalf("started %v, want [%s]", got, fid)
	}
	fw := viewRun(t, e1, fid)
	if fw.Status != engine.StatusRunning || fw.Input["workflowId"] != res.RunID || fw.Input["failureStatus"] != "FAILED" {
		t.Fatalf("failure run %s input %v", fw.Status, fw.Input)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e1.WaitStarted(ctx); !errors.Is(err, engine.ErrInterrupted) {
		t.Fatalf("WaitStarted: %v", err)
	}
	if len(e1.Started()) != 0 {
		t.Fatalf("still started: %v", e1.Started())
	}
	if fw := viewRun(t, e1, fid); fw.Status != engine.StatusRunning {
		t.Fatalf("interrupted failure run is %s", fw.Status)
	}
	ok := echoWorker(`{"op":"done"}`)
	e2 := harnessEngine(t, rs, engine.WithTaskDefs(defs), engine.WithKeyring(k),
		engine.WithWorker("integration_task_1", ok), engine.WithWorker("integration_task_2", ok), engine.WithWorker("integration_task_3", ok))
	r2, err := e2.Resume(context.Background(), fid)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Status != engine.StatusCompleted {
		t.Fatalf("resumed failure run %s %q", r2.Status, r2.Reason)
	}
	fw = viewRun(t, e2, fid)
	checkTasks(t, fw.Tasks, "integration_task_1:COMPLETED", "integration_task_2:COMPLETED", "integration_task_3:COMPLETED")
	if wf := viewRun(t, e2, res.RunID); wf.Status != engine.StatusFailed {
		t.Fatalf("failed run is now %s", wf.Status)
	}
}

// StartWorkflowSpec "start another workflow using workflow definition": the
// StartWorkflowRequest carries an inline workflowDef (dynamic_wf, built in
// the spec); the starter completes at once, the started run is RUNNING
// with the starter's correlationId and its input. An inline workflowDef
// comes from run data, so one that reads a secret the starter's definition
// does not is refused.
func TestConductorStartWorkflowInlineDef(t *testing.T) {
	release := make(chan struct{})
	polled := make(chan struct{}, 1)
	e := harnessEngine(t, nil, engine.WithWorker("integration_task_1", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		polled <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
		return json.RawMessage(`{"op":"t1"}`), nil
	}), engine.WithWorker("integration_task_2", echoWorker(`{}`)))
	d := harnessDef(t, e, "workflow_that_starts_another_workflow.json")
	const in = `{"startWorkflow":{"name":"dynamic_wf","workflowDef":{"name":"dynamic_wf","version":1,"ownerEmail":"abc@abc.com","tasks":[
	  {"name":"integration_task_1","taskReferenceName":"t1","type":"SIMPLE","inputParameters":{"tp1":"${workflow.input.param1}","tp2":"${workflow.input.param2}","tp3":"${CPEWF_TASK_ID}"}},
	  {"name":"integration_task_2","taskReferenceName":"t2","type":"SIMPLE","inputParameters":{"tp1":"${workflow.input.param1}","tp2":"${t1.output.op}","tp3":"${CPEWF_TASK_ID}"}}]}}}`
	res := startRun(t, e, d, in, engine.WithCorrelationID("corr-dyn"))
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "START_WORKFLOW:COMPLETED")
	id, _ := wf.Tasks[0].Output["workflowId"].(string)
	<-polled
	started := viewRun(t, e, id)
	if started.Status != engine.StatusRunning || started.CorrelationID != "corr-dyn" || started.Input == nil {
		t.Fatalf("started run %s %q %v", started.Status, started.CorrelationID, started.Input)
	}
	close(release)
	if started = waitRun(t, e, id); started.Status != engine.StatusCompleted {
		t.Fatalf("started run ended %s %q", started.Status, started.Reason)
	}
	checkTasks(t, started.Tasks, "integration_task_1:COMPLETED", "integration_task_2:COMPLETED")

	res = startRun(t, e, d, `{"startWorkflow":{"name":"x","workflowDef":{"name":"x","tasks":[
	  {"name":"integration_task_2","taskReferenceName":"t","inputParameters":{"k":"${workflow.secrets.db_password}"}}]}}}`)
	wf = viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusFailed || len(wf.Tasks) != 1 || !strings.Contains(wf.Tasks[0].Reason, "references secrets the workflow definition does not (db_password)") {
		t.Fatalf("%s %+v", wf.Status, wf.Tasks)
	}
}
