package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// startTest starts req as a test run (pass limit: limit, 0 for
// Conductor's) and returns the test once it stopped and the run's id; the
// run is interrupted when the test ends.
func startTest(t *testing.T, e *engine.Engine, req testRequest, limit int) (*engine.Test, string) {
	t.Helper()
	d, err := e.Parse(req.WorkflowDef)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := engine.NewTest(&req.Mocks)
	if err != nil {
		t.Fatal(err)
	}
	if limit > 0 {
		engine.SetTestPassLimit(tr, limit)
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
	case <-time.After(60 * time.Second):
		t.Fatal("the test did not stop")
	}
	return tr, id
}

// answerOf decodes a test's answer.
func answerOf(t *testing.T, tr *engine.Test) runView {
	t.Helper()
	b := tr.Answer()
	if b == nil {
		t.Fatal("the test stopped without an answer")
	}
	var wf runView
	if err := json.Unmarshal(b, &wf); err != nil {
		t.Fatal(err)
	}
	return wf
}

// sortedTasks is taskList in reference order (the branches' records
// interleave pass by pass; the passes, not that order, are checked here).
func sortedTasks(wf runView) string {
	parts := strings.Fields(taskList(wf))
	for i := range parts {
		for j := i + 1; j < len(parts); j++ {
			if parts[j] < parts[i] {
				parts[i], parts[j] = parts[j], parts[i]
			}
		}
	}
	return strings.Join(parts, " ")
}

// TestWorkflowTestForkPasses: in a FORK whose branches are mocked in part,
// the test goes in Conductor's passes: every task waiting in a pass gets
// its mock at once, unless one of them has none, which stops the test
// with none given. The answer is the run as that pass found it (the
// unmocked HTTP task SCHEDULED, not yet called); afterwards no mock is
// given (the mocked SIMPLE task of the other branch waits for good) and
// the unmocked HTTP task runs for real, as Conductor's system task worker
// runs it.
func TestWorkflowTestForkPasses(t *testing.T) {
	url, hits := realServer(t)
	def := `{"name":"forked","version":1,"schemaVersion":2,"tasks":[
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	    [{"name":"a1","taskReferenceName":"a1","type":"SIMPLE"},{"name":"a2","taskReferenceName":"a2","type":"SIMPLE"}],
	    [{"name":"b1","taskReferenceName":"b1","type":"SIMPLE"},
	     {"name":"b2","taskReferenceName":"b2","type":"HTTP","inputParameters":{"http_request":{"uri":"` + url + `","method":"GET"}}}]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a2","b2"]}]}`
	cases := []struct {
		name, mocks string
		answer      string
		after       string // the run a moment later
		calls       int32
	}{
		{"second pass stops", `{"a1":[{"output":{"n":1}}],"a2":[{"output":{"n":2}}],"b1":[{"output":{"n":3}}]}`,
			"a1:a1:COMPLETED a2:a2:SCHEDULED b1:b1:COMPLETED b2:HTTP:SCHEDULED fork:FORK:COMPLETED join:JOIN:IN_PROGRESS",
			"a1:a1:COMPLETED a2:a2:SCHEDULED b1:b1:COMPLETED b2:HTTP:COMPLETED fork:FORK:COMPLETED join:JOIN:IN_PROGRESS", 1},
		{"first pass stops", `{"a1":[{"output":{"n":1}}],"a2":[{"output":{"n":2}}]}`,
			"a1:a1:SCHEDULED b1:b1:SCHEDULED fork:FORK:COMPLETED join:JOIN:IN_PROGRESS",
			"a1:a1:SCHEDULED b1:b1:SCHEDULED fork:FORK:COMPLETED join:JOIN:IN_PROGRESS", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hits.Store(0)
			var req testRequest
			req.WorkflowDef = json.RawMessage(def)
			if err := json.Unmarshal([]byte(tc.mocks), &req.Tasks); err != nil {
				t.Fatal(err)
			}
			var offered atomic.Int32
			e := mockEngine(t, nil, &offered)
			tr, id := startTest(t, e, req, 0)
			wf := answerOf(t, tr)
			if wf.Status != engine.StatusRunning || sortedTasks(wf) != tc.answer {
				t.Fatalf("answer: %s %s\nwant RUNNING %s", wf.Status, sortedTasks(wf), tc.answer)
			}
			var now runView
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
				if now = viewRun(t, e, id); sortedTasks(now) == tc.after && hits.Load() == tc.calls {
					break
				}
			}
			time.Sleep(100 * time.Millisecond) // nothing more happens
			now = viewRun(t, e, id)
			if now.Status != engine.StatusRunning || sortedTasks(now) != tc.after || hits.Load() != tc.calls {
				t.Fatalf("afterwards: %s %s after %d calls\nwant RUNNING %s after %d", now.Status, sortedTasks(now), hits.Load(), tc.after, tc.calls)
			}
			if n := offered.Load(); n != 0 {
				t.Errorf("%d tasks offered to workers", n)
			}
		})
	}
}

