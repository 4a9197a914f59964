package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/tasks"
)

// EVENT follows Conductor's Event system task (core/…/tasks/Event.java):
//
//   - it is not asynchronous: the engine publishes when the task is
//     scheduled, no worker polls it;
//   - its input gets the task's sink and asyncComplete (EventTaskMapper);
//     its output is the input plus workflowInstanceId, workflowType,
//     workflowVersion, correlationId, taskToDomain and event_produced, the
//     queue name computed from the sink ("conductor" →
//     "conductor:<workflow>:<taskRef>", "conductor:q" →
//     "conductor:<workflow>:q", anything else as written);
//   - the queue's type (the sink before its first ':') picks the sink the
//     engine was given for it (WithEventSink: "conductor";
//     WithEventProvider: any other); the message is the output as JSON,
//     its id the task id, masked;
//   - every failure FAILs the task with Conductor's reason ("Invalid /
//     Unsupported sink specified: …", "Error loading queue:…, for task:…,
//     error: Unknown queue type …", "Error serializing JSON payload: …", or
//     the sink's error), retried as its task definition says;
//   - with asyncComplete the published task stays IN_PROGRESS until it is
//     completed from outside; cancelled (its run ends first), its message
//     is acknowledged on the queue (EventAcker), its status left CANCELED.

// EventSink receives the messages EVENT tasks publish. queue is the queue
// name as Conductor computes it from the task's sink; id is the task id;
// payload is the task's output as JSON, masked.
type EventSink interface {
	Publish(ctx context.Context, queue, id string, payload []byte) error
}

// EventAcker is an EventSink that can withdraw a message: the message of
// an EVENT task cancelled after it published, as Conductor's Event.cancel
// acks it on its queue.
type EventAcker interface {
	Ack(ctx context.Context, queue, id string) error
}

// ConductorQueueType is the queue type of Conductor's own queues: sinks
// "conductor" and "conductor:NAME".
const ConductorQueueType = "conductor"

// errUnknownQueueType: no sink is configured for a queue's type.
var errUnknownQueueType = errors.New("Unknown queue type")

// WithEventSink sets where EVENT tasks publish to Conductor's own queues
// (sinks "conductor" and "conductor:NAME").
func WithEventSink(s EventSink) Option { return WithEventProvider(ConductorQueueType, s) }

// WithEventProvider sets the sink of the queues of one type, the part of an
// EVENT sink before its first ':' ("sqs" for "sqs:orders"), as Conductor's
// EventQueues picks an EventQueueProvider. An EVENT task whose sink has a
// type without one fails with Conductor's reason "Error loading queue:…,
// for task:…, error: Unknown queue type TYPE".
func WithEventProvider(queueType string, s EventSink) Option {
	return func(e *Engine) {
		if e.eventSink == nil {
			e.eventSink = map[string]EventSink{}
		}
		if s == nil {
			delete(e.eventSink, queueType)
			return
		}
		e.eventSink[queueType] = s
	}
}

// eventQueue computes an EVENT task's queue name from its sink, as
// Conductor's Event.computeQueueName does.
func eventQueue(sink, workflowName, ref string) (string, error) {
	switch {
	case sink == ConductorQueueType:
		return "conductor:" + workflowName + ":" + ref, nil
	case strings.HasPrefix(sink, "conductor:"):
		return "conductor:" + workflowName + ":" + strings.ReplaceAll(sink, "conductor:", ""), nil
	case strings.HasPrefix(sink, ConductorQueueType):
		return "", fmt.Errorf("Invalid / Unsupported sink specified: %s", sink)
	}
	return sink, nil
}

