package server_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/conductor-sdk/conductor-go/sdk/model"

	"github.com/wfrun/wfrun/engine"
)

// Ports of conductor-oss/conductor e2e/src/test/java/io/conductor/e2e/
// workflow/SyncWorkflowExecutionTest.java (b54f0d4): synchronous execution
// (POST /api/workflow/execute/{name}/{version}) of the definitions of
// testdata/conductor/sync_workflows.json, unmodified. The Java tests time
// the call on the wall clock; waitForSeconds, like every wfrun timeout,
// runs on the engine clock, so here a manual clock is moved one second at
// a time until the answer comes, and the time the call took is read on it.

// syncServer serves sync_workflows.json on a manual clock.
func syncServer(t *testing.T) (*e2eClient, *engine.ManualClock) {
	clock := engine.NewManualClock(time.Unix(1_700_000_000, 0))
	c := newE2EClient(t, newConductorServerWith(t, nil, []engine.Option{engine.WithClock(clock)}))
	defs, err := os.ReadFile("../../testdata/conductor/sync_workflows.json")
	if err != nil {
		t.Fatal(err)
	}
	var list []json.RawMessage
	if err := json.Unmarshal(defs, &list); err != nil {
		t.Fatal(err)
	}
	for _, def := range list {
		var head struct{ Name string }
		_ = json.Unmarshal(def, &head)
		// load_test_perf_sync_workflow's outputParameters and two nested
		// tasks' inputs refer to tasks it does not have (x_test_worker_1,
		// get_data): registered all the same, as Conductor registers it
		// (they resolve to null).
		if st, _, body := c.ts.do(t, "PUT", "/api/metadata/workflow", "["+string(def)+"]"); st != 200 {
			t.Fatalf("register %s: %d %s", head.Name, st, body)
		}
	}
	return c, clock
}

// executeTimed runs call (a synchronous execution whose server waits at
// most wait, on the engine's clock) and returns its answer and the time it
// took on the clock. The clock stays still until the server's wait is
// pending (a timer at the call's start plus wait: nothing of the run's own
// waits can move past it first), then moves a second every 20 ms of real
// time up to a second past it, and stops there: the answer is due by then,
// and a loaded machine's server may take its time to send it without the
// clock passing the tests' 30 s bound.
func executeTimed(t *testing.T, clock *engine.ManualClock, call func() (model.WorkflowRun, error), wait time.Duration) (model.WorkflowRun, time.Duration) {
	t.Helper()
	type answer struct {
		run model.WorkflowRun
		err error
	}
	done := make(chan answer, 1)
	start := clock.Now()
	go func() {
		run, err := call()
		done <- answer{run, err}
	}()
	armed := false
	for real := time.After(20 * time.Second); ; {
		select {
		case a := <-done:
			if a.err != nil {
				t.Fatalf("execute: %v", a.err)
			}
			return a.run, clock.Now().Sub(start)
		case <-real:
			took := clock.Now().Sub(start)
			clock.Advance(time.Hour) // the server's wait ends: the test's cleanup can close it
			t.Fatalf("no answer after %s on the clock (the server's wait pending: %v)", took, armed)
		case <-time.After(20 * time.Millisecond):
			if !armed {
				armed = clock.Pending(start.Add(wait))
				continue
			}
			if clock.Now().Sub(start) <= wait {
				clock.Advance(time.Second)
			}
		}
	}
}

// executeSDK is workflowClient.executeWorkflow(request, waitUntilTask):
// the Go SDK's ExecuteWorkflow (no waitForSeconds: the server's 10 s).
func (c *e2eClient) executeSDK(name, waitUntil string) func() (model.WorkflowRun, error) {
	return func() (model.WorkflowRun, error) {
		run, _, err := c.wc.ExecuteWorkflow(c.ctx, model.StartWorkflowRequest{Name: name, Version: 1}, "req-"+name, name, 1, waitUntil)
		return run, err
	}
}

// executeWait is workflowClient.executeWorkflow(request, waitUntil,
// waitForSeconds), which the Go SDK lacks: plain HTTP.
func (c *e2eClient) executeWait(name, waitUntil string, waitForSeconds int) func() (model.WorkflowRun, error) {
	return func() (model.WorkflowRun, error) {
		q := url.Values{"requestId": {"req-" + name}, "waitUntilTaskRef": {waitUntil}, "waitForSeconds": {fmt.Sprint(waitForSeconds)}}
		body, _ := json.Marshal(model.StartWorkflowRequest{Name: name, Version: 1})
		st, _, resp := c.ts.do(c.t, "POST", "/api/workflow/execute/"+name+"/1?"+q.Encode(), string(body))
		var run model.WorkflowRun
		if err := json.Unmarshal([]byte(resp), &run); st != 200 || err != nil {
			return run, fmt.Errorf("%d %s", st, resp)
		}
		return run, nil
	}
}