// TestWorkflowTestPassLimit: Conductor's test loop stops after MAX_LOOPS
// passes and answers the run as it stands; no mock is given after it, so a
// DO_WHILE that would go on as long as it finds mocks waits at its next
// iteration's task, RUNNING.
func TestWorkflowTestPassLimit(t *testing.T) {
	def := `{"name":"forever","version":1,"schemaVersion":2,"tasks":[
	  {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"true","loopOver":[
	    {"name":"step","taskReferenceName":"step","type":"SIMPLE"}]}]}`
	var req testRequest
	req.WorkflowDef = json.RawMessage(def)
	req.Tasks = map[string][]engine.TaskMock{}
	for i := 1; i <= 50; i++ {
		req.Tasks[fmt.Sprintf("step__%d", i)] = []engine.TaskMock{{Output: json.RawMessage(fmt.Sprintf(`{"i":%d}`, i))}}
	}
	var offered atomic.Int32
	e := mockEngine(t, nil, &offered)
	tr, id := startTest(t, e, req, 5)
	wf := answerOf(t, tr)
	want := "loop:DO_WHILE:IN_PROGRESS step__1:step:COMPLETED step__2:step:COMPLETED step__3:step:COMPLETED step__4:step:COMPLETED step__5:step:COMPLETED step__6:step:SCHEDULED"
	if wf.Status != engine.StatusRunning || taskList(wf) != want {
		t.Fatalf("answer: %s %s\nwant RUNNING %s", wf.Status, taskList(wf), want)
	}
	time.Sleep(100 * time.Millisecond)
	if now := viewRun(t, e, id); now.Status != engine.StatusRunning || taskList(now) != want {
		t.Fatalf("afterwards: %s %s\nwant RUNNING %s", now.Status, taskList(now), want)
	}
	if n := offered.Load(); n != 0 {
		t.Errorf("%d tasks offered to workers", n)
	}
}

// TestWorkflowTestPassLimitIsConductors: 20 000 passes (an IN_PROGRESS mock
// takes one each), then the answer: the task IN_PROGRESS with the last
// mock's output, its mocks beyond the limit unused.
func TestWorkflowTestPassLimitIsConductors(t *testing.T) {
	if testing.Short() {
		t.Skip("20 000 passes")
	}
	def := `{"name":"long","version":1,"schemaVersion":2,"tasks":[{"name":"slow","taskReferenceName":"slow","type":"SIMPLE"}]}`
	var req testRequest
	req.WorkflowDef = json.RawMessage(def)
	list := make([]engine.TaskMock, 20_010)
	for i := range list {
		list[i] = engine.TaskMock{Status: engine.TaskInProgress, Output: json.RawMessage(fmt.Sprintf(`{"pass":%d}`, i+1))}
	}
	req.Tasks = map[string][]engine.TaskMock{"slow": list}
	var offered atomic.Int32
	e := mockEngine(t, nil, &offered)
	tr, _ := startTest(t, e, req, 0)
	wf := answerOf(t, tr)
	if wf.Status != engine.StatusRunning || taskList(wf) != "slow:slow:IN_PROGRESS" || fmt.Sprint(wf.Tasks[0].Output["pass"]) != "20000" {
		t.Fatalf("answer: %s %s %v", wf.Status, taskList(wf), wf.Tasks[0].Output)
	}
}

