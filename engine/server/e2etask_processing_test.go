package server_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/conductor-sdk/conductor-go/sdk/client"
	"github.com/conductor-sdk/conductor-go/sdk/model"
	"github.com/conductor-sdk/conductor-go/sdk/settings"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/tasks"
	"github.com/wfrun/wfrun/tasks/eval"
)

// Ports of conductor-oss e2e processing/GraaljsTests, processing/JSONJQTests
// and processing/SetVariableTests through `wfrun serve` with the Go SDK.

// TestConductorE2EGraaljsTests is testInfiniteExecution: the workflow of
// the e2e util's RegistrationUtil.registerWorkflowDef (an INLINE task with
// an inline taskDefinition of retryCount 0, then a SIMPLE task), read back
// with getWorkflowDef and updated so that the INLINE task's expression is
// `function e() { while(true){} }; e();`. The script is stopped by the
// evaluator's time limit (set to 300 ms here, 5 s by default; Conductor's
// GraalJS has its own limit) and the run FAILS.
func TestConductorE2EGraaljsTests(t *testing.T) {
	reg := tasks.NewDefaultRegistry(tasks.WithEvalOptions(eval.WithTimeout(300 * time.Millisecond)))
	ts := newConductorServerWith(t, nil, []engine.Option{engine.WithRegistry(reg)})
	c := newSDK(t, ts.URL)
	ctx := t.Context()
	const wfName, task1, task2 = "GRJS1", "TSKA1", "TSKB2"
	def1, def2 := javaTaskDef(task1), javaTaskDef(task2)
	def1.RetryCount, def2.RetryCount = 0, 0
	wf := model.WorkflowDef{Name: wfName, Version: 1, OwnerEmail: "test@conductor.io", InputParameters: []string{"value", "inlineValue"},
		Description: "Workflow to monitor order state", TimeoutSeconds: 600, TimeoutPolicy: "TIME_OUT_WF", SchemaVersion: 2, Restartable: true,
		Tasks: []model.WorkflowTask{
			{Name: task1, TaskReferenceName: "inline_" + task1, TaskDefinition: &def1, Type_: "INLINE",
				InputParameters: map[string]any{"evaluatorType": "graaljs", "expression": "true;"}},
			{Name: task2, TaskReferenceName: task2, TaskDefinition: &def1, Type_: "SIMPLE",
				InputParameters: map[string]any{"value": "${workflow.input.value}", "order": "123"}},
		}}
	if resp, err := c.meta.Update(ctx, []model.WorkflowDef{wf}); err != nil {
		t.Fatalf("updateWorkflowDefs: %v (status %d)", err, status(resp))
	}
	if resp, err := c.meta.RegisterTaskDef(ctx, []model.TaskDef{def1, def2}); err != nil {
		t.Fatalf("registerTaskDefs: %v (status %d)", err, status(resp))
	}
	got, resp, err := c.meta.Get(ctx, wfName, nil)
	if err != nil {
		t.Fatalf("getWorkflowDef: %v (status %d)", err, status(resp))
	}
	got.Tasks[0].InputParameters = map[string]any{"evaluatorType": "graaljs", "expression": "function e() { while(true){} }; e();"}
	if resp, err := c.meta.Update(ctx, []model.WorkflowDef{got}); err != nil {
		t.Fatalf("updateWorkflowDefs: %v (status %d)", err, status(resp))
	}
	id := c.start(t, model.StartWorkflowRequest{Name: wfName, Version: 1})
	if st := waitStatus(t, c.wf, id, 10*time.Second); st.Status != "FAILED" {
		t.Fatalf("status %s, want FAILED", st.Status)
	}
}

