package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/internal/redistest"
	"github.com/wfrun/wfrun/tasks"
)

// The cases of Conductor's core unit spec EventSpec
// (core/src/test/groovy/com/netflix/conductor/core/execution/tasks/EventSpec.groovy),
// each run through wfrun's engine: the spec's mocked queues are a JSON-lines
// sink and a real redis-server's streams here, its workflow "testWorkflow"
// version 2 with correlationId "corrId", its task "task0".

// eventMessage is one line of a WriterSink.
type eventMessage struct {
	Queue   string         `json:"queue"`
	ID      string         `json:"id"`
	Payload map[string]any `json:"payload"`
	Ack     bool           `json:"ack"`
}

func sinkMessages(t *testing.T, out string) []eventMessage {
	t.Helper()
	var ms []eventMessage
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var m eventMessage
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("sink line %q: %v", line, err)
		}
		ms = append(ms, m)
	}
	return ms
}

// eventDef is EventSpec's workflow with one EVENT task "task0" (extra
// members of the task, JSON, after the sink).
func eventDef(t *testing.T, e *engine.Engine, sink, extra string) *engine.Definition {
	t.Helper()
	d, err := e.Parse([]byte(`{"name":"testWorkflow","version":2,"tasks":[{"name":"publish","taskReferenceName":"task0","type":"EVENT",
	  "sink":` + fmt.Sprintf("%q", sink) + extra + `,
	  "inputParameters":{"order":"${workflow.input.order}","big":12345678901234567890,"auth":"${workflow.secrets.api_token}","_secrets":{"k":"${workflow.secrets.api_token}"}}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// verifyEventOutput is EventSpec's verifyOutputData, plus what wfrun's
// output holds beyond it as Conductor's does (the input, sink,
// asyncComplete, taskToDomain).
func verifyEventOutput(t *testing.T, wf runView, queue, sink string, async bool) {
	t.Helper()
	out := wf.Tasks[0].Output
	want := map[string]any{"event_produced": queue, "workflowInstanceId": wf.WorkflowID, "workflowVersion": 2.0,
		"workflowType": "testWorkflow", "correlationId": "corrId", "sink": sink, "asyncComplete": async,
		"taskToDomain": map[string]any{}, "order": 42.0}
	if queue == "" {
		delete(want, "event_produced")
		if _, ok := out["event_produced"]; ok {
			t.Errorf("output has event_produced: %v", out)
		}
	}
	for k, v := range want {
		if !reflect.DeepEqual(out[k], v) {
			t.Errorf("output %s = %#v, want %#v (output %v)", k, out[k], v, out)
		}
	}
	// EventTaskMapper: the task's input holds its sink and asyncComplete.
	in := wf.Tasks[0].Input
	if in["sink"] != sink || in["asyncComplete"] != async || in["order"] != 42.0 {
		t.Errorf("input %v", in)
	}
}

// verifyEventMessage is EventSpec's verifyMessage: one message, its id the
// task id, its payload the task's output (masked: the secret's value never
// reaches the sink; the input's numbers keep their digits).
func verifyEventMessage(t *testing.T, wf runView, queue string, ms []eventMessage, raw string) {
	t.Helper()
	if len(ms) != 1 || ms[0].Queue != queue || ms[0].ID != wf.Tasks[0].TaskID || ms[0].Ack {
		t.Fatalf("messages %+v, want one to %s with id %s", ms, queue, wf.Tasks[0].TaskID)
	}
	if !reflect.DeepEqual(ms[0].Payload, wf.Tasks[0].Output) {
		t.Errorf("payload %v, task output %v", ms[0].Payload, wf.Tasks[0].Output)
	}
	if strings.Contains(raw, token) || !strings.Contains(raw, `"_secrets":"***"`) || !strings.Contains(raw, "12345678901234567890") {
		t.Errorf("sink got %s", raw)
	}
}

type eventFixture struct {
	h     *harness
	file  lockedBuffer
	redis *redis.Client
	srv   *redistest.Server
	clock *engine.ManualClock
}

// streamMessages reads a Redis stream as sink messages.
func (f *eventFixture) streamMessages(t *testing.T, stream string) ([]eventMessage, string) {
	t.Helper()
	xs, err := f.redis.XRange(context.Background(), stream, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	var ms []eventMessage
	var raw strings.Builder
	for _, x := range xs {
		m := eventMessage{Queue: stream}
		m.ID, _ = x.Values["id"].(string)
		p, _ := x.Values["payload"].(string)
		raw.WriteString(p)
		if err := json.Unmarshal([]byte(p), &m.Payload); err != nil {
			t.Fatalf("stream payload %q: %v", p, err)
		}
		ms = append(ms, m)
	}
	return ms, raw.String()
}

func TestConductorEventSpec(t *testing.T) {
	const input = `{"order":42}`
	conductorQueue := "conductor:testWorkflow:task0"
	cases := []struct {
		name string // EventSpec's case
		sink string
		// options: the sinks; "file" is the WriterSink for conductor
		// queues, "redis" the RedisStreamSink.
		sinks     string
		extraTask string
		taskDefs  []*engine.TaskDef
		// before prepares the fixture; run replaces the default start.
		before func(t *testing.T, f *eventFixture)
		run    func(t *testing.T, f *eventFixture, d *engine.Definition) runView
		// want: the task statuses, the run's, the queue published to
		// ("" none), a reason fragment (%TASK% is the task id).
		tasks, status, queue, reason string
		after                        func(t *testing.T, f *eventFixture, wf runView)
	}{
		{
			name: "verify that event task is NOT async", sink: "conductor", sinks: "file",
			// A remote worker stands for Conductor's system-task queue: an
			// async system task would be handed to it; EVENT never is.
			run: func(t *testing.T, f *eventFixture, d *engine.Definition) runView {
				return viewRun(t, f.h.e, startRun(t, f.h.e, d, input, engine.WithCorrelationID("corrId")).RunID)
			},
			tasks: "EVENT:COMPLETED", status: engine.StatusCompleted, queue: conductorQueue,
			after: func(t *testing.T, f *eventFixture, wf runView) {
				f.h.mu.Lock()
				defer f.h.mu.Unlock()
				for _, ev := range f.h.events {
					if ev.Kind == engine.EventWaiting {
						t.Errorf("EVENT waited: %+v", ev)
					}
				}
			},
		},
		{
			name: "event cancel calls ack on the queue", sink: "conductor", sinks: "redis", extraTask: `,"asyncComplete":true`,
			run: func(t *testing.T, f *eventFixture, d *engine.Definition) runView {
				id := startEventRun(t, f.h.e, d, input)
				waitPublished(t, f.h.e, id)
				if ms, _ := f.streamMessages(t, conductorQueue); len(ms) != 1 {
					t.Fatalf("before the cancel, stream holds %v", ms)
				}
				if err := f.h.e.Terminate(context.Background(), id, "stop"); err != nil {
					t.Fatal(err)
				}
				return waitTasks(t, f.h.e, id, "EVENT:CANCELED")
			},
			tasks: "EVENT:CANCELED", status: engine.StatusTerminated,
			after: func(t *testing.T, f *eventFixture, wf runView) {
				// The message is withdrawn from the queue; the status is
				// the termination's, the ack reports nothing.
				if ms, _ := f.streamMessages(t, conductorQueue); len(ms) != 0 {
					t.Errorf("after the cancel, stream holds %v", ms)
				}
				verifyEventOutput(t, wf, conductorQueue, "conductor", true)
				f.h.mu.Lock()
				defer f.h.mu.Unlock()
				for _, ev := range f.h.events {
					if ev.TaskType == engine.TypeEvent && ev.Status == engine.TaskCanceled && ev.Reason != "" {
						t.Errorf("cancel: %q", ev.Reason)
					}
				}
			},
		},
		{
			// Conductor logs a cancel that fails and ends the workflow all
			// the same; wfrun says why in the task's CANCELED event.
			name: "event cancel calls ack on the queue, the queue unreachable", sink: "conductor", sinks: "redis", extraTask: `,"asyncComplete":true`,
			run: func(t *testing.T, f *eventFixture, d *engine.Definition) runView {
				id := startEventRun(t, f.h.e, d, input)
				waitPublished(t, f.h.e, id)
				f.srv.Stop()
				if err := f.h.e.Terminate(context.Background(), id, "stop"); err != nil {
					t.Fatal(err)
				}
				return waitTasks(t, f.h.e, id, "EVENT:CANCELED")
			},
			tasks: "EVENT:CANCELED", status: engine.StatusTerminated,
			after: func(t *testing.T, f *eventFixture, wf runView) {
				f.h.mu.Lock()
				defer f.h.mu.Unlock()
				for _, ev := range f.h.events {
					if ev.TaskType == engine.TypeEvent && ev.Status == engine.TaskCanceled {
						if !strings.HasPrefix(ev.Reason, "ack on queue "+conductorQueue+": ") {
							t.Errorf("cancel: %q", ev.Reason)
						}
						return
					}
				}
				t.Error("no CANCELED event")
			},
		},
		{
			name: "event task with 'conductor' as sink", sink: "conductor", sinks: "file",
			tasks: "EVENT:COMPLETED", status: engine.StatusCompleted, queue: conductorQueue,
		},
		{
			name: "event task with 'conductor' as sink (Redis stream)", sink: "conductor", sinks: "redis",
			tasks: "EVENT:COMPLETED", status: engine.StatusCompleted, queue: conductorQueue,
		},
		{
			name: "event task with 'conductor:<eventname>' as sink", sink: "conductor:testEvent", sinks: "file",
			tasks: "EVENT:COMPLETED", status: engine.StatusCompleted, queue: "conductor:testWorkflow:testEvent",
		},
		{
			name: "event task with 'sqs' as sink", sink: "sqs:testEvent", sinks: "file,sqs",
			tasks: "EVENT:COMPLETED", status: engine.StatusCompleted, queue: "sqs:testEvent",
		},
		{
			// wfrun has no SQS client: a queue type nobody configured
			// fails as Conductor's EventQueues does without its provider.
			name: "event task with 'sqs' as sink, no sqs provider", sink: "sqs:testEvent", sinks: "file",
			tasks: "EVENT:FAILED", status: engine.StatusFailed,
			reason: "Error loading queue:sqs:testEvent, for task:%TASK%, error: Unknown queue type sqs",
		},
		{
			name: "event task with 'conductor' as sink and async complete", sink: "conductor", sinks: "file", extraTask: `,"asyncComplete":true`,
			run: func(t *testing.T, f *eventFixture, d *engine.Definition) runView {
				id := startEventRun(t, f.h.e, d, input)
				wf := waitPublished(t, f.h.e, id)
				if wf.Status != engine.StatusRunning {
					t.Fatalf("run %s", wf.Status)
				}
				verifyEventOutput(t, wf, conductorQueue, "conductor", true)
				verifyEventMessage(t, wf, conductorQueue, sinkMessages(t, f.file.String()), f.file.String())
				if _, err := f.h.e.CompleteTask(context.Background(), id, "task0", engine.TaskCompleted, json.RawMessage(`{"answer":1}`)); err != nil {
					t.Fatal(err)
				}
				return waitTasks(t, f.h.e, id, "EVENT:COMPLETED")
			},
			tasks: "EVENT:COMPLETED", status: engine.StatusCompleted,
			after: func(t *testing.T, f *eventFixture, wf runView) {
				verifyEventOutput(t, wf, conductorQueue, "conductor", true)
				if wf.Tasks[0].Output["answer"] != 1.0 {
					t.Errorf("completion output lost: %v", wf.Tasks[0].Output)
				}
			},
		},
		{
			name: "event task with incorrect 'conductor' sink value", sink: "conductorinvalidsink", sinks: "file",
			tasks: "EVENT:FAILED", status: engine.StatusFailed,
			reason: "Invalid / Unsupported sink specified: conductorinvalidsink",
		},
		{
			name: "event task with sink value that does not resolve to a queue", sink: "rabbitmq:abc_123", sinks: "file",
			tasks: "EVENT:FAILED", status: engine.StatusFailed,
			reason: "Error loading queue:rabbitmq:abc_123, for task:%TASK%, error: Unknown queue type rabbitmq",
		},
		{
			name: "event task with sink value that does not resolve to a queue (no type)", sink: "abc_123", sinks: "file",
			tasks: "EVENT:FAILED", status: engine.StatusFailed,
			reason: "Error loading queue:abc_123, for task:%TASK%, error: Illegal event abc_123",
		},
		{
			name: "event task with 'conductor' as sink, no sink configured", sink: "conductor",
			tasks: "EVENT:FAILED", status: engine.StatusFailed,
			reason: "Error loading queue:conductor:testWorkflow:task0, for task:%TASK%, error: Unknown queue type conductor",
		},
		{
			// The redis-server is down for the first attempt, back for
			// the retry: Conductor FAILs the attempt with the error's
			// message and retries it as the task definition says.
			name: "publishing to a queue throws a TransientException", sink: "conductor", sinks: "redis",
			taskDefs: []*engine.TaskDef{{Name: "publish", RetryCount: ptr(1), RetryDelaySeconds: ptr(5)}},
			before:   func(t *testing.T, f *eventFixture) { f.srv.Stop() },
			run: func(t *testing.T, f *eventFixture, d *engine.Definition) runView {
				id := startEventRun(t, f.h.e, d, input)
				// The retry is scheduled at once, to run after its delay.
				wf := waitTasks(t, f.h.e, id, "EVENT:FAILED", "EVENT:SCHEDULED")
				if !strings.Contains(wf.Tasks[0].Reason, "publish to redis stream "+conductorQueue) || wf.Status != engine.StatusRunning {
					t.Fatalf("first attempt: run %s, reason %q", wf.Status, wf.Tasks[0].Reason)
				}
				f.srv.Restart()
				if err := f.clock.WaitForWaiters(context.Background(), 1); err != nil {
					t.Fatal(err)
				}
				f.clock.Advance(5 * time.Second)
				return waitTasks(t, f.h.e, id, "EVENT:FAILED", "EVENT:COMPLETED")
			},
			tasks: "EVENT:FAILED EVENT:COMPLETED", status: engine.StatusCompleted,
			after: func(t *testing.T, f *eventFixture, wf runView) {
				if wf.Tasks[1].RetriedTaskID != wf.Tasks[0].TaskID {
					t.Errorf("retry %+v", wf.Tasks[1])
				}
				ms, raw := f.streamMessages(t, conductorQueue)
				wf.Tasks = wf.Tasks[1:]
				verifyEventMessage(t, wf, conductorQueue, ms, raw)
			},
		},
		{
			// The stream's key holds a string: Redis refuses every time.
			name: "publishing to a queue throws a NonTransientException", sink: "conductor", sinks: "redis",
			before: func(t *testing.T, f *eventFixture) {
				if err := f.redis.Set(context.Background(), conductorQueue, "not a stream", 0).Err(); err != nil {
					t.Fatal(err)
				}
			},
			tasks: "EVENT:FAILED", status: engine.StatusFailed,
			reason: "publish to redis stream " + conductorQueue + ": WRONGTYPE",
		},
		{
			name: "event task fails with an unexpected exception", sink: "conductor", sinks: "panic",
			tasks: "EVENT:FAILED", status: engine.StatusFailed,
			reason: "event sink for " + conductorQueue + ": some object is nil",
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &eventFixture{clock: engine.NewManualClock(time.Now())}
			var opts []engine.Option
			for _, s := range strings.Split(c.sinks, ",") {
				switch s {
				case "file":
					opts = append(opts, engine.WithEventSink(engine.NewWriterSink(&f.file)))
				case "sqs":
					opts = append(opts, engine.WithEventProvider("sqs", engine.NewWriterSink(&f.file)))
				case "redis":
					f.srv = redistest.StartServer(t)
					f.redis = redis.NewClient(&redis.Options{Addr: f.srv.Addr()})
					t.Cleanup(func() { _ = f.redis.Close() })
					opts = append(opts, engine.WithEventSink(engine.NewRedisStreamSink(f.redis, "")))
				case "panic":
					opts = append(opts, engine.WithEventSink(panicSink{}))
				}
			}
			defs := engine.NewTaskDefs()
			for _, td := range c.taskDefs {
				if err := defs.Put(td); err != nil {
					t.Fatal(err)
				}
			}
			opts = append(opts, engine.WithTaskDefs(defs), engine.WithClock(f.clock),
				engine.WithRemoteWorker(func(_ context.Context, rt engine.RemoteTask) tasks.Result {
					t.Errorf("task %s handed to a worker", rt.Name)
					return tasks.Result{Status: tasks.Failed}
				}))
			f.h = newHarness(t, nil, opts...)
			if c.before != nil {
				c.before(t, f)
			}
			d := eventDef(t, f.h.e, c.sink, c.extraTask)
			var wf runView
			if c.run != nil {
				wf = c.run(t, f, d)
			} else {
				wf = viewRun(t, f.h.e, startRun(t, f.h.e, d, input, engine.WithCorrelationID("corrId")).RunID)
			}
			checkTasks(t, wf.Tasks, strings.Fields(c.tasks)...)
			if wf = waitStatus(t, f.h.e, wf.WorkflowID, c.status); wf.Status != c.status {
				t.Fatalf("run %s %q, want %s", wf.Status, wf.Reason, c.status)
			}
			last := wf.Tasks[len(wf.Tasks)-1]
			if c.reason != "" {
				want := strings.ReplaceAll(c.reason, "%TASK%", last.TaskID)
				if !strings.HasPrefix(last.Reason, want) && !strings.Contains(last.Reason, want) {
					t.Errorf("reason %q, want %q", last.Reason, want)
				}
				if strings.Contains(c.reason, "Invalid") {
					verifyEventOutput(t, wf, "", c.sink, false)
				}
			} else if last.Status == engine.TaskFailed {
				t.Errorf("failed: %q", last.Reason)
			}
			if c.queue != "" {
				verifyEventOutput(t, wf, c.queue, c.sink, false)
				if f.redis != nil {
					ms, raw := f.streamMessages(t, c.queue)
					verifyEventMessage(t, wf, c.queue, ms, raw)
				} else {
					verifyEventMessage(t, wf, c.queue, sinkMessages(t, f.file.String()), f.file.String())
				}
			}
			if c.after != nil {
				c.after(t, f, wf)
			}
			if b, err := f.h.e.Show(context.Background(), wf.WorkflowID); err != nil || strings.Contains(string(b), token) {
				t.Errorf("the run's view holds the secret (%v)", err)
			}
			if b, _, err := f.h.runs.Load(context.Background(), wf.WorkflowID); err != nil || strings.Contains(string(b), token) {
				t.Errorf("the stored run holds the secret (%v)", err)
			}
		})
	}
}

type panicSink struct{}

func (panicSink) Publish(context.Context, string, string, []byte) error {
	panic("some object is nil")
}

func ptr[T any](v T) *T { return &v }

// startEventRun starts a run in the background with EventSpec's correlation
// id, and returns its id.
func startEventRun(t *testing.T, e *engine.Engine, d *engine.Definition, input string) string {
	t.Helper()
	id := fmt.Sprintf("event-%d", eventRuns.Add(1))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := e.Start(context.Background(), d, json.RawMessage(input), engine.WithRunID(id), engine.WithCorrelationID("corrId")); err != nil {
			t.Error(err)
		}
	}()
	t.Cleanup(func() {
		// A test that failed early leaves the run waiting (or not yet
		// stored): end it.
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
				_ = e.Terminate(context.Background(), id, "test over")
			}
		}
	})
	return id
}

// waitPublished waits until run id's EVENT task (its first) is
// IN_PROGRESS with its message published (its output recorded).
func waitPublished(t *testing.T, e *engine.Engine, id string) runView {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var wf runView
		if b, err := e.Show(context.Background(), id); err == nil && json.Unmarshal(b, &wf) == nil &&
			len(wf.Tasks) > 0 && wf.Tasks[0].Status == engine.TaskInProgress && wf.Tasks[0].Output["event_produced"] != nil {
			return wf
		}
		if time.Now().After(deadline) {
			t.Fatalf("EVENT never published: %+v", wf.Tasks)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var eventRuns atomic.Int64

// waitStatus waits until run id has status want (or gives up and returns
// what it has).
func waitStatus(t *testing.T, e *engine.Engine, id, want string) runView {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		wf := viewRun(t, e, id)
		if wf.Status == want || time.Now().After(deadline) {
			return wf
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// The sink is resolved like an input parameter, as Conductor's
// EventTaskMapper resolves it; a secret cannot name a queue (the name is
// shown in the output and sent to the sink).
func TestEventSinkExpression(t *testing.T) {
	var file lockedBuffer
	h := newHarness(t, nil, engine.WithEventSink(engine.NewWriterSink(&file)))
	d := eventDef(t, h.e, "conductor:${workflow.input.topic}", "")
	wf := viewRun(t, h.e, startRun(t, h.e, d, `{"order":42,"topic":"orders"}`).RunID)
	checkTasks(t, wf.Tasks, "EVENT:COMPLETED")
	if ms := sinkMessages(t, file.String()); len(ms) != 1 || ms[0].Queue != "conductor:testWorkflow:orders" || wf.Tasks[0].Output["sink"] != "conductor:orders" {
		t.Fatalf("messages %+v, output %v", ms, wf.Tasks[0].Output)
	}
	_, err := h.e.Parse([]byte(`{"name":"w","tasks":[{"name":"e","taskReferenceName":"e","type":"EVENT","sink":"conductor:${workflow.secrets.api_token}"}]}`))
	if err == nil || !strings.Contains(err.Error(), "/tasks/0/sink") || !strings.Contains(err.Error(), "cannot come from a secret") {
		t.Fatalf("parse: %v", err)
	}
}

// A WriterSink withdraws a cancelled task's message with an ack line.
func TestEventWriterSinkAck(t *testing.T) {
	var file lockedBuffer
	h := newHarness(t, nil, engine.WithEventSink(engine.NewWriterSink(&file)))
	d := eventDef(t, h.e, "conductor", `,"asyncComplete":true`)
	id := startEventRun(t, h.e, d, `{"order":42}`)
	wf := waitPublished(t, h.e, id)
	if err := h.e.Terminate(context.Background(), id, "stop"); err != nil {
		t.Fatal(err)
	}
	waitTasks(t, h.e, id, "EVENT:CANCELED")
	ms := sinkMessages(t, file.String())
	if len(ms) != 2 || ms[1].Ack != true || ms[1].ID != wf.Tasks[0].TaskID || ms[1].Queue != "conductor:testWorkflow:task0" || ms[0].Ack {
		t.Fatalf("messages %+v", ms)
	}
}

// A secret value that reaches an EVENT task's input from another task's
// output is masked in the message, on every sink, as in the stored run.
func TestEventPayloadMasksSecretValues(t *testing.T) {
	srv := redistest.StartServer(t)
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rc.Close()
	var file lockedBuffer
	h := newHarness(t, nil, engine.WithEventSink(engine.NewWriterSink(&file)),
		engine.WithEventProvider("stream", engine.NewRedisStreamSink(rc, "wfrun:")))
	d, err := h.e.Parse([]byte(`{"name":"leak","tasks":[
	  {"name":"echo","taskReferenceName":"e1","inputParameters":{"t":"${workflow.secrets.api_token}"}},
	  {"name":"n","taskReferenceName":"n1","type":"EVENT","sink":"conductor","inputParameters":{"got":"${e1.output.echo.t}","text":"token is ${e1.output.echo.t}!"}},
	  {"name":"n","taskReferenceName":"n2","type":"EVENT","sink":"stream:out","inputParameters":{"got":"${e1.output.echo.t}"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	wf := viewRun(t, h.e, startRun(t, h.e, d, `{}`).RunID)
	checkTasks(t, wf.Tasks, "echo:COMPLETED", "EVENT:COMPLETED", "EVENT:COMPLETED")
	xs, err := rc.XRange(context.Background(), "wfrun:stream:out", "-", "+").Result()
	if err != nil || len(xs) != 1 {
		t.Fatalf("stream %v %v", xs, err)
	}
	streamed, _ := xs[0].Values["payload"].(string)
	for sink, got := range map[string]string{"file": file.String(), "redis": streamed} {
		if strings.Contains(got, token) || strings.Contains(got, token[:8]) || !strings.Contains(got, `"got":"***"`) {
			t.Errorf("%s sink got %s", sink, got)
		}
	}
	if !strings.Contains(file.String(), `"text":"token is ***!"`) {
		t.Errorf("embedded value: %s", file.String())
	}
}

// A sink resolved from a `_secrets` leaf (of a task's output or of the
// run's input) fails the task: the value reaches neither the sink's queue
// name (a WriterSink line, a Redis stream key) nor the task's reason.
func TestEventSinkFromSecretLeafFails(t *testing.T) {
	const inputSecret = "queue-secret-7f3a9c"
	srv := redistest.StartServer(t)
	rc := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	defer rc.Close()
	cases := []struct{ name, sink, input string }{
		{"task output", "conductor:${e1.output.echo._secrets.t}", `{}`},
		{"run input", "conductor:${workflow.input._secrets.x}", `{"_secrets":{"x":"` + inputSecret + `"}}`},
		{"stream key", "stream:${e1.output.echo._secrets.t}", `{}`},
		{"joined by the queue name", "conductor:${workflow.input.a}conductor:${workflow.input.b}",
			`{"a":"queue-secret","b":"-7f3a9c","_secrets":{"x":"` + inputSecret + `"}}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var file lockedBuffer
			h := newHarness(t, nil, engine.WithEventSink(engine.NewWriterSink(&file)),
				engine.WithEventProvider("stream", engine.NewRedisStreamSink(rc, "wfrun:")))
			d, err := h.e.Parse([]byte(`{"name":"leak","tasks":[
			  {"name":"echo","taskReferenceName":"e1","inputParameters":{"_secrets":{"t":"${workflow.secrets.api_token}"}}},
			  {"name":"n","taskReferenceName":"n1","type":"EVENT","sink":` + fmt.Sprintf("%q", c.sink) + `}]}`))
			if err != nil {
				t.Fatal(err)
			}
			wf := viewRun(t, h.e, startRun(t, h.e, d, c.input).RunID)
			checkTasks(t, wf.Tasks, "echo:COMPLETED", "EVENT:FAILED")
			if r := wf.Tasks[1].Reason; r != "an EVENT sink cannot come from a secret" {
				t.Errorf("reason %q", r)
			}
			keys, err := rc.Keys(context.Background(), "*").Result()
			if err != nil {
				t.Fatal(err)
			}
			all := file.String() + strings.Join(keys, " ")
			for _, v := range []string{token, token[:8], inputSecret} {
				if strings.Contains(all, v) {
					t.Errorf("the sink got %q: %s", v, all)
				}
			}
		})
	}
}