// TestWorkflowTestPassesAndConcurrencyLimits: a task waiting for the pass
// holds no slot of its definition's concurrentExecLimit, so two unmocked
// HTTP tasks of one definition limited to one at a time both reach the
// pass that stops the test (both SCHEDULED in the answer), then run for
// real one after the other.
func TestWorkflowTestPassesAndConcurrencyLimits(t *testing.T) {
	url, hits := realServer(t)
	task := func(ref string) string {
		return `{"name":"limited","taskReferenceName":"` + ref + `","type":"HTTP","taskDefinition":{"name":"limited","concurrentExecLimit":1},
		  "inputParameters":{"http_request":{"uri":"` + url + `","method":"GET"}}}`
	}
	def := `{"name":"limits","version":1,"schemaVersion":2,"tasks":[
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[[` + task("h1") + `],[` + task("h2") + `]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["h1","h2"]}]}`
	e := harnessEngine(t, nil)
	tr, id := startTest(t, e, testRequest{WorkflowDef: json.RawMessage(def)}, 0)
	wf := answerOf(t, tr)
	if want := "fork:FORK:COMPLETED h1:HTTP:SCHEDULED h2:HTTP:SCHEDULED join:JOIN:IN_PROGRESS"; sortedTasks(wf) != want {
		t.Fatalf("answer: %s\nwant %s", sortedTasks(wf), want)
	}
	var now runView
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if now = viewRun(t, e, id); now.Status != engine.StatusRunning {
			break
		}
	}
	if now.Status != engine.StatusCompleted || hits.Load() != 2 {
		t.Fatalf("afterwards: %s %s after %d calls", now.Status, taskList(now), hits.Load())
	}
}

// TestWorkflowTestUnmockedEvent: Conductor's decider publishes an EVENT as
// it schedules it, so the test loop never finds one waiting: without a
// mock it is published and the test goes on to its end; with one it takes
// the mock and publishes nothing.
func TestWorkflowTestUnmockedEvent(t *testing.T) {
	def := json.RawMessage(`{"name":"events","version":1,"schemaVersion":2,"tasks":[
	  {"name":"a","taskReferenceName":"a","type":"SIMPLE"},
	  {"name":"e","taskReferenceName":"e","type":"EVENT","sink":"conductor:events:q"},
	  {"name":"b","taskReferenceName":"b","type":"SIMPLE"}]}`)
	cases := []struct {
		name, mocks string
		published   int
	}{
		{"unmocked", `{"a":[{}],"b":[{}]}`, 1},
		{"mocked", `{"a":[{}],"e":[{"output":{"mocked":true}}],"b":[{}]}`, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var sink lockedBuffer
			var offered atomic.Int32
			e := mockEngine(t, nil, &offered, engine.WithEventSink(engine.NewWriterSink(&sink)))
			wf := runTest(t, e, testRequest{WorkflowDef: def, Mocks: engine.Mocks{Tasks: mockList(t, tc.mocks)}})
			if wf.Status != engine.StatusCompleted || taskList(wf) != "a:a:COMPLETED e:EVENT:COMPLETED b:b:COMPLETED" {
				t.Fatalf("got %s %s (%s)", wf.Status, taskList(wf), wf.Reason)
			}
			if n := strings.Count(sink.String(), "\n"); n != tc.published {
				t.Fatalf("published %d messages, want %d: %s", n, tc.published, sink.String())
			}
		})
	}
}

// TestWorkflowTestUsedUpMocks: a task whose mocks are used up (its retry
// here) does not stop the test in the pass that finds it: Conductor's
// loop removes its entry there and gives the other tasks their mocks; the
// next pass, which finds it without an entry, stops the test.
func TestWorkflowTestUsedUpMocks(t *testing.T) {
	def := json.RawMessage(`{"name":"usedup","version":1,"schemaVersion":2,"tasks":[
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	    [{"name":"a","taskReferenceName":"a","type":"SIMPLE","taskDefinition":{"name":"a","retryCount":1,"retryDelaySeconds":0}}],
	    [{"name":"b1","taskReferenceName":"b1","type":"SIMPLE"},{"name":"b2","taskReferenceName":"b2","type":"SIMPLE"},{"name":"b3","taskReferenceName":"b3","type":"SIMPLE"}]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","b3"]}]}`)
	var offered atomic.Int32
	e := mockEngine(t, nil, &offered)
	tr, _ := startTest(t, e, testRequest{WorkflowDef: def,
		Mocks: engine.Mocks{Tasks: mockList(t, `{"a":[{"status":"FAILED"}],"b1":[{}],"b2":[{}],"b3":[{}]}`)}}, 0)
	wf := answerOf(t, tr)
	want := "a:a:FAILED a:a:SCHEDULED b1:b1:COMPLETED b2:b2:COMPLETED b3:b3:SCHEDULED fork:FORK:COMPLETED join:JOIN:IN_PROGRESS"
	if wf.Status != engine.StatusRunning || sortedTasks(wf) != want {
		t.Fatalf("answer: %s %s\nwant RUNNING %s", wf.Status, sortedTasks(wf), want)
	}
}