// TestConductorE2EJSONJQTests is testJQOutputIsReachableWhenSyncSystemTaskIsNext:
// 40 runs of a JSON_JQ_TRANSFORM (query `{"as": "+", "md": "/"}`) then a
// SET_VARIABLE whose input is ${generate_operators_ref.output.result.md},
// started with the definition in the request (timeout 60 s TIME_OUT_WF):
// each completes, and the SET_VARIABLE's input name is "/".
func TestConductorE2EJSONJQTests(t *testing.T) {
	s := newE2TServer(t)
	const name = "JQREACHABL"
	def := model.WorkflowDef{Name: name, Version: 1, OwnerEmail: "test@conductor.io", TimeoutSeconds: 60, TimeoutPolicy: "TIME_OUT_WF",
		SchemaVersion: 2, Restartable: true, Tasks: []model.WorkflowTask{
			{Name: "jqTaskName", TaskReferenceName: "generate_operators_ref", Type_: "JSON_JQ_TRANSFORM",
				InputParameters: map[string]any{"queryExpression": `{"as": "+", "md": "/"}`}},
			{Name: "setvartaskname", TaskReferenceName: "setvartaskname_ref", Type_: "SET_VARIABLE",
				InputParameters: map[string]any{"name": "${generate_operators_ref.output.result.md}"}},
		}}
	var ids []string
	for range 40 {
		ids = append(ids, s.start(t, model.StartWorkflowRequest{Name: name, Version: 1, WorkflowDef: &def}))
	}
	for _, id := range ids {
		w := s.awaitStatus(t, id, "COMPLETED")
		if got := w.Tasks[1].InputData["name"]; got != "/" {
			t.Fatalf("run %s: the SET_VARIABLE's input name is %v, want /", id, got)
		}
	}
}

// TestConductorE2ESetVariableTests: set_variable_test (one SET_VARIABLE of
// vars = ${workflow.input.vars}), run 2,000 times from 20 concurrent
// clients, each with its own random UUID as input: testAllFast runs each
// with executeWorkflow (the answer holds the COMPLETED run), testAll starts
// each and reads it back once all completed; every run's variables.vars is
// its own UUID.
func TestConductorE2ESetVariableTests(t *testing.T) {
	const total, clients = 2000, 20 // as the Java test's TOTAL_TO_CREATE and pool
	s := newE2TServer(t)
	s.updateDefs(t, transcribedDef(t, "e2e_set_variable_test.json"))
	wc := client.NewWorkflowClient(client.NewAPIClient(nil, settings.NewHttpSettings(s.URL+"/api")))
	uuid := func() string { return rand.Text() }
	// run calls one per index from clients goroutines; it returns the
	// workflow ids and the UUID each was given.
	run := func(t *testing.T, one func(ctx context.Context, uuid string) (string, error)) map[string]string {
		expected := map[string]string{}
		var mu sync.Mutex
		next := make(chan int)
		var wg sync.WaitGroup
		for range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range next {
					u := uuid()
					id, err := one(t.Context(), u)
					if err != nil {
						t.Error(err)
						continue
					}
					mu.Lock()
					expected[id] = u
					mu.Unlock()
				}
			}()
		}
		for i := range total {
			next <- i
		}
		close(next)
		wg.Wait()
		if len(expected) != total {
			t.Fatalf("%d distinct runs, want %d", len(expected), total)
		}
		return expected
	}
	t.Run("testAllFast", func(t *testing.T) {
		run(t, func(ctx context.Context, u string) (string, error) {
			req := model.StartWorkflowRequest{Name: "set_variable_test", Version: 1, Input: map[string]any{"vars": u}}
			wf, resp, err := wc.ExecuteWorkflow(ctx, req, "", "set_variable_test", 1, "")
			if err != nil {
				return "", fmt.Errorf("executeWorkflow: %v (status %d)", err, status(resp))
			}
			if wf.Status != "COMPLETED" || wf.Variables["vars"] != u {
				return "", fmt.Errorf("Workflow %s: %s, has vars %v, expected %s", wf.WorkflowId, wf.Status, wf.Variables["vars"], u)
			}
			return wf.WorkflowId, nil
		})
	})
	t.Run("testAll", func(t *testing.T) {
		expected := run(t, func(ctx context.Context, u string) (string, error) {
			id, resp, err := wc.StartWorkflowWithRequest(ctx, model.StartWorkflowRequest{Name: "set_variable_test", Version: 1, Input: map[string]any{"vars": u}})
			if err != nil {
				return "", fmt.Errorf("startWorkflow: %v (status %d)", err, status(resp))
			}
			return id, nil
		})
		for id, u := range expected {
			st := waitStatus(t, wc, id, 30*time.Second)
			if st.Status != "COMPLETED" || st.Variables["vars"] != u {
				t.Fatalf("Workflow %s: %s, has vars %v, expected %s", id, st.Status, st.Variables["vars"], u)
			}
		}
	})
}
