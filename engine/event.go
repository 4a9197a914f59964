package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"

	"github.com/wfrun/wfrun/tasks"
)

// ErrNoEventSink: an EVENT task ran in an engine without WithEventSink.
var ErrNoEventSink = errors.New("no event sink configured")

// EventSink receives the messages EVENT tasks publish. queue is the queue
// name as Conductor computes it from the task's sink ("conductor" →
// "conductor:<workflow>:<taskRef>", "conductor:q" → "conductor:<workflow>:q",
// anything else as written, e.g. "sqs:name"); id is the task id; payload is
// the task's output as JSON, masked (`_secrets` as "***").
type EventSink interface {
	Publish(ctx context.Context, queue, id string, payload []byte) error
}

// WithEventSink sets where EVENT tasks publish.
func WithEventSink(s EventSink) Option { return func(e *Engine) { e.eventSink = s } }

// WriterSink writes one JSON line per message ({"queue","id","payload"}) to
// w: a file, or stdout.
type WriterSink struct {
	mu sync.Mutex
	w  io.Writer
}

// NewWriterSink returns a sink writing JSON lines to w.
func NewWriterSink(w io.Writer) *WriterSink { return &WriterSink{w: w} }

// Publish writes the message as one line.
func (s *WriterSink) Publish(_ context.Context, queue, id string, payload []byte) error {
	line, err := json.Marshal(struct {
		Queue   string          `json:"queue"`
		ID      string          `json:"id"`
		Payload json.RawMessage `json:"payload"`
	}{queue, id, payload})
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err = s.w.Write(append(line, '\n'))
	return err
}

// RedisStreamSink appends each message to the Redis stream named by its
// queue (XADD queue * id <id> payload <json>).
type RedisStreamSink struct {
	client redis.UniversalClient
	prefix string
}

// NewRedisStreamSink returns a sink over client; prefix is prepended to
// every stream name ("" for none).
func NewRedisStreamSink(client redis.UniversalClient, prefix string) *RedisStreamSink {
	return &RedisStreamSink{client: client, prefix: prefix}
}

// Publish adds the message to the stream.
func (s *RedisStreamSink) Publish(ctx context.Context, queue, id string, payload []byte) error {
	err := s.client.XAdd(ctx, &redis.XAddArgs{Stream: s.prefix + queue, Values: []any{"id", id, "payload", string(payload)}}).Err()
	if err != nil {
		return fmt.Errorf("publish to redis stream %s: %w", s.prefix+queue, err)
	}
	return nil
}

// eventQueue computes an EVENT task's queue name from its sink, as
// Conductor's Event.computeQueueName does.
func eventQueue(sink, workflowName, ref string) (string, error) {
	switch {
	case sink == "":
		return "", errors.New("EVENT task has no sink")
	case sink == "conductor":
		return "conductor:" + workflowName + ":" + ref, nil
	case strings.HasPrefix(sink, "conductor:"):
		return "conductor:" + workflowName + ":" + strings.ReplaceAll(sink, "conductor:", ""), nil
	case strings.HasPrefix(sink, "conductor"):
		return "", fmt.Errorf("Invalid / Unsupported sink specified: %s", sink)
	}
	return sink, nil
}

// eventTask publishes the task's output: its input plus the workflow's
// id, type, version and correlationId and event_produced (the queue name).
// Built from the stored input, so secret references stay references; the
// payload is masked.
func (r *runState) eventTask(ctx context.Context, wt *WorkflowTask, rec *taskRecord) tasks.Result {
	r.mu.Lock()
	in := append([]byte(nil), rec.inMem...)
	wfName, version, corr := r.doc.WorkflowType, r.doc.Version, r.doc.CorrelationID
	r.mu.Unlock()
	out := map[string]any{}
	_ = json.Unmarshal(orEmpty(in), &out)
	sink := wt.Sink
	if s, ok := out["sink"].(string); ok && s != "" {
		sink = s
	}
	queue, err := eventQueue(sink, wfName, rec.Ref)
	if err != nil {
		return tasks.Result{Status: tasks.Failed, Reason: err.Error()}
	}
	out["sink"] = sink
	out["workflowInstanceId"], out["workflowType"], out["workflowVersion"], out["correlationId"] = r.id, wfName, version, corr
	out["event_produced"] = queue
	b, err := json.Marshal(out)
	if err != nil {
		return tasks.Result{Status: tasks.Failed, Reason: "Error serializing JSON payload: " + err.Error()}
	}
	if r.e.eventSink == nil {
		return tasks.Result{Status: tasks.Failed, Reason: fmt.Sprintf("%v for %s (embedders: engine.WithEventSink; CLI: --event-sink)", ErrNoEventSink, queue)}
	}
	payload, err := r.sec.View(b)
	if err != nil {
		return tasks.Result{Status: tasks.Failed, Reason: err.Error()}
	}
	if err := r.e.eventSink.Publish(ctx, queue, rec.TaskID, payload); err != nil {
		return tasks.Result{Status: tasks.Failed, Reason: r.sec.Text(err.Error())}
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
	res := r.waitTask(ctx, wt, rec, []byte("{}"))
	res.Output = mergeOutput(b, res.Output)
	return res
}

// asyncComplete reads a task configuration's asyncComplete.
func asyncComplete(wt *WorkflowTask) bool {
	var c struct {
		AsyncComplete bool `json:"asyncComplete"`
	}
	_ = json.Unmarshal(wt.raw, &c)
	return c.AsyncComplete
}

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
