package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/redis/go-redis/v9"
)

// WriterSink writes one JSON line per message ({"queue","id","payload"}) to
// w: a file, or stdout. A cancelled EVENT task's message is withdrawn with
// a line {"queue","id","ack":true}.
type WriterSink struct {
	mu sync.Mutex
	w  io.Writer
}

var (
	_ EventSink  = (*WriterSink)(nil)
	_ EventAcker = (*WriterSink)(nil)
)

// NewWriterSink returns a sink writing JSON lines to w.
func NewWriterSink(w io.Writer) *WriterSink { return &WriterSink{w: w} }

// Publish writes the message as one line.
func (s *WriterSink) Publish(_ context.Context, queue, id string, payload []byte) error {
	return s.line(struct {
		Queue   string          `json:"queue"`
		ID      string          `json:"id"`
		Payload json.RawMessage `json:"payload"`
	}{queue, id, payload})
}

// Ack writes the withdrawal of message id of queue as one line.
func (s *WriterSink) Ack(_ context.Context, queue, id string) error {
	return s.line(struct {
		Queue string `json:"queue"`
		ID    string `json:"id"`
		Ack   bool   `json:"ack"`
	}{queue, id, true})
}

func (s *WriterSink) line(v any) error {
	line, err := json.Marshal(v)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, err = s.w.Write(append(line, '\n'))
	return err
}

// RedisStreamSink appends each message to the Redis stream named by its
// queue (XADD queue * id <id> payload <json>); Ack deletes it again (XDEL).
type RedisStreamSink struct {
	client redis.UniversalClient
	prefix string
}

var (
	_ EventSink  = (*RedisStreamSink)(nil)
	_ EventAcker = (*RedisStreamSink)(nil)
)

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

// ackPage is how many stream entries Ack reads at a time.
const ackPage = 256

// Ack deletes the entries of the stream that carry message id, newest
// first (a cancelled task's message is usually recent). A message that is
// not there (never published, or trimmed) is no error, as Conductor's ack
// of an unknown message is none.
func (s *RedisStreamSink) Ack(ctx context.Context, queue, id string) error {
	stream, end := s.prefix+queue, "+"
	for {
		page, err := s.client.XRevRangeN(ctx, stream, end, "-", ackPage).Result()
		if err != nil {
			return fmt.Errorf("ack on redis stream %s: %w", stream, err)
		}
		var ids []string
		for _, m := range page {
			if m.Values["id"] == id {
				ids = append(ids, m.ID)
			}
		}
		if len(ids) > 0 {
			if err := s.client.XDel(ctx, stream, ids...).Err(); err != nil {
				return fmt.Errorf("ack on redis stream %s: %w", stream, err)
			}
			return nil
		}
		if len(page) < ackPage {
			return nil
		}
		end = "(" + page[len(page)-1].ID
	}
}

// EventSinkOf is the sink EVENT tasks publish the queues of queueType to
// (nil when there is none): a server that provides Conductor's own queues
// tells whether a configured sink replaced its own.
func (e *Engine) EventSinkOf(queueType string) EventSink { return e.eventSink[queueType] }
