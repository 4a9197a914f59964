package engine_test

import (
	"context"
	"encoding/json"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// restartDef: a worker task, then an HTTP call to url.
func restartDef(url string) json.RawMessage {
	return json.RawMessage(`{"name":"again","version":1,"schemaVersion":2,"tasks":[
	  {"name":"a","taskReferenceName":"a","type":"SIMPLE"},
	  {"name":"call","taskReferenceName":"call","type":"HTTP","inputParameters":{"http_request":{"uri":"` + url + `","method":"GET"}}}],
	  "outputParameters":{"a":"${a.output.n}","call":"${call.output.response.body}"}}`)
}

func mockList(t *testing.T, s string) map[string][]engine.TaskMock {
	t.Helper()
	var m map[string][]engine.TaskMock
	if err := json.Unmarshal([]byte(s), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTestRunRunsAgainAsATest: a test run that runs again is a test again
// and never calls out for its mocked tasks. Restarted from the start, its
// mocks start over (the outcome the test had); rerun from a task, that
// task's mocks start over; retried, it goes on with the mocks left: the
// failed task's retry takes its next mock.
func TestTestRunRunsAgainAsATest(t *testing.T) {
	cases := []struct {
		name, mocks string
		first       string // the test's outcome
		again       func(ctx context.Context, e *engine.Engine, wf runView) (*engine.Result, error)
		want        string
	}{
		{"restart", `{"a":[{"output":{"n":1}}],"call":[{"output":{"response":{"statusCode":200,"body":"mocked"}}}]}`,
			engine.StatusCompleted,
			func(ctx context.Context, e *engine.Engine, wf runView) (*engine.Result, error) {
				return e.Restart(ctx, wf.WorkflowID, true)
			}, `{"a":1,"call":"mocked"}`},
		{"rerun", `{"a":[{"output":{"n":1}}],"call":[{"output":{"response":{"statusCode":200,"body":"mocked"}}}]}`,
			engine.StatusCompleted,
			func(ctx context.Context, e *engine.Engine, wf runView) (*engine.Result, error) {
				return e.Rerun(ctx, wf.WorkflowID, wf.Tasks[1].TaskID)
			}, `{"a":1,"call":"mocked"}`},
		{"retry", `{"a":[{"output":{"n":1}}],"call":[{"status":"FAILED_WITH_TERMINAL_ERROR"},{"output":{"response":{"statusCode":200,"body":"second"}}}]}`,
			engine.StatusFailed,
			func(ctx context.Context, e *engine.Engine, wf runView) (*engine.Result, error) {
				return e.Retry(ctx, wf.WorkflowID, false)
			}, `{"a":1,"call":"second"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			url, hits := realServer(t)
			var offered atomic.Int32
			e := mockEngine(t, nil, &offered)
			wf := runTest(t, e, testRequest{WorkflowDef: restartDef(url), Mocks: engine.Mocks{Tasks: mockList(t, tc.mocks)}})
			if wf.Status != tc.first {
				t.Fatalf("the test: %s %s (%s)", wf.Status, taskList(wf), wf.Reason)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			res, err := tc.again(ctx, e, wf)
			if err != nil {
				t.Fatal(err)
			}
			if res.Status != engine.StatusCompleted || string(res.Output) != tc.want {
				t.Fatalf("again: %s %s (%s), want COMPLETED %s", res.Status, res.Output, res.Reason, tc.want)
			}
			if hits.Load() != 0 || offered.Load() != 0 {
				t.Fatalf("the test run called the real server %d times, offered %d tasks to workers", hits.Load(), offered.Load())
			}
		})
	}
}

// TestTestRunRetriedWithoutMocksLeftDoesNotCallOut: a test run retried
// when its failed HTTP task has no mock left does not call the real
// server: the task waits (it was mocked), the run RUNNING, until it is
// completed from outside.
func TestTestRunRetriedWithoutMocksLeftDoesNotCallOut(t *testing.T) {
	url, hits := realServer(t)
	var offered atomic.Int32
	e := mockEngine(t, nil, &offered)
	wf := runTest(t, e, testRequest{WorkflowDef: restartDef(url),
		Mocks: engine.Mocks{Tasks: mockList(t, `{"a":[{"output":{"n":1}}],"call":[{"status":"FAILED_WITH_TERMINAL_ERROR"}]}`)}})
	if wf.Status != engine.StatusFailed {
		t.Fatalf("the test: %s %s", wf.Status, taskList(wf))
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = e.Retry(ctx, wf.WorkflowID, false)
	}()
	defer func() { cancel(); <-done }()
	want := "a:a:COMPLETED call:HTTP:FAILED_WITH_TERMINAL_ERROR call:HTTP:SCHEDULED"
	var now runView
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if now = viewRun(t, e, wf.WorkflowID); taskList(now) == want {
			break
		}
	}
	time.Sleep(100 * time.Millisecond)
	if now = viewRun(t, e, wf.WorkflowID); now.Status != engine.StatusRunning || taskList(now) != want || hits.Load() != 0 {
		t.Fatalf("retried: %s %s after %d calls to the real server, want RUNNING %s after none", now.Status, taskList(now), hits.Load(), want)
	}
	if _, err := e.CompleteTask(context.Background(), wf.WorkflowID, "call", engine.TaskCompleted, json.RawMessage(`{"response":{"body":"by hand"}}`)); err != nil {
		t.Fatal(err)
	}
	<-done
	if now = viewRun(t, e, wf.WorkflowID); now.Status != engine.StatusCompleted || hits.Load() != 0 {
		t.Fatalf("completed by hand: %s %s after %d calls", now.Status, taskList(now), hits.Load())
	}
}

// TestTestRunRestartedAfterItsTestStopped: a test that stopped gives no
// mock any more, but its run restarted from the start is a test again:
// its mocks apply from the first, and it stops where the test did.
func TestTestRunRestartedAfterItsTestStopped(t *testing.T) {
	def := json.RawMessage(`{"name":"stopped","version":1,"schemaVersion":2,"tasks":[
	  {"name":"a","taskReferenceName":"a","type":"SIMPLE"},{"name":"b","taskReferenceName":"b","type":"SIMPLE"}]}`)
	var offered atomic.Int32
	e := mockEngine(t, nil, &offered)
	tr, id := startTest(t, e, testRequest{WorkflowDef: def, Mocks: engine.Mocks{Tasks: mockList(t, `{"a":[{"output":{"n":1}}]}`)}}, 0)
	const want = "a:a:COMPLETED b:b:SCHEDULED"
	if wf := answerOf(t, tr); taskList(wf) != want {
		t.Fatalf("the test: %s", taskList(wf))
	}
	if err := e.Terminate(context.Background(), id, "done looking"); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if viewRun(t, e, id).Status == engine.StatusTerminated {
			break
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = e.Restart(ctx, id, true)
	}()
	defer func() { cancel(); <-done }()
	var now runView
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if now = viewRun(t, e, id); now.Status == engine.StatusRunning && taskList(now) == want {
			break
		}
	}
	if now.Status != engine.StatusRunning || taskList(now) != want || now.Tasks[0].Output["n"] != float64(1) {
		t.Fatalf("restarted: %s %s %v, want RUNNING %s", now.Status, taskList(now), now.Tasks[0].Output, want)
	}
	if n := offered.Load(); n != 0 {
		t.Errorf("%d tasks offered to workers", n)
	}
}
