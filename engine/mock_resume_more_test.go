package engine_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// realServer is an HTTP endpoint a test run must never reach; hits counts
// the requests it got.
func realServer(t *testing.T) (url string, hits *atomic.Int32) {
	hits = new(atomic.Int32)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		_, _ = w.Write([]byte(`{"real":true}`))
	}))
	t.Cleanup(srv.Close)
	return srv.URL, hits
}

// A test run retried by another process (it ended FAILED by a mock) takes
// its next mock, as the retry in the process that ran it would.
func TestTestRunRetriedByAnotherProcessTakesItsNextMock(t *testing.T) {
	url, hits := realServer(t)
	g := newRig(t, "bolt", 5)
	var offered atomic.Int32
	e := resumeEngine(t, g, &offered)
	d, err := e.Parse([]byte(`{"name":"retried","version":1,"schemaVersion":2,"tasks":[
	  {"name":"call","taskReferenceName":"call","type":"HTTP","inputParameters":{"http_request":{"uri":"` + url + `","method":"GET"}}}],
	  "outputParameters":{"call":"${call.output.response.body}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	test, err := engine.NewTest(&engine.Mocks{Tasks: map[string][]engine.TaskMock{"call": {
		{Status: engine.TaskFailedTerminal, Output: json.RawMessage(`{"try":1}`)},
		{Output: json.RawMessage(`{"response":{"statusCode":200,"body":{"mocked":2}}}`)},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID("test-retried"), engine.AsTest(test))
	if err != nil || res.Status != engine.StatusFailed {
		t.Fatalf("first run: %v %v", res, err)
	}
	res, err = resumeEngine(t, g, &offered).Retry(ctx, "test-retried", false)
	if err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 0 {
		t.Fatal("the retried test run called the real server")
	}
	if res.Status != engine.StatusCompleted || string(res.Output) != `{"call":{"mocked":2}}` {
		t.Fatalf("retried: %s %s (%s)", res.Status, res.Output, res.Reason)
	}
}

// The child of a test run's SUB_WORKFLOW stopped the test at its retried
// task, which has no mock left: resumed through its parent by another
// process, it gives no mock any more (the test answered), and its mocked
// HTTP task waits for a completion rather than calling out.
func TestTestRunChildResumedAfterItsTestStopped(t *testing.T) {
	url, hits := realServer(t)
	g := newRig(t, "bolt", 5)
	var offered atomic.Int32
	e := resumeEngine(t, g, &offered)
	d, err := e.Parse([]byte(`{"name":"parent","version":1,"schemaVersion":2,"tasks":[
	  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"child","workflowDefinition":{"name":"child","version":1,"schemaVersion":2,"tasks":[
	    {"name":"gate","taskReferenceName":"gate","type":"SIMPLE","taskDefinition":{"name":"gate","retryCount":1,"retryLogic":"FIXED","retryDelaySeconds":0}},
	    {"name":"call","taskReferenceName":"call","type":"HTTP","inputParameters":{"http_request":{"uri":"` + url + `","method":"GET"}}}],
	    "outputParameters":{"call":"${call.output.response.body}"}}}}],
	  "outputParameters":{"sub":"${sub.output.call}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	test, err := engine.NewTest(&engine.Mocks{SubWorkflows: map[string]*engine.Mocks{"sub": {Tasks: map[string][]engine.TaskMock{
		"gate": {{Status: engine.TaskFailed}},
		"call": {{Output: json.RawMessage(`{"response":{"statusCode":200,"body":{"child":"mocked"}}}`)}},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID("test-parent"), engine.AsTest(test))
		done <- err
	}()
	select {
	case <-test.Waiting():
	case <-time.After(20 * time.Second):
		t.Fatal("the test did not reach the child's gate")
	}
	childID, ref, _ := strings.Cut(test.WaitingAt(), "/")
	if ref != "gate" {
		t.Fatalf("waits at %q", test.WaitingAt())
	}
	cancel()
	<-done
	e2 := resumeEngine(t, g, &offered)
	if _, err := e2.CompleteTask(context.Background(), childID, "gate", engine.TaskCompleted, nil); err != nil {
		t.Fatal(err)
	}
	rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer rcancel()
	type outcome struct {
		res *engine.Result
		err error
	}
	resumed := make(chan outcome, 1)
	go func() {
		res, err := e2.Resume(rctx, "test-parent")
		resumed <- outcome{res, err}
	}()
	want := "gate:gate:FAILED gate:gate:COMPLETED call:HTTP:SCHEDULED"
	var now runView
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if now = viewRun(t, e2, childID); taskList(now) == want {
			break
		}
	}
	if taskList(now) != want || hits.Load() != 0 {
		t.Fatalf("resumed child: %s after %d calls, want %s", taskList(now), hits.Load(), want)
	}
	if _, err := e2.CompleteTask(context.Background(), childID, "call", engine.TaskCompleted, json.RawMessage(`{"response":{"body":{"by":"hand"}}}`)); err != nil {
		t.Fatal(err)
	}
	o := <-resumed
	if o.err != nil {
		t.Fatal(o.err)
	}
	if hits.Load() != 0 || offered.Load() != 0 {
		t.Fatalf("the resumed child called the real server %d times, offered its task %d times", hits.Load(), offered.Load())
	}
	if o.res.Status != engine.StatusCompleted || string(o.res.Output) != `{"sub":{"by":"hand"}}` {
		t.Fatalf("resumed: %s %s (%s)", o.res.Status, o.res.Output, o.res.Reason)
	}
}

// The child of a test run's SUB_WORKFLOW keeps the mocks its reference was
// given: the parent failed with its child (a mock), and retried down to
// the child by another process, the child's failed task takes its next
// mock; nothing calls out.
func TestTestRunChildRetriedByAnotherProcessTakesItsNextMock(t *testing.T) {
	url, hits := realServer(t)
	g := newRig(t, "bolt", 5)
	var offered atomic.Int32
	e := resumeEngine(t, g, &offered)
	d, err := e.Parse([]byte(`{"name":"parent","version":1,"schemaVersion":2,"tasks":[
	  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"child","workflowDefinition":{"name":"child","version":1,"schemaVersion":2,"tasks":[
	    {"name":"call","taskReferenceName":"call","type":"HTTP","inputParameters":{"http_request":{"uri":"` + url + `","method":"GET"}}}],
	    "outputParameters":{"call":"${call.output.response.body}"}}}}],
	  "outputParameters":{"sub":"${sub.output.call}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	test, err := engine.NewTest(&engine.Mocks{SubWorkflows: map[string]*engine.Mocks{"sub": {Tasks: map[string][]engine.TaskMock{
		"call": {{Status: engine.TaskFailedTerminal}, {Output: json.RawMessage(`{"response":{"statusCode":200,"body":{"child":"mocked"}}}`)}},
	}}}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID("test-parent-retried"), engine.AsTest(test))
	if err != nil || res.Status != engine.StatusFailed {
		t.Fatalf("first run: %v %v", res, err)
	}
	res, err = resumeEngine(t, g, &offered).Retry(ctx, "test-parent-retried", true)
	if err != nil {
		t.Fatal(err)
	}
	if hits.Load() != 0 || offered.Load() != 0 {
		t.Fatalf("the retried child called the real server %d times, offered its task %d times", hits.Load(), offered.Load())
	}
	if res.Status != engine.StatusCompleted || string(res.Output) != `{"sub":{"child":"mocked"}}` {
		t.Fatalf("retried: %s %s (%s)", res.Status, res.Output, res.Reason)
	}
}