// eventQueueSink is the sink of a queue, by its type, as Conductor's
// EventQueues.getQueue finds its provider.
func (e *Engine) eventQueueSink(queue string) (EventSink, error) {
	typ, _, ok := strings.Cut(queue, ":")
	if !ok {
		return nil, fmt.Errorf("Illegal event %s", queue)
	}
	if s := e.eventSink[typ]; s != nil {
		return s, nil
	}
	hint := "engine.WithEventProvider; CLI: --event-sink " + typ + "=SINK"
	if typ == ConductorQueueType {
		// wfrun run has no event handlers: a message no handler can take
		// would be lost silently, so the user names a sink (wfrun serve
		// has these queues and the handlers that consume them).
		hint = "engine.WithEventSink; CLI: --event-sink SINK, or wfrun serve, whose event handlers consume these queues"
	}
	return nil, fmt.Errorf("%w %s (no event sink configured for it: %s)", errUnknownQueueType, typ, hint)
}

// eventSinkName is the task's sink, its expressions resolved (Conductor
// resolves it like an input parameter; it cannot come from a secret).
func (r *runState) eventSinkName(ctx context.Context, wt *WorkflowTask, rec *taskRecord) (string, error) {
	if wt.sinkTmpl == nil {
		return wt.Sink, nil
	}
	b, _, err := wt.sinkTmpl.Execute(ctx, &runEnv{r: r, taskID: rec.TaskID, values: r.e.envValues}, interpolate.DeferSecrets, nil)
	if err != nil {
		return "", fmt.Errorf("sink: %v", err)
	}
	var v struct {
		Sink any `json:"sink"`
	}
	_ = json.Unmarshal(b, &v)
	s, _ := v.Sink.(string)
	if strings.TrimSpace(s) == "" {
		return "", fmt.Errorf("sink %q resolved to no sink", wt.Sink)
	}
	if r.sec.Text(s) != s {
		// A registered value reached the sink through an output or the
		// input: refused as a direct reference is at load (the queue name
		// is shown in the output and sent to the sink). The reason names
		// no part of it.
		return "", errSecretSink
	}
	return s, nil
}

// errNullSink: an EVENT given no sink, where registration does not check
// it: Event.start's computeQueueName calls startsWith on the null, and the
// task fails with Java's message for it.
var errNullSink = errors.New(`Cannot invoke "String.startsWith(String)" because "sinkValue" is null`)

// errSecretSink: an EVENT sink resolved to text holding a registered value.
var errSecretSink = errors.New("an EVENT sink cannot come from a secret")

// eventPayload is the message of an EVENT task: its output members as one
// JSON object (members kept as written: numbers keep their digits).
func eventPayload(members map[string]json.RawMessage) ([]byte, error) {
	b, err := json.Marshal(members)
	if err != nil {
		return nil, fmt.Errorf("Error serializing JSON payload: %v", err)
	}
	return b, nil
}