// TestWorkflowTestChildStopsItsOwnTest: a child run's task without a mock
// stops the child's test only, as Conductor's loop over a sub-workflow's
// mocks returns to the parent's: the parent's other branch goes on taking
// its mocks, and the test stops when nothing moves by a mock any more.
func TestWorkflowTestChildStopsItsOwnTest(t *testing.T) {
	def := json.RawMessage(`{"name":"parent","version":1,"schemaVersion":2,"tasks":[
	  {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	    [{"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"kid","version":1,"workflowDefinition":
	      {"name":"kid","version":1,"schemaVersion":2,"tasks":[
	        {"name":"c1","taskReferenceName":"c1","type":"SIMPLE"},{"name":"c2","taskReferenceName":"c2","type":"SIMPLE"}]}}}],
	    [{"name":"b1","taskReferenceName":"b1","type":"SIMPLE"},{"name":"b2","taskReferenceName":"b2","type":"SIMPLE"},{"name":"b3","taskReferenceName":"b3","type":"SIMPLE"}]]},
	  {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["sub","b3"]}]}`)
	var req testRequest
	req.WorkflowDef = def
	if err := json.Unmarshal([]byte(`{"taskRefToMockOutput":{"b1":[{}],"b2":[{}],"b3":[{}]},
	  "subWorkflowTestRequest":{"sub":{"taskRefToMockOutput":{"c1":[{}]}}}}`), &req.Mocks); err != nil {
		t.Fatal(err)
	}
	var offered atomic.Int32
	e := mockEngine(t, nil, &offered)
	tr, _ := startTest(t, e, req, 0)
	wf := answerOf(t, tr)
	want := "b1:b1:COMPLETED b2:b2:COMPLETED b3:b3:COMPLETED fork:FORK:COMPLETED join:JOIN:IN_PROGRESS sub:SUB_WORKFLOW:IN_PROGRESS"
	if wf.Status != engine.StatusRunning || sortedTasks(wf) != want {
		t.Fatalf("answer: %s %s\nwant RUNNING %s", wf.Status, sortedTasks(wf), want)
	}
	child := viewRun(t, e, wf.Tasks[slicesIndexRef(wf, "sub")].SubWorkflowID)
	if got := taskList(child); got != "c1:c1:COMPLETED c2:c2:SCHEDULED" {
		t.Fatalf("child: %s", got)
	}
	select {
	case <-tr.Waiting():
	case <-time.After(5 * time.Second):
		t.Fatal("Waiting not closed once the test stopped")
	}
	if n := offered.Load(); n != 0 {
		t.Errorf("%d tasks offered to workers", n)
	}
}

func slicesIndexRef(wf runView, ref string) int {
	for i, tk := range wf.Tasks {
		if tk.Ref == ref {
			return i
		}
	}
	return -1
}

