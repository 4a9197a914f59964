package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// testRequest is the part of Conductor's WorkflowTestRequest the engine
// tests read: the definition, the input and the mocks.
type testRequest struct {
	WorkflowDef json.RawMessage `json:"workflowDef"`
	Input       json.RawMessage `json:"input"`
	engine.Mocks
}

// mockEngine is an engine like wfrun serve's: SIMPLE tasks go to remote
// workers. offered counts the tasks handed to them (a test run's never are).
func mockEngine(t *testing.T, store runstore.Store, offered *atomic.Int32, opts ...engine.Option) *engine.Engine {
	t.Helper()
	return harnessEngine(t, store, append([]engine.Option{engine.WithRemoteWorker(func(ctx context.Context, rt engine.RemoteTask) tasks.Result {
		offered.Add(1)
		<-ctx.Done()
		return tasks.Result{Status: tasks.Failed, Reason: "interrupted"}
	})}, opts...)...)
}

// runTest starts req as a test run and returns its view once the test
// stopped (a task without a mock waits, or the run ended); the run is
// interrupted when the test ends.
func runTest(t *testing.T, e *engine.Engine, req testRequest) runView {
	t.Helper()
	d, err := e.Parse(req.WorkflowDef)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := engine.NewTest(&req.Mocks)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	id := "test-" + strings.ReplaceAll(t.Name(), "/", "-")
	done := make(chan error, 1)
	go func() {
		_, err := e.Start(ctx, d, req.Input, engine.WithRunID(id), engine.AsTest(tr))
		done <- err
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	select {
	case <-tr.Stopped():
	case <-time.After(20 * time.Second):
		t.Fatal("the test did not stop")
	}
	return viewRun(t, e, id)
}

func readTestRequest(t *testing.T, file string) testRequest {
	t.Helper()
	b, err := os.ReadFile(conductorDir + "/transcribed/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var req testRequest
	if err := json.Unmarshal(b, &req); err != nil {
		t.Fatal(err)
	}
	return req
}

func taskList(wf runView) string {
	var parts []string
	for _, tk := range wf.Tasks {
		parts = append(parts, tk.Ref+":"+tk.TaskType+":"+tk.Status)
	}
	return strings.Join(parts, " ")
}

// TestWorkflowSpec runs the two cases of Conductor's TestWorkflowSpec
// (their WorkflowTestRequests, transcribed) and checks what the spec
// checks: the run stays RUNNING at the first task without a mock, which
// waits SCHEDULED and is never offered to a worker.
func TestWorkflowSpec(t *testing.T) {
	cases := []struct {
		name, file string
		want       string
	}{
		{"simple tasks", "test_workflow_simple_tasks_request.json", "task1:task1:COMPLETED task2:task2:SCHEDULED"},
		{"decision task", "test_workflow_decision_request.json", "task1:task1:COMPLETED switch:SWITCH:COMPLETED d2:task2:SCHEDULED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var offered atomic.Int32
			e := mockEngine(t, nil, &offered)
			wf := runTest(t, e, readTestRequest(t, tc.file))
			if wf.Status != engine.StatusRunning || taskList(wf) != tc.want {
				t.Fatalf("got %s %s, want RUNNING %s", wf.Status, taskList(wf), tc.want)
			}
			if wf.Tasks[0].Output["key"] != "value" {
				t.Errorf("task1 output: %v", wf.Tasks[0].Output)
			}
			time.Sleep(50 * time.Millisecond)
			if n := offered.Load(); n != 0 {
				t.Errorf("%d tasks of the test run were offered to workers", n)
			}
		})
	}
}

// TestWorkflowTestMocks: mocks used in order by retries and DO_WHILE
// iterations, FAILED retried as a worker's failure, IN_PROGRESS then
// COMPLETED, times dated back, a sub-workflow's own mocks, system tasks
// run for real.
func TestWorkflowTestMocks(t *testing.T) {
	const def = `{"name":"mocked","version":1,"schemaVersion":2,"tasks":[
	  {"name":"flaky","taskReferenceName":"flaky","type":"SIMPLE","taskDefinition":{"name":"flaky","retryCount":2,"retryDelaySeconds":60}},
	  {"name":"calc","taskReferenceName":"calc","type":"INLINE","inputParameters":{"evaluatorType":"graaljs","expression":"$.v * 2","v":"${flaky.output.n}"}},
	  {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 2","loopOver":[
	    {"name":"step","taskReferenceName":"step","type":"SIMPLE"}]},
	  {"name":"slow","taskReferenceName":"slow","type":"SIMPLE"},
	  {"name":"child","taskReferenceName":"child","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"kid","version":1,"workflowDefinition":
	    {"name":"kid","version":1,"schemaVersion":2,"tasks":[{"name":"inner","taskReferenceName":"inner","type":"SIMPLE"}],
	     "outputParameters":{"inner":"${inner.output.x}"}}}},
	  {"name":"wait","taskReferenceName":"wait","type":"WAIT"}
	],"outputParameters":{"calc":"${calc.output.result}","child":"${child.output.inner}","waited":"${wait.output.ok}"}}`
	mocks := `{
	  "taskRefToMockOutput":{
	    "flaky":[{"status":"FAILED","output":{"try":1}},{"status":"COMPLETED","output":{"n":21}}],
	    "step__1":[{"output":{"i":1}}],"step__2":[{"output":{"i":2}}],
	    "slow":[{"status":"IN_PROGRESS","output":{"half":true}},{"status":"COMPLETED","output":{"done":true},"executionTime":5000,"queueWaitTime":2000}],
	    "wait":[{"output":{"ok":"yes"}}],
	    "calc":[{"output":{"result":"mocked"}}],
	    "nowhere":[{"output":{}}]},
	  "subWorkflowTestRequest":{"child":{"name":"kid","taskRefToMockOutput":{"inner":[{"output":{"x":"from-child"}}]}}}}`
	var req testRequest
	if err := json.Unmarshal([]byte(mocks), &req); err != nil {
		t.Fatal(err)
	}
	req.WorkflowDef = json.RawMessage(def)
	var offered atomic.Int32
	e := mockEngine(t, nil, &offered)
	wf := runTest(t, e, req)
	want := "flaky:flaky:FAILED flaky:flaky:COMPLETED calc:INLINE:COMPLETED loop:DO_WHILE:COMPLETED step__1:step:COMPLETED step__2:step:COMPLETED slow:slow:COMPLETED child:SUB_WORKFLOW:COMPLETED wait:WAIT:COMPLETED"
	if wf.Status != engine.StatusCompleted || taskList(wf) != want {
		t.Fatalf("got %s %s (%s)\nwant COMPLETED %s", wf.Status, taskList(wf), wf.Reason, want)
	}
	if wf.Tasks[1].RetriedTaskID != wf.Tasks[0].TaskID || wf.Tasks[1].RetryCount != 1 {
		t.Errorf("the retry: %+v", wf.Tasks[1])
	}
	out, _ := json.Marshal(wf.Output)
	if string(out) != `{"calc":42,"child":"from-child","waited":"yes"}` {
		t.Errorf("output %s: INLINE runs for real, the child takes its own mocks, WAIT its mock", out)
	}
	slow := wf.Tasks[6]
	if slow.Output["done"] != true || slow.Output["half"] != nil {
		t.Errorf("slow output %v", slow.Output)
	}
	var times struct {
		Tasks []struct {
			Ref       string `json:"referenceTaskName"`
			Scheduled int64  `json:"scheduledTime"`
			Start     int64  `json:"startTime"`
		} `json:"tasks"`
	}
	b, _ := e.Show(context.Background(), wf.WorkflowID)
	_ = json.Unmarshal(b, &times)
	if st := times.Tasks[6]; st.Start-st.Scheduled < 2000 {
		t.Errorf("slow: scheduled %d, started %d: want the mock's queueWaitTime between", st.Scheduled, st.Start)
	}
	if n := offered.Load(); n != 0 {
		t.Errorf("%d tasks offered to workers", n)
	}
}

// TestWorkflowTestStopsAtFirstUnmocked: a task with no mock left (a retry
// past its mocks, a child with no test request) stops the test there; the
// waiting task takes an external completion and the run goes on.
func TestWorkflowTestStopsAtFirstUnmocked(t *testing.T) {
	const def = `{"name":"stops","version":1,"schemaVersion":2,"tasks":[
	  {"name":"a","taskReferenceName":"a","type":"SIMPLE","taskDefinition":{"name":"a","retryCount":1,"retryDelaySeconds":0}},
	  {"name":"b","taskReferenceName":"b","type":"SIMPLE"}]}`
	var offered atomic.Int32
	e := mockEngine(t, nil, &offered)
	var req testRequest
	req.WorkflowDef = json.RawMessage(def)
	req.Tasks = map[string][]engine.TaskMock{"a": {{Status: "FAILED"}}}
	wf := runTest(t, e, req)
	if got := taskList(wf); wf.Status != engine.StatusRunning || got != "a:a:FAILED a:a:SCHEDULED" {
		t.Fatalf("got %s %s", wf.Status, got)
	}
	if _, err := e.CompleteTask(context.Background(), wf.WorkflowID, "a", "COMPLETED", json.RawMessage(`{"by":"hand"}`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		wf = viewRun(t, e, wf.WorkflowID)
		if taskList(wf) == "a:a:FAILED a:a:COMPLETED b:b:SCHEDULED" || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := taskList(wf); got != "a:a:FAILED a:a:COMPLETED b:b:SCHEDULED" {
		t.Fatalf("after the completion: %s", got)
	}
	if n := offered.Load(); n != 0 {
		t.Errorf("%d tasks offered to workers", n)
	}
}

// TestWorkflowTestMockedSecret: a mocked output enters the run as a
// worker's does: its `_secrets` leaves are sealed in the store, shown as
// "***", and their values masked wherever else they appear.
func TestWorkflowTestMockedSecret(t *testing.T) {
	const value = "mock-SECRET-4f1d9a2c"
	const def = `{"name":"secretmock","version":1,"schemaVersion":2,"tasks":[
	  {"name":"login","taskReferenceName":"login","type":"SIMPLE"},
	  {"name":"use","taskReferenceName":"use","type":"INLINE","inputParameters":{"evaluatorType":"graaljs","expression":"'got ' + $.tok","tok":"${login.output._secrets.token}"}}],
	  "outputParameters":{"used":"${use.output.result}"}}`
	store := runstore.NewMemory()
	var offered atomic.Int32
	e := mockEngine(t, store, &offered)
	var req testRequest
	req.WorkflowDef = json.RawMessage(def)
	req.Tasks = map[string][]engine.TaskMock{"login": {{Output: json.RawMessage(`{"_secrets":{"token":"` + value + `"},"echo":"Bearer ` + value + `"}`)}}}
	wf := runTest(t, e, req)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("status %s (%s)", wf.Status, wf.Reason)
	}
	if wf.Output["used"] != "got ***" {
		t.Errorf("output %v: the task read the sealed value, and its output is masked", wf.Output)
	}
	shown, _ := e.Show(context.Background(), wf.WorkflowID)
	stored, _, err := store.Load(context.Background(), wf.WorkflowID)
	if err != nil {
		t.Fatal(err)
	}
	for what, b := range map[string][]byte{"shown": shown, "stored": stored} {
		if strings.Contains(string(b), value) || strings.Contains(string(b), value[5:15]) {
			t.Errorf("the %s run holds the mocked secret: %s", what, b)
		}
	}
	if !strings.Contains(string(shown), `"echo":"Bearer ***"`) {
		t.Errorf("shown run: %s", shown)
	}
}

// TestWorkflowTestBadMocks: mocks the engine does not take are refused
// before anything runs, naming the mock.
func TestWorkflowTestBadMocks(t *testing.T) {
	cases := []struct{ mocks, want string }{
		{`{"taskRefToMockOutput":{"a":[{"status":"DONE"}]}}`, `taskRefToMockOutput["a"][0].status "DONE"`},
		{`{"taskRefToMockOutput":{"a":[{},{"output":[1]}]}}`, `taskRefToMockOutput["a"][1].output must be a JSON object`},
		{`{"taskRefToMockOutput":{"a":[{"executionTime":-1}]}}`, `must not be negative`},
		{`{"subWorkflowTestRequest":{"s":{"taskRefToMockOutput":{"x":[{"status":"SKIPPED"}]}}}}`, `subWorkflowTestRequest["s"].taskRefToMockOutput["x"][0].status`},
	}
	for _, tc := range cases {
		var m engine.Mocks
		if err := json.Unmarshal([]byte(tc.mocks), &m); err != nil {
			t.Fatal(err)
		}
		_, err := engine.NewTest(&m)
		if !errors.Is(err, engine.ErrBadMock) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want ErrBadMock naming %s", tc.mocks, err, tc.want)
		}
	}
}

// TestWorkflowTestChildWithoutMocks: a SUB_WORKFLOW with no
// subWorkflowTestRequest runs a child whose tasks have no mock: the test
// stops at the child's first SIMPLE task (Waiting names it with the
// child's id); the parent waits on its SUB_WORKFLOW, RUNNING.
func TestWorkflowTestChildWithoutMocks(t *testing.T) {
	const def = `{"name":"parent","version":1,"schemaVersion":2,"tasks":[
	  {"name":"first","taskReferenceName":"first","type":"SIMPLE"},
	  {"name":"child","taskReferenceName":"child","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"kid","version":1,"workflowDefinition":
	    {"name":"kid","version":1,"schemaVersion":2,"tasks":[{"name":"inner","taskReferenceName":"inner","type":"SIMPLE"}]}}}]}`
	var offered atomic.Int32
	e := mockEngine(t, nil, &offered)
	d, err := e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := engine.NewTest(&engine.Mocks{Tasks: map[string][]engine.TaskMock{"first": {{}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = e.Start(ctx, d, nil, engine.WithRunID("parent-run"), engine.AsTest(tr))
	}()
	defer func() { cancel(); <-done }()
	select {
	case <-tr.Waiting():
	case <-time.After(20 * time.Second):
		t.Fatal("the test did not stop")
	}
	wf := viewRun(t, e, "parent-run")
	if got := taskList(wf); wf.Status != engine.StatusRunning || got != "first:first:COMPLETED child:SUB_WORKFLOW:IN_PROGRESS" {
		t.Fatalf("parent: %s %s", wf.Status, got)
	}
	childID := wf.Tasks[1].SubWorkflowID
	if at := tr.WaitingAt(); at != childID+"/inner" {
		t.Errorf("WaitingAt %q, want %q", at, childID+"/inner")
	}
	if got := taskList(viewRun(t, e, childID)); got != "inner:inner:SCHEDULED" {
		t.Errorf("child: %s", got)
	}
	if n := offered.Load(); n != 0 {
		t.Errorf("%d tasks offered to workers", n)
	}
}

// TestWorkflowTestMockTimeouts: a mock that leaves a task IN_PROGRESS for
// an executionTime past its definition's timeoutSeconds times it out as
// Conductor's decider does, by the definition's timeoutPolicy; for tasks
// handed to remote workers and for local ones alike.
func TestWorkflowTestMockTimeouts(t *testing.T) {
	cases := []struct {
		policy, mocks, wantStatus, wantTasks string
	}{
		{"TIME_OUT_WF", `[{"status":"IN_PROGRESS","executionTime":20000},{"output":{}}]`, engine.StatusTimedOut, "slow:slow:TIMED_OUT"},
		{"RETRY", `[{"status":"IN_PROGRESS","executionTime":20000},{"output":{"ok":true}}]`, engine.StatusCompleted, "slow:slow:TIMED_OUT slow:slow:COMPLETED"},
		{"ALERT_ONLY", `[{"status":"IN_PROGRESS","executionTime":20000},{"output":{"ok":true}}]`, engine.StatusCompleted, "slow:slow:COMPLETED"},
		{"RETRY", `[{"status":"IN_PROGRESS","executionTime":5000},{"output":{"ok":true}}]`, engine.StatusCompleted, "slow:slow:COMPLETED"},
	}
	for _, remote := range []bool{true, false} {
		for _, tc := range cases {
			t.Run(fmt.Sprintf("remote=%v/%s/%s", remote, tc.policy, tc.wantTasks), func(t *testing.T) {
				def := `{"name":"timeouts","version":1,"schemaVersion":2,"tasks":[{"name":"slow","taskReferenceName":"slow","type":"SIMPLE",
				  "taskDefinition":{"name":"slow","retryCount":1,"retryDelaySeconds":0,"timeoutSeconds":10,"responseTimeoutSeconds":5,"timeoutPolicy":"` + tc.policy + `"}}]}`
				var req testRequest
				req.WorkflowDef = json.RawMessage(def)
				var list []engine.TaskMock
				if err := json.Unmarshal([]byte(tc.mocks), &list); err != nil {
					t.Fatal(err)
				}
				req.Tasks = map[string][]engine.TaskMock{"slow": list}
				var offered atomic.Int32
				e := harnessEngine(t, nil)
				if remote {
					e = mockEngine(t, nil, &offered)
				}
				wf := runTest(t, e, req)
				if wf.Status != tc.wantStatus || taskList(wf) != tc.wantTasks {
					t.Fatalf("got %s %s (%s), want %s %s", wf.Status, taskList(wf), wf.Reason, tc.wantStatus, tc.wantTasks)
				}
			})
		}
	}
}

// TestWorkflowTestHTTPMockedOrReal: a mocked HTTP task sends no request;
// one without a mock stops the test there and runs for real, as
// Conductor's system task worker runs it.
func TestWorkflowTestHTTPMockedOrReal(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"real":true}`))
	}))
	defer srv.Close()
	def := `{"name":"calls","version":1,"schemaVersion":2,"tasks":[
	  {"name":"first","taskReferenceName":"first","type":"HTTP","inputParameters":{"http_request":{"uri":"` + srv.URL + `/a","method":"GET"}}},
	  {"name":"second","taskReferenceName":"second","type":"HTTP","inputParameters":{"http_request":{"uri":"` + srv.URL + `/b","method":"GET"}}}],
	  "outputParameters":{"first":"${first.output.response.body}","second":"${second.output.response.body}"}}`
	var req testRequest
	req.WorkflowDef = json.RawMessage(def)
	req.Tasks = map[string][]engine.TaskMock{"first": {{Output: json.RawMessage(`{"response":{"statusCode":200,"body":{"mocked":true}}}`)}}}
	e := harnessEngine(t, nil)
	wf := runTest(t, e, req)
	if n := hits.Load(); n > 1 {
		t.Fatalf("%d requests: the mocked task called out", n)
	}
	for deadline := time.Now().Add(10 * time.Second); wf.Status == engine.StatusRunning && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		wf = viewRun(t, e, wf.WorkflowID)
	}
	out, _ := json.Marshal(wf.Output)
	if wf.Status != engine.StatusCompleted || string(out) != `{"first":{"mocked":true},"second":{"real":true}}` || hits.Load() != 1 {
		t.Fatalf("got %s %s after %d requests", wf.Status, out, hits.Load())
	}
}
