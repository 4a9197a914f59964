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
)

// testReopenParentDef is a test run whose SUB_WORKFLOW child calls a real
// server (mocked) and whose next task, a SIMPLE one without a mock, stops
// the test; the parent then waits there, RUNNING.
func testReopenParentDef(url string) string {
	return `{"name":"reopenparent","version":1,"schemaVersion":2,"tasks":[
	  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"kid","workflowDefinition":{"name":"kid","version":1,"schemaVersion":2,"tasks":[
	    {"name":"call","taskReferenceName":"call","type":"HTTP","inputParameters":{"http_request":{"uri":"` + url + `","method":"GET"}}}],
	    "outputParameters":{"call":"${call.output.response.body}"}}}},
	  {"name":"hold","taskReferenceName":"hold","type":"SIMPLE"}],
	  "outputParameters":{"sub":"${sub.output.call}"}}`
}

// TestTestRunChildReopenedContinuesItsTest: the child of a test run's
// SUB_WORKFLOW restarted by another process, while its parent waits
// RUNNING after its test answered, re-opens the parent's task, executed
// by the process that executes the parent (handed over through the run
// store) or, when none does, by the one that restarted it. Restarted, the
// child is a test again with its mocks from the first (its stored mocks
// part): it takes its mock there and completes; nothing calls out, no
// task is offered to a worker.
func TestTestRunChildReopenedContinuesItsTest(t *testing.T) {
	for _, tc := range []struct {
		name           string
		parentExecuted bool // the first process still executes the parent
	}{
		{"parent executed by another process", true},
		{"parent executed by none", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url, hits := realServer(t)
			g := newRig(t, "bolt", 5)
			var offered atomic.Int32
			e := resumeEngine(t, g, &offered)
			d, err := e.Parse([]byte(testReopenParentDef(url)))
			if err != nil {
				t.Fatal(err)
			}
			test, err := engine.NewTest(&engine.Mocks{SubWorkflows: map[string]*engine.Mocks{"sub": {Tasks: map[string][]engine.TaskMock{
				"call": {{Output: json.RawMessage(`{"response":{"statusCode":200,"body":{"child":"mocked"}}}`)}},
			}}}})
			if err != nil {
				t.Fatal(err)
			}
			const parentID = "test-reopen-parent"
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(parentID), engine.AsTest(test))
				done <- err
			}()
			select {
			case <-test.Waiting():
			case <-time.After(20 * time.Second):
				t.Fatal("the test did not stop")
			}
			if at := test.WaitingAt(); at != "hold" {
				t.Fatalf("the test waits at %q", at)
			}
			parent := viewRun(t, e, parentID)
			childID := parent.Tasks[0].SubWorkflowID
			first := viewRun(t, e, childID)
			if first.Status != engine.StatusCompleted || len(first.Tasks) != 1 {
				t.Fatalf("child: %s %s", first.Status, taskList(first))
			}
			if !tc.parentExecuted {
				cancel()
				if err := <-done; !errors.Is(err, engine.ErrInterrupted) {
					t.Fatalf("interrupted parent: %v", err)
				}
			}
			e2 := resumeEngine(t, g, &offered)
			rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer rcancel()
			restarted := make(chan error, 1)
			go func() {
				_, err := e2.Restart(rctx, childID, true)
				restarted <- err
			}()
			// The child runs again (a new attempt of call) and takes its
			// mock.
			var child runView
			again := func(v runView) bool { return len(v.Tasks) == 1 && v.Tasks[0].TaskID != first.Tasks[0].TaskID }
			for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if child = viewRun(t, e2, childID); child.Status == engine.StatusCompleted && again(child) {
					break
				}
			}
			if child.Status != engine.StatusCompleted || !again(child) || taskList(child) != "call:HTTP:COMPLETED" {
				t.Fatalf("restarted child: %s %s (run again: %v), want it COMPLETED by its mock", child.Status, taskList(child), again(child))
			}
			want := "sub:SUB_WORKFLOW:COMPLETED hold:hold:SCHEDULED"
			var now runView
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if now = viewRun(t, e2, parentID); taskList(now) == want {
					break
				}
			}
			if now.Status != engine.StatusRunning || taskList(now) != want {
				t.Fatalf("parent: %s %s, want RUNNING %s", now.Status, taskList(now), want)
			}
			// The parent's test had answered: hold waits for good, and
			// takes a completion from outside.
			if _, err := e2.CompleteTask(context.Background(), parentID, "hold", engine.TaskCompleted, nil); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if now = viewRun(t, e2, parentID); now.Status == engine.StatusCompleted {
					break
				}
			}
			if now.Status != engine.StatusCompleted || now.Output["sub"].(map[string]any)["child"] != "mocked" {
				t.Fatalf("parent: %s %s %v", now.Status, taskList(now), now.Output)
			}
			if hits.Load() != 0 || offered.Load() != 0 {
				t.Fatalf("called the real server %d times, offered a task to workers %d times", hits.Load(), offered.Load())
			}
			if err := <-restarted; err != nil && !tc.parentExecuted {
				t.Fatalf("restart: %v", err)
			}
		})
	}
}

