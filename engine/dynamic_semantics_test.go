package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/internal/redistest"
)

// kitchensinkEngine runs Conductor's kitchensink workflow (EVENT, DYNAMIC,
// DECISION, FORK_JOIN_DYNAMIC, HTTP): its SIMPLE tasks answer from Go, its
// Elasticsearch call goes to a local server.
func kitchensink(t *testing.T, sink engine.EventSink) (*engine.Engine, *engine.Definition) {
	t.Helper()
	es := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"hits":{"hits":[{"status":"COMPLETED","workflowId":"w1"}]}}`))
	}))
	t.Cleanup(es.Close)
	defs := harnessTaskDefs(t)
	zero := 0
	if err := defs.Put(&engine.TaskDef{Name: "task_2", RetryCount: &zero, TimeoutSeconds: 60}); err != nil {
		t.Fatal(err)
	}
	e := harnessEngine(t, nil, engine.WithTaskDefs(defs), engine.WithEventSink(sink),
		engine.WithWorker("task_1", echoWorker(`{"mod":"5","oddEven":"0"}`)),
		engine.WithWorker("task_2", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			return json.RawMessage(`{"mod":"5","oddEven":"0","sawName":` + string(in) + `}`), nil
		}),
		engine.WithWorker("task_4", echoWorker(`{"dynamicTasks":[{"name":"task_10","taskReferenceName":"t10"},{"name":"task_11","taskReferenceName":"t11"}],"inputs":{"t10":{"k":"a"},"t11":{"k":"b"}}}`)),
		engine.WithWorker("task_10", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil }),
		engine.WithWorker("task_11", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) { return in, nil }),
		engine.WithWorker("task_30", echoWorker(`{"done":true}`)))
	b, err := os.ReadFile(conductorDir + "/kitchensink.json")
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse(bytes.ReplaceAll(b, []byte("http://localhost:9200"), []byte(es.URL)))
	if err != nil {
		t.Fatal(err)
	}
	return e, d
}

// DYNAMIC runs the task its input names (a worker task, whose definition is
// required); EVENT publishes its output to the sink under Conductor's queue
// name; the run goes on through DECISION case "0" and FORK_JOIN_DYNAMIC.
func TestConductorKitchensinkDynamicAndEvent(t *testing.T) {
	var buf bytes.Buffer
	e, d := kitchensink(t, engine.NewWriterSink(&buf))
	res := startRun(t, e, d, `{"mod":"5","oddEven":"0","task2Name":"task_2"}`, engine.WithCorrelationID("ks-1"))
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "task_1:COMPLETED", "EVENT:COMPLETED", "task_2:COMPLETED", "DECISION:COMPLETED", "task_4:COMPLETED",
		"FORK:COMPLETED", "task_10:COMPLETED", "task_11:COMPLETED", "JOIN:COMPLETED", "HTTP:COMPLETED", "task_30:COMPLETED")
	if wf.Tasks[2].Ref != "task_2" || wf.Tasks[2].Input["taskToExecute"] != "task_2" {
		t.Fatalf("dynamic task %+v", wf.Tasks[2])
	}
	ev := wf.Tasks[1]
	if ev.Output["event_produced"] != "conductor:kitchensink:event_0" || ev.Output["workflowInstanceId"] != res.RunID || ev.Output["correlationId"] != "ks-1" {
		t.Fatalf("event output %v", ev.Output)
	}
	var msg struct {
		Queue   string         `json:"queue"`
		ID      string         `json:"id"`
		Payload map[string]any `json:"payload"`
	}
	if err := json.Unmarshal(buf.Bytes(), &msg); err != nil {
		t.Fatalf("sink got %q: %v", buf.String(), err)
	}
	if msg.Queue != "conductor:kitchensink:event_0" || msg.ID != ev.TaskID || msg.Payload["mod"] != "5" || msg.Payload["workflowType"] != "kitchensink" {
		t.Fatalf("message %+v", msg)
	}
	if j := wf.Tasks[8]; j.Output["t10"].(map[string]any)["k"] != "a" || j.Output["t11"].(map[string]any)["k"] != "b" {
		t.Fatalf("join output %v", j.Output)
	}
}

// A DYNAMIC task naming a task without a definition is mapped all the
// same: its WorkflowTask (dyntask) has the definition Conductor's start
// gave it (new TaskDef("dyntask"): no retries), which DynamicTaskMapper
// keeps, so the task no_such_task is scheduled for a worker. This engine
// has none for it: the task fails, terminally, and the run with it.
func TestConductorDynamicWithoutTaskDef(t *testing.T) {
	e, d := kitchensink(t, engine.NewWriterSink(&bytes.Buffer{}))
	res := startRun(t, e, d, `{"mod":"5","oddEven":"0","task2Name":"no_such_task"}`)
	wf := viewRun(t, e, res.RunID)
	if res.Status != engine.StatusFailed || strings.Contains(res.Reason, "Cannot find task by name") {
		t.Fatalf("%s %q", res.Status, res.Reason)
	}
	checkTasks(t, wf.Tasks, "task_1:COMPLETED", "EVENT:COMPLETED", "no_such_task:FAILED_WITH_TERMINAL_ERROR")
	if dyn := wf.Tasks[2]; dyn.Ref != "task_2" || dyn.Input["taskToExecute"] != "no_such_task" || !strings.Contains(dyn.Reason, "no worker") {
		t.Fatalf("dynamic task %+v", dyn)
	}
}

// The EVENT payload goes to a Redis stream named by the queue; a `_secrets`
// member of the input is masked in it.
func TestEventRedisStreamSink(t *testing.T) {
	srv := redistest.StartServer(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer client.Close()
	e, err := engine.New(engine.WithEventSink(engine.NewRedisStreamSink(client, "")))
	if err != nil {
		t.Fatal(err)
	}
	d, err := e.Parse([]byte(`{"name":"ev","tasks":[{"name":"e","taskReferenceName":"e","type":"EVENT","sink":"conductor:orders",
	  "inputParameters":{"order":"${workflow.input.order}","_secrets":{"k":"${workflow.input.key}"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	res, err := e.Start(context.Background(), d, json.RawMessage(`{"order":42,"_secrets":{"x":"y"},"key":"sk-live-9f8e7d6c"}`))
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("%v %+v", err, res)
	}
	msgs, err := client.XRange(context.Background(), "conductor:ev:orders", "-", "+").Result()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("stream: %v %v", msgs, err)
	}
	payload, _ := msgs[0].Values["payload"].(string)
	if strings.Contains(payload, "sk-live") || !strings.Contains(payload, `"order":42`) || !strings.Contains(payload, `"_secrets":"***"`) {
		t.Fatalf("payload %s", payload)
	}
}

// DoWhileSpec "Test workflow with Do While task contains decision task":
// GraalJS-style $.list.get(i) on the input list (and $.list.length in the
// loopCondition); each iteration's WAIT is completed from outside.
func TestConductorDoWhileJavaListGet(t *testing.T) {
	var e *engine.Engine
	e = harnessEngine(t, nil, engine.WithEvents(func(ev engine.Event) {
		if ev.Kind == engine.EventWaiting {
			go func() { _, _ = e.CompleteTask(context.Background(), ev.RunID, ev.TaskRef, engine.TaskCompleted, nil) }()
		}
	}))
	d := harnessDef(t, e, "do_while_with_decision_task.json")
	res := startRun(t, e, d, `{"list":[1,2]}`, engine.WithCorrelationID("looptest"))
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "DO_WHILE:COMPLETED", "INLINE:COMPLETED", "SWITCH:COMPLETED", "WAIT:COMPLETED", "INLINE:COMPLETED",
		"INLINE:COMPLETED", "SWITCH:COMPLETED", "WAIT:COMPLETED", "INLINE:COMPLETED")
	if wf.Tasks[0].Iteration != 2 || wf.Tasks[1].Output["result"] != 1.0 || wf.Tasks[5].Output["result"] != 2.0 {
		t.Fatalf("loop iteration %d, elements %v %v", wf.Tasks[0].Iteration, wf.Tasks[1].Output, wf.Tasks[5].Output)
	}
}

// StartWorkflowSpec "start another workflow using workflowName" and
// "start_workflow does not conform to StartWorkflowRequest".
func TestConductorStartWorkflow(t *testing.T) {
	release := make(chan struct{})
	t.Cleanup(func() { close(release) })
	polled := make(chan struct{}, 1)
	e := harnessEngine(t, nil, engine.WithWorker("integration_task_1", func(ctx context.Context, _ json.RawMessage) (json.RawMessage, error) {
		polled <- struct{}{}
		<-release // the started run stays RUNNING while the test looks
		return json.RawMessage(`{}`), nil
	}))
	d := harnessDef(t, e, "workflow_that_starts_another_workflow.json")
	res := startRun(t, e, d, `{"startWorkflow":{"name":"integration_test_wf","input":{"param1":"p1","param2":"p2"}}}`, engine.WithCorrelationID("starter-1"))
	wf := viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusCompleted {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "START_WORKFLOW:COMPLETED")
	id, _ := wf.Tasks[0].Output["workflowId"].(string)
	<-polled
	started := viewRun(t, e, id)
	if started.Status != engine.StatusRunning || started.CorrelationID != "starter-1" || started.Input["param1"] != "p1" {
		t.Fatalf("started run %s %q %v", started.Status, started.CorrelationID, started.Input)
	}

	res = startRun(t, e, d, `{"start_workflow":{"param1":"value1","param2":"value2"}}`)
	wf = viewRun(t, e, res.RunID)
	if wf.Status != engine.StatusFailed || len(wf.Tasks) != 1 || wf.Tasks[0].Status != "FAILED" || wf.Tasks[0].Reason == "" {
		t.Fatalf("%s %+v", wf.Status, wf.Tasks)
	}
}

// WorkflowAndTaskConfigurationSpec "Test pause and resume simple workflow":
// paused while integration_task_1 runs, the task still completes but
// integration_task_2 is not scheduled until the run is resumed.
func TestConductorPauseResume(t *testing.T) {
	started, finish := make(chan struct{}), make(chan struct{})
	var t2 atomic.Int64
	e := harnessEngine(t, nil,
		engine.WithWorker("integration_task_1", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			close(started)
			<-finish
			return json.RawMessage(`{"op":"task1.done"}`), nil
		}),
		engine.WithWorker("integration_task_2", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			t2.Add(1)
			return json.RawMessage(`{"uuid":"u-2","in":` + string(in) + `}`), nil
		}))
	d := harnessDef(t, e, "simple_workflow_1_integration_test.json")
	done := make(chan *engine.Result, 1)
	go func() {
		res, err := e.Start(context.Background(), d, json.RawMessage(`{"param1":"p1 value","param2":"p2 value"}`),
			engine.WithRunID("pause-1"), engine.WithCorrelationID("unit_test_1"))
		if err != nil {
			t.Error(err)
		}
		done <- res
	}()
	<-started
	ctx := context.Background()
	if err := e.Pause(ctx, "pause-1"); err != nil {
		t.Fatal(err)
	}
	close(finish)
	// The running task completes; nothing new is scheduled while paused.
	deadline := time.Now().Add(5 * time.Second)
	for {
		wf := viewRun(t, e, "pause-1")
		if len(wf.Tasks) == 1 && wf.Tasks[0].Status == "COMPLETED" {
			if wf.Status != engine.StatusPaused {
				t.Fatalf("status %s", wf.Status)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("task 1 did not complete while paused: %+v", wf.Tasks)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	if wf := viewRun(t, e, "pause-1"); len(wf.Tasks) != 1 || t2.Load() != 0 {
		t.Fatalf("scheduled while paused: %+v", wf.Tasks)
	}
	if err := e.ResumePaused(ctx, "pause-1"); err != nil {
		t.Fatal(err)
	}
	res := <-done
	if res == nil {
		t.FailNow()
	}
	wf := viewRun(t, e, "pause-1")
	if wf.Status != engine.StatusCompleted || t2.Load() != 1 {
		t.Fatalf("%s %q", wf.Status, wf.Reason)
	}
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "integration_task_2:COMPLETED")
	if in := wf.Tasks[1].Input; in["tp1"] != "p1 value" || in["tp2"] != "task1.done" {
		t.Fatalf("task 2 input %v", in)
	}
	if _, ok := wf.Output["o3"]; !ok {
		t.Fatalf("output %v", wf.Output)
	}
	if err := e.ResumePaused(ctx, "pause-1"); !errors.Is(err, engine.ErrNotRunning) {
		t.Fatalf("resume of an ended run: %v", err)
	}
}

// WorkflowAndTaskConfigurationSpec "Test re-running the simple workflow
// multiple times after completion": rerun from integration_task_2 keeps
// integration_task_1's record and runs task 2 again; a rerun without a task
// runs everything again. Both under the same run id.
func TestConductorRerunFromTask(t *testing.T) {
	var t1, t2 atomic.Int64
	e := harnessEngine(t, nil,
		engine.WithWorker("integration_task_1", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			t1.Add(1)
			return json.RawMessage(`{"op":"task1.done"}`), nil
		}),
		engine.WithWorker("integration_task_2", func(_ context.Context, in json.RawMessage) (json.RawMessage, error) {
			t2.Add(1)
			return json.RawMessage(`{"uuid":"u","in":` + string(in) + `}`), nil
		}))
	d := harnessDef(t, e, "simple_workflow_1_integration_test.json")
	res := startRun(t, e, d, `{"param1":"p1 value","param2":"p2 value"}`, engine.WithCorrelationID("unit_test_1"))
	wf := viewRun(t, e, res.RunID)
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "integration_task_2:COMPLETED")
	first1 := wf.Tasks[0].TaskID
	ctx := context.Background()
	res, err := e.Rerun(ctx, res.RunID, wf.Tasks[1].TaskID)
	if err != nil || res.Status != engine.StatusCompleted {
		t.Fatalf("rerun: %v %+v", err, res)
	}
	wf = viewRun(t, e, res.RunID)
	checkTasks(t, wf.Tasks, "integration_task_1:COMPLETED", "integration_task_2:COMPLETED")
	if wf.Tasks[0].TaskID != first1 || t1.Load() != 1 || t2.Load() != 2 {
		t.Fatalf("rerun from task 2 re-ran task 1 (%d/%d runs)", t1.Load(), t2.Load())
	}
	if in := wf.Tasks[1].Input; in["tp1"] != "p1 value" || in["tp2"] != "task1.done" {
		t.Fatalf("task 2 input %v", in)
	}
	if _, ok := wf.Output["o3"]; !ok {
		t.Fatalf("output %v", wf.Output)
	}
	if res, err = e.Rerun(ctx, res.RunID, ""); err != nil || res.Status != engine.StatusCompleted || t1.Load() != 2 || t2.Load() != 3 {
		t.Fatalf("rerun from the start: %v %+v %d/%d", err, res, t1.Load(), t2.Load())
	}
	if _, err := e.Rerun(ctx, res.RunID, "no-such-task"); !errors.Is(err, engine.ErrTaskNotFound) {
		t.Fatalf("unknown task: %v", err)
	}
}