// eventTask publishes the task's output. It is built from the stored
// input, so secret references stay references; the payload is masked.
func (r *runState) eventTask(ctx context.Context, wt *WorkflowTask, rec *taskRecord) tasks.Result {
	r.mu.Lock()
	in := append([]byte(nil), rec.inMem...)
	wfName, version, corr := r.doc.WorkflowType, r.doc.Version, r.doc.CorrelationID
	domains, _ := json.Marshal(r.doc.TaskToDomain)
	r.mu.Unlock()
	sink, err := r.eventSinkName(ctx, wt, rec)
	if err != nil {
		return tasks.Result{Status: tasks.Failed, Reason: r.sec.Text(err.Error())}
	}
	out := map[string]json.RawMessage{}
	_ = json.Unmarshal(orEmpty(in), &out)
	// The task's input gets its sink (resolved) and asyncComplete over the
	// input's, as Conductor's EventTaskMapper puts them.
	out["sink"], _ = json.Marshal(sink)
	if wt.sinkNull {
		out["sink"] = json.RawMessage("null")
	}
	out["asyncComplete"], _ = json.Marshal(asyncComplete(wt))
	if withSink, err := json.Marshal(out); err == nil {
		if err := r.setTaskData(rec, withSink, nil); err != nil {
			return tasks.Result{Status: tasks.FailedTerminal, Reason: "input: " + r.sec.Text(err.Error())}
		}
	}
	// The output is the input and what Event.start adds.
	out["workflowInstanceId"], _ = json.Marshal(r.id)
	out["workflowType"], _ = json.Marshal(wfName)
	out["workflowVersion"], _ = json.Marshal(version)
	// The run's head is stored as given; these copies are made now,
	// masked with every value the run registered since it started.
	out["correlationId"] = json.RawMessage("null")
	if corr != "" {
		out["correlationId"], _ = json.Marshal(r.sec.Text(corr))
	}
	out["taskToDomain"] = json.RawMessage("{}")
	if string(domains) != "null" {
		out["taskToDomain"] = r.sec.Remask(domains, "")
	}
	queue, err := eventQueue(sink, wfName, rec.Ref)
	if wt.sinkNull {
		queue, err = "", errNullSink
	}
	if err == nil && r.sec.Text(queue) != queue {
		// eventQueue drops "conductor:" from the sink: pieces of a
		// sink that hold no value alone can join into one.
		return tasks.Result{Status: tasks.Failed, Reason: errSecretSink.Error()}
	}
	if err != nil {
		// Event.start: FAILED, the output recorded without event_produced.
		b, _ := eventPayload(out)
		return tasks.Result{Status: tasks.Failed, Reason: r.sec.Text(err.Error()), Output: b}
	}
	out["event_produced"], _ = json.Marshal(queue)
	b, err := eventPayload(out)
	if err != nil {
		return tasks.Result{Status: tasks.Failed, Reason: r.sec.Text(err.Error())}
	}
	target, err := r.e.eventQueueSink(queue)
	if err != nil {
		return tasks.Result{Status: tasks.Failed, Output: b,
			Reason: r.sec.Text(fmt.Sprintf("Error loading queue:%s, for task:%s, error: %v", queue, rec.TaskID, err))}
	}
	payload, err := r.sec.View(b)
	if err != nil {
		return tasks.Result{Status: tasks.Failed, Output: b, Reason: r.sec.Text("Error serializing JSON payload: " + err.Error())}
	}
	r.mu.Lock()
	rec.published = queue
	pub := EventPublisher{RunID: r.id, WorkflowType: wfName, Principal: r.doc.Principal}
	r.mu.Unlock()
	if err := publishEvent(withEventPublisher(ctx, pub), target, queue, rec.TaskID, payload); err != nil {
		// Conductor: FAILED with the error's message, transient or not;
		// its retries are the task definition's.
		return tasks.Result{Status: tasks.Failed, Output: b, Reason: r.sec.Excerpt(err.Error(), maxReasonBytes)}
	}
	if !asyncComplete(wt) {
		return tasks.Result{Status: tasks.Completed, Output: b}
	}
	// asyncComplete: published, the task stays IN_PROGRESS (its output
	// recorded) until it is completed from outside (CompleteTask, the
	// server's task update), as Conductor's Event leaves it.
	if err := r.setTaskData(rec, nil, b); err != nil {
		return tasks.Result{Status: tasks.FailedTerminal, Reason: "output: " + err.Error()}
	}
	done, err := r.testEventWaits(ctx, rec) // a test run's pass (mock.go)
	if err != nil {
		return tasks.Result{Status: tasks.Failed, Output: b, Reason: r.sec.Excerpt(err.Error(), maxReasonBytes)}
	}
	res := r.waitTask(ctx, wt, rec, []byte("{}"))
	done()
	res.Output = mergeOutput(b, res.Output)
	return res
}

// publishEvent is the sink's Publish; a sink that panics fails the
// publication (Conductor: an unexpected exception FAILs the task).
func publishEvent(ctx context.Context, s EventSink, queue, id string, payload []byte) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("event sink for %s: %v", queue, p)
		}
	}()
	return s.Publish(ctx, queue, id, payload)
}

// ackTimeout bounds the acknowledgement of a cancelled EVENT task's
// message: a run ends even when its sink does not answer.
const ackTimeout = 10 * time.Second