// TestE2ESyncWorkflowExecution is the synchronous-execution tests that
// assert the call's time and, where they do, the run's status:
// testSyncWorkflowExecution2 (a SIMPLE task
// nobody polls: RUNNING), …3 (a SET_VARIABLE), …4 (a jq task; the ref the
// test waits for is not in the definition, the run completes), …5 (a
// SUB_WORKFLOW whose child waits for a worker), …7 and
// testSyncWorkflowVariableUpdates (no poller: RUNNING). Each answers in
// under the Java tests' 30 s threshold; those asserting RUNNING then
// terminate the run.
func TestE2ESyncWorkflowExecution(t *testing.T) {
	c, clock := syncServer(t)
	for _, tc := range []struct {
		test, name, waitUntil string
		waitForSeconds        int // 0: the SDK call, without it
		status                string
	}{
		{"testSyncWorkflowExecution2", "sync_workflow_end_with_simple_task", "simple_task_rka0w_ref", 0, "RUNNING"},
		{"testSyncWorkflowExecution3", "sync_workflow_end_with_set_variable_task", "set_variable_task_1fi09_ref", 0, ""},
		{"testSyncWorkflowExecution4", "sync_workflow_end_with_jq_task", "json_transform_task_jjowa_ref", 0, ""},
		{"testSyncWorkflowExecution5", "sync_workflow_end_with_subworkflow_task", "http_sync", 0, ""},
		{"testSyncWorkflowExecution7", "sync_workflow_no_poller", "simple_task_pia0h_ref", 0, "RUNNING"},
		{"testSyncWorkflowVariableUpdates", "sync_workflow_no_poller", "simple_task_pia0h_ref", 0, "RUNNING"},
	} {
		t.Run(tc.test, func(t *testing.T) {
			c := c.with(t)
			call := c.executeSDK(tc.name, tc.waitUntil)
			if tc.waitForSeconds != 0 {
				call = c.executeWait(tc.name, tc.waitUntil, tc.waitForSeconds)
			}
			wait := 10 * time.Second // the server's default
			if tc.waitForSeconds != 0 {
				wait = time.Duration(tc.waitForSeconds) * time.Second
			}
			run, took := executeTimed(t, clock, call, wait)
			if run.WorkflowId == "" || took >= 30*time.Second {
				t.Fatalf("answer %+v after %s", run, took)
			}
			if tc.status != "" && run.Status != tc.status {
				t.Fatalf("status %s, want %s", run.Status, tc.status)
			}
			if tc.status == "RUNNING" { // the tests that assert RUNNING terminate the run
				c.terminate(run.WorkflowId, "Terminated")
			}
		})
	}
}

// TestE2ESyncWorkflowWithInlineWaitAndWaitUntilTaskRef is
// testSyncWorkflowWithInlineWaitAndWaitUntilTaskRef: INLINE → WAIT (5
// seconds) → SIMPLE, waiting until simple_ref with waitForSeconds 25: the
// answer comes no sooner than the WAIT's 5 s (a WAIT with a duration does
// not block the call) and before 30 s, RUNNING with the three tasks.
func TestE2ESyncWorkflowWithInlineWaitAndWaitUntilTaskRef(t *testing.T) {
	c, clock := syncServer(t)
	// simple_ref never ends (nobody polls it), and a WAIT with a duration
	// does not block: the answer is the run at the call's 25 s, as
	// Conductor's WorkflowSignalResponder gives it.
	run, took := executeTimed(t, clock, c.executeWait("sync_workflow_with_inline_wait_and_simple_task", "simple_ref", 25), 25*time.Second)
	if took < 5*time.Second || took >= 30*time.Second {
		t.Fatalf("answered after %s on the clock, want [5s, 30s)", took)
	}
	if run.Status != "RUNNING" || len(run.Tasks) != 3 {
		t.Fatalf("answer %s with %d tasks, want RUNNING with 3", run.Status, len(run.Tasks))
	}
	c.terminate(run.WorkflowId, "Terminated")
}
