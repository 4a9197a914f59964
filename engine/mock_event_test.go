package engine_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// TestWorkflowTestUnmockedAsyncEvent: Conductor's decider publishes an
// EVENT as it schedules it, asyncComplete or not; an asyncComplete one
// then stays IN_PROGRESS, and the test loop, finding it unfinished
// without a mock, stops there. So the test's answer shows the EVENT
// published (IN_PROGRESS, its event_produced recorded, the message on the
// sink), not waiting to be published; the message goes out once, and the
// task then waits for its completion from outside.
func TestWorkflowTestUnmockedAsyncEvent(t *testing.T) {
	def := json.RawMessage(`{"name":"asyncevents","version":1,"schemaVersion":2,"tasks":[
	  {"name":"a","taskReferenceName":"a","type":"SIMPLE"},
	  {"name":"e","taskReferenceName":"e","type":"EVENT","sink":"conductor:events:q","asyncComplete":true},
	  {"name":"b","taskReferenceName":"b","type":"SIMPLE"}]}`)
	var sink lockedBuffer
	var offered atomic.Int32
	e := mockEngine(t, nil, &offered, engine.WithEventSink(engine.NewWriterSink(&sink)))
	tr, id := startTest(t, e, testRequest{WorkflowDef: def, Mocks: engine.Mocks{Tasks: mockList(t, `{"a":[{}],"b":[{}]}`)}}, 0)
	published := strings.Count(sink.String(), "\n") // when the test answered
	wf := answerOf(t, tr)
	if wf.Status != engine.StatusRunning || taskList(wf) != "a:a:COMPLETED e:EVENT:IN_PROGRESS" {
		t.Fatalf("answer: %s %s, want RUNNING with the EVENT published and IN_PROGRESS", wf.Status, taskList(wf))
	}
	if got := wf.Tasks[1].Output["event_produced"]; got != "conductor:asyncevents:events:q" || published != 1 {
		t.Fatalf("answer: event_produced %v, %d messages published; want it published once before the answer", got, published)
	}
	if _, err := e.CompleteTask(context.Background(), id, "e", engine.TaskCompleted, json.RawMessage(`{"acked":true}`)); err != nil {
		t.Fatal(err)
	}
	// The test has answered: b gets no mock, it waits for good.
	want := "a:a:COMPLETED e:EVENT:COMPLETED b:b:SCHEDULED"
	var now runView
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if now = viewRun(t, e, id); taskList(now) == want {
			break
		}
	}
	if taskList(now) != want || now.Tasks[1].Output["acked"] != true {
		t.Fatalf("after the completion: %s %v, want %s", taskList(now), now.Tasks[1].Output, want)
	}
	if n := strings.Count(sink.String(), "\n"); n != 1 {
		t.Fatalf("%d messages published, want 1: %s", n, sink.String())
	}
	if n := offered.Load(); n != 0 {
		t.Errorf("%d tasks offered to workers", n)
	}
}