// cancelEvent acknowledges the message a cancelled EVENT task published, as
// Conductor's Event.cancel does on its queue; the task's status is not its
// business. It returns why that failed, for the task's CANCELED progress
// event: Conductor logs a failed cancel and ends the workflow all the same.
func (r *runState) cancelEvent(ctx context.Context, t *taskRecord) string {
	queue, why := r.publishedQueue(ctx, t)
	if queue == "" {
		return why
	}
	s, err := r.e.eventQueueSink(queue)
	if err != nil {
		return ""
	}
	acker, ok := s.(EventAcker)
	if !ok {
		return ""
	}
	actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ackTimeout)
	defer cancel()
	if err := acker.Ack(actx, queue, t.TaskID); err != nil {
		return r.sec.Excerpt("ack on queue "+queue+": "+err.Error(), maxReasonBytes)
	}
	return ""
}

// publishedQueue is the queue a cancelled EVENT task published to, as it
// published it: the name this process kept, or (a resumed run) the
// recorded event_produced. A recorded name masked since (a value
// registered after the publication occurs in it) is not a queue: the
// sink is resolved again and taken only if it masks to the recorded name.
// "" with a reason when there is nothing to acknowledge.
func (r *runState) publishedQueue(ctx context.Context, t *taskRecord) (string, string) {
	r.mu.Lock()
	out, queue, wfName := t.outMem, t.published, r.doc.WorkflowType
	r.mu.Unlock()
	if queue != "" {
		return queue, ""
	}
	var o struct {
		Queue string `json:"event_produced"`
	}
	if json.Unmarshal(out, &o) != nil || o.Queue == "" {
		return "", "" // never published
	}
	if !strings.Contains(o.Queue, masking.Redacted) {
		return o.Queue, ""
	}
	if t.wt != nil && t.wt.sinkTmpl != nil {
		b, _, err := t.wt.sinkTmpl.Execute(ctx, &runEnv{r: r, taskID: t.TaskID, values: r.e.envValues}, interpolate.DeferSecrets, nil)
		var v struct {
			Sink string `json:"sink"`
		}
		if err == nil && json.Unmarshal(b, &v) == nil {
			if q, err := eventQueue(v.Sink, wfName, t.Ref); err == nil && r.sec.Text(q) == o.Queue {
				return q, ""
			}
		}
	}
	return "", "not acknowledged: the recorded queue name is masked"
}

// awaitAsyncComplete keeps an asyncComplete HTTP task whose call succeeded
// IN_PROGRESS, its output (the response, past its outputFilter) recorded,
// until it is completed from outside, as Conductor's HttpTask.start leaves
// it. The completion's output joins that output; the filter is not applied
// again.
func (r *runState) awaitAsyncComplete(ctx context.Context, wt *WorkflowTask, rec *taskRecord, out []byte) tasks.Result {
	if wt.outputFilter != nil {
		r.mu.Lock()
		rec.filtered = true
		r.mu.Unlock()
	}
	if err := r.setTaskData(rec, nil, out); err != nil {
		return tasks.Result{Status: tasks.FailedTerminal, Reason: "output: " + err.Error()}
	}
	res := r.waitTask(ctx, wt, rec, []byte("{}"))
	res.Output = mergeOutput(out, res.Output)
	return res
}

// asyncComplete is a task configuration's asyncComplete.
func asyncComplete(wt *WorkflowTask) bool { return wt.asyncComplete }

// mergeOutput lays the members of a completion's output over the output
// a task already recorded.
func mergeOutput(recorded, given []byte) []byte {
	m := map[string]json.RawMessage{}
	_ = json.Unmarshal(recorded, &m)
	g := map[string]json.RawMessage{}
	if json.Unmarshal(given, &g) != nil || len(g) == 0 {
		return recorded
	}
	for k, v := range g {
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		return recorded
	}
	return b
}
