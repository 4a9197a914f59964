package engine_test

import (
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// An EVENT task given "sink": "" (registration takes it: it checks only
// that a sink is given). Conductor records the sink as given, not null:
// EventTaskMapper puts workflowTask.getSink() into the input and
// ParametersUtils.getTaskInputV2 leaves a string with no expression as it
// is, so inputData.sink is ""; Event.start copies the input into the output
// and computeQueueName, for a sink not starting with "conductor", takes it
// as the queue name: outputData.event_produced "". Publishing fails at
// EventQueues.getQueue (no ':' in the name), and Event.getQueue's words
// are the task's reason.
func TestEventEmptySinkRecordedAsGiven(t *testing.T) {
	var f eventFixture
	f.clock = engine.NewManualClock(time.Now())
	f.h = newHarness(t, nil, engine.WithClock(f.clock), engine.WithEventSink(engine.NewWriterSink(&f.file)))
	d := eventDef(t, f.h.e, "", "")
	wf := viewRun(t, f.h.e, startRun(t, f.h.e, d, `{"order":42}`, engine.WithCorrelationID("corrId")).RunID)
	wf = waitStatus(t, f.h.e, wf.WorkflowID, engine.StatusFailed)
	checkTasks(t, wf.Tasks, "EVENT:FAILED")
	tk := wf.Tasks[0]
	if want := "Error loading queue:, for task:" + tk.TaskID + ", error: Illegal event "; tk.Reason != want {
		t.Errorf("reason %q, want %q", tk.Reason, want)
	}
	for name, m := range map[string]map[string]any{"inputData": tk.Input, "outputData": tk.Output} {
		if s, ok := m["sink"].(string); !ok || s != "" {
			t.Errorf("%s.sink = %#v, want \"\"", name, m["sink"])
		}
	}
	if q, ok := tk.Output["event_produced"].(string); !ok || q != "" {
		t.Errorf("event_produced = %#v, want \"\"", tk.Output["event_produced"])
	}
	if f.file.String() != "" {
		t.Errorf("published %q", f.file.String())
	}
}