// TestWorkflowTestPassLimitCountsJoinReads: Conductor's loop counts every
// read of the run, a read that gives no mock too. Its JOIN is evaluated
// asynchronously, between reads (conductor-oss Join.isAsync), so once a
// fork's branches have taken their last mocks, a read finds the JOIN
// unfinished before the tasks after it are scheduled: that read counts
// towards MAX_LOOPS as a pass here does. With a limit of 5: the first
// iteration's mocks (1), its JOIN (2), the second's (3) and JOIN (4), the
// third's mocks (5); the read after finds the third JOIN unfinished and
// answers there.
func TestWorkflowTestPassLimitCountsJoinReads(t *testing.T) {
	def := `{"name":"forkloop","version":1,"schemaVersion":2,"tasks":[
	  {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"true","loopOver":[
	    {"name":"fork","taskReferenceName":"fork","type":"FORK_JOIN","forkTasks":[
	      [{"name":"a","taskReferenceName":"a","type":"SIMPLE"}],[{"name":"b","taskReferenceName":"b","type":"SIMPLE"}]]},
	    {"name":"join","taskReferenceName":"join","type":"JOIN","joinOn":["a","b"]}]}]}`
	var req testRequest
	req.WorkflowDef = json.RawMessage(def)
	req.Tasks = map[string][]engine.TaskMock{}
	for i := 1; i <= 20; i++ {
		req.Tasks[fmt.Sprintf("a__%d", i)] = []engine.TaskMock{{}}
		req.Tasks[fmt.Sprintf("b__%d", i)] = []engine.TaskMock{{}}
	}
	var offered atomic.Int32
	e := mockEngine(t, nil, &offered)
	tr, _ := startTest(t, e, req, 5)
	wf := answerOf(t, tr)
	want := "a__1:a:COMPLETED a__2:a:COMPLETED a__3:a:COMPLETED b__1:b:COMPLETED b__2:b:COMPLETED b__3:b:COMPLETED " +
		"fork__1:FORK:COMPLETED fork__2:FORK:COMPLETED fork__3:FORK:COMPLETED " +
		"join__1:JOIN:COMPLETED join__2:JOIN:COMPLETED join__3:JOIN:IN_PROGRESS loop:DO_WHILE:IN_PROGRESS"
	if wf.Status != engine.StatusRunning || sortedTasks(wf) != want {
		t.Fatalf("answer: %s %s\nwant RUNNING %s", wf.Status, sortedTasks(wf), want)
	}
	if n := offered.Load(); n != 0 {
		t.Errorf("%d tasks offered to workers", n)
	}
}

// TestWorkflowTestPassLimitCountsTheRunsReads: MAX_LOOPS bounds the reads
// of the test's run by its loop; a child run's mocks are given by a loop
// of the child's own, inside one read of its parent (its count starts
// again at every read of the parent, which reads again as long as it has
// mocks), so a child's passes do not count towards the limit. With a limit
// of 5, a child taking 8 mocks one after the other completes, and so does
// the parent, whose own task takes the next pass.
func TestWorkflowTestPassLimitCountsTheRunsReads(t *testing.T) {
	def := `{"name":"parentloop","version":1,"schemaVersion":2,"tasks":[
	  {"name":"sub","taskReferenceName":"sub","type":"SUB_WORKFLOW","subWorkflowParam":{"name":"kidloop","version":1,"workflowDefinition":
	    {"name":"kidloop","version":1,"schemaVersion":2,"tasks":[
	      {"name":"loop","taskReferenceName":"loop","type":"DO_WHILE","loopCondition":"$.loop['iteration'] < 8","loopOver":[
	        {"name":"step","taskReferenceName":"step","type":"SIMPLE"}]}]}}},
	  {"name":"after","taskReferenceName":"after","type":"SIMPLE"}]}`
	var req testRequest
	req.WorkflowDef = json.RawMessage(def)
	kid := &engine.Mocks{Tasks: map[string][]engine.TaskMock{}}
	for i := 1; i <= 8; i++ {
		kid.Tasks[fmt.Sprintf("step__%d", i)] = []engine.TaskMock{{}}
	}
	req.Tasks = map[string][]engine.TaskMock{"after": {{}}}
	req.SubWorkflows = map[string]*engine.Mocks{"sub": kid}
	var offered atomic.Int32
	e := mockEngine(t, nil, &offered)
	tr, id := startTest(t, e, req, 5)
	if tr.Answer() != nil {
		t.Fatalf("the test stopped in a pass: %s", tr.Answer())
	}
	wf := viewRun(t, e, id)
	for deadline := time.Now().Add(5 * time.Second); wf.Status == engine.StatusRunning && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		wf = viewRun(t, e, id)
	}
	if wf.Status != engine.StatusCompleted || taskList(wf) != "sub:SUB_WORKFLOW:COMPLETED after:after:COMPLETED" {
		t.Fatalf("run: %s %s", wf.Status, taskList(wf))
	}
	if n := offered.Load(); n != 0 {
		t.Errorf("%d tasks offered to workers", n)
	}
}