// blockingSink holds every publication until release is closed.
type blockingSink struct {
	release   chan struct{}
	published atomic.Int32
}

func (s *blockingSink) Publish(ctx context.Context, queue, id string, payload []byte) error {
	select {
	case <-s.release:
		s.published.Add(1)
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TestTestRunChildReopenedInItsParentsPasses: a test run's child restarted
// by another process while its parent's test still goes in passes (a
// branch publishes an EVENT for real, for as long as its sink takes) is
// executed beside the parent's tasks in the parent's passes: it takes its
// mock once the pass comes (the JOIN waiting for it does not hold the
// passes), and the parent completes.
func TestTestRunChildReopenedInItsParentsPasses(t *testing.T) {
	url, hits := realServer(t)
	g := newRig(t, "bolt", 5)
	var offered atomic.Int32
	sink := &blockingSink{release: make(chan struct{})}
	e := resumeEngine(t, g, &offered)
	engine.WithEventSink(sink)(e)
	d, err := e.Parse([]byte(`{"name":"reopenpasses","version":1,"schemaVersion":2,"tasks":[
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	    [{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"kid","workflowDefinition":{"name":"kid","version":1,"schemaVersion":2,"tasks":[
	      {"name":"call","taskReferenceName":"call","type":"HTTP","inputParameters":{"http_request":{"uri":"` + url + `","method":"GET"}}}],
	      "outputParameters":{"call":"${call.output.response.body}"}}}}],
	    [{"name":"b1","taskReferenceName":"b1","type":"SIMPLE"},{"name":"e","taskReferenceName":"e","type":"EVENT","sink":"conductor"}]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["sub","e"]}],
	  "outputParameters":{"sub":"${sub.output.call}"}}`))
	if err != nil {
		t.Fatal(err)
	}
	test, err := engine.NewTest(&engine.Mocks{Tasks: map[string][]engine.TaskMock{"b1": {{}}},
		SubWorkflows: map[string]*engine.Mocks{"sub": {Tasks: map[string][]engine.TaskMock{
			"call": {{Output: json.RawMessage(`{"response":{"statusCode":200,"body":{"child":"mocked"}}}`)}},
		}}}})
	if err != nil {
		t.Fatal(err)
	}
	const parentID = "test-reopen-passes"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type outcome struct {
		res *engine.Result
		err error
	}
	done := make(chan outcome, 1)
	go func() {
		res, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(parentID), engine.AsTest(test))
		done <- outcome{res, err}
	}()
	var parent runView
	var childID string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := e.Show(context.Background(), parentID); err != nil {
			continue // not stored yet
		}
		parent = viewRun(t, e, parentID)
		if i := slicesIndexRef(parent, "sub"); i >= 0 && parent.Tasks[i].Status == engine.TaskCompleted {
			childID = parent.Tasks[i].SubWorkflowID
			break
		}
	}
	if childID == "" {
		t.Fatalf("the child did not complete: %s", taskList(parent))
	}
	first := viewRun(t, e, childID)
	e2 := resumeEngine(t, g, &offered)
	restarted := make(chan error, 1)
	go func() {
		_, err := e2.Restart(ctx, childID, true)
		restarted <- err
	}()
	// Re-opened in the parent's process, the child waits for the pass
	// that the EVENT being published holds.
	var child runView
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		parent = viewRun(t, e, parentID)
		child = viewRun(t, e, childID)
		if i := slicesIndexRef(parent, "sub"); i >= 0 && parent.Tasks[i].Status == engine.TaskInProgress &&
			len(child.Tasks) == 1 && child.Tasks[0].TaskID != first.Tasks[0].TaskID {
			break
		}
	}
	if len(child.Tasks) != 1 || child.Tasks[0].TaskID == first.Tasks[0].TaskID {
		t.Fatalf("the child was not re-opened: parent %s, child %s", taskList(parent), taskList(child))
	}
	select {
	case <-test.Stopped():
		t.Fatal("the test stopped while the EVENT was being published")
	default:
	}
	close(sink.release)
	var o outcome
	select {
	case o = <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("the parent did not end: %s; child %s", taskList(viewRun(t, e, parentID)), taskList(viewRun(t, e, childID)))
	}
	if o.err != nil || o.res.Status != engine.StatusCompleted || string(o.res.Output) != `{"sub":{"child":"mocked"}}` {
		t.Fatalf("parent: %v %v", o.res, o.err)
	}
	if err := <-restarted; err != nil {
		t.Fatalf("restart: %v", err)
	}
	if test.Answer() != nil {
		t.Fatal("the test answered in a pass; it ran to the run's end")
	}
	if hits.Load() != 0 || offered.Load() != 0 || sink.published.Load() != 1 {
		t.Fatalf("%d calls to the real server, %d tasks offered, %d events published", hits.Load(), offered.Load(), sink.published.Load())
	}
}

// TestTestRunResumedMidTestContinuesItsTest: a test run whose process went
// away while its test still went in passes (an EVENT being published
// held them) is resumed by another process as a test that goes on: its
// stored mocks part says the test had not stopped, so its next task takes
// its mock there and the run completes; nothing calls out, no task is
// offered to a worker.
func TestTestRunResumedMidTestContinuesItsTest(t *testing.T) {
	url, hits := realServer(t)
	g := newRig(t, "bolt", 5)
	var offered atomic.Int32
	held := &blockingSink{release: make(chan struct{})}
	e := resumeEngine(t, g, &offered)
	engine.WithEventSink(held)(e)
	def := []byte(`{"name":"midtest","version":1,"schemaVersion":2,"tasks":[
	  {"name":"e","taskReferenceName":"e","type":"EVENT","sink":"conductor"},
	  {"name":"call","taskReferenceName":"call","type":"HTTP","inputParameters":{"http_request":{"uri":"` + url + `","method":"GET"}}}],
	  "outputParameters":{"call":"${call.output.response.body}"}}`)
	d, err := e.Parse(def)
	if err != nil {
		t.Fatal(err)
	}
	mocks := &engine.Mocks{Tasks: map[string][]engine.TaskMock{
		"call": {{Output: json.RawMessage(`{"response":{"statusCode":200,"body":{"mocked":true}}}`)}}}}
	test, err := engine.NewTest(mocks)
	if err != nil {
		t.Fatal(err)
	}
	const id = "test-mid-test"
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := e.Start(ctx, d, json.RawMessage(`{}`), engine.WithRunID(id), engine.AsTest(test))
		done <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if _, err := e.Show(context.Background(), id); err == nil && taskList(viewRun(t, e, id)) == "e:EVENT:IN_PROGRESS" {
			break
		}
	}
	cancel()
	if err := <-done; !errors.Is(err, engine.ErrInterrupted) {
		t.Fatalf("interrupted run: %v", err)
	}
	var sink lockedBuffer
	e2 := resumeEngine(t, g, &offered)
	engine.WithEventSink(engine.NewWriterSink(&sink))(e2)
	rctx, rcancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer rcancel()
	res, err := e2.Resume(rctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if res.Status != engine.StatusCompleted || string(res.Output) != `{"call":{"mocked":true}}` {
		t.Fatalf("resumed: %s %s (%s); %s", res.Status, res.Output, res.Reason, taskList(viewRun(t, e2, id)))
	}
	if hits.Load() != 0 || offered.Load() != 0 || strings.Count(sink.String(), "\n") != 1 {
		t.Fatalf("%d calls to the real server, %d tasks offered, published on resume: %q", hits.Load(), offered.Load(), sink.String())
	}
}
