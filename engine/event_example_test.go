package engine_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/wfrun/wfrun/engine"
)

// EVENT tasks publish to the sink of their queue's type: Conductor's own
// queues ("conductor", "conductor:NAME") to WithEventSink's, others
// ("sqs:NAME") to the one WithEventProvider gives their type. A type
// without one fails the task with Conductor's reason.
func ExampleWithEventProvider() {
	var own, sqs strings.Builder
	e, err := engine.New(
		engine.WithEventSink(engine.NewWriterSink(&own)),
		engine.WithEventProvider("sqs", engine.NewWriterSink(&sqs)),
	)
	if err != nil {
		panic(err)
	}
	d, err := e.Parse([]byte(`{"name":"orders","tasks":[
	  {"name":"a","taskReferenceName":"placed","type":"EVENT","sink":"conductor","inputParameters":{"order":"${workflow.input.order}"}},
	  {"name":"b","taskReferenceName":"billing","type":"EVENT","sink":"sqs:billing"},
	  {"name":"c","taskReferenceName":"audit","type":"EVENT","sink":"kafka:audit"}]}`))
	if err != nil {
		panic(err)
	}
	res, err := e.Start(context.Background(), d, json.RawMessage(`{"order":7}`))
	if err != nil {
		panic(err)
	}
	for _, line := range []string{own.String(), sqs.String()} {
		var m struct {
			Queue   string         `json:"queue"`
			Payload map[string]any `json:"payload"`
		}
		_ = json.Unmarshal([]byte(line), &m)
		fmt.Println(m.Queue, m.Payload["workflowType"], m.Payload["order"])
	}
	fmt.Println(res.Status)
	// Output:
	// conductor:orders:placed orders 7
	// sqs:billing orders <nil>
	// FAILED
}

// A server that provides Conductor's own queues gives the engine its sink
// first; EventSinkOf tells it whether a configured one replaced it.
func ExampleEngine_EventSinkOf() {
	var own, configured strings.Builder
	ours := engine.NewWriterSink(&own)
	e, err := engine.New(engine.WithEventSink(ours), engine.WithEventSink(engine.NewWriterSink(&configured)))
	if err != nil {
		panic(err)
	}
	fmt.Println(e.EventSinkOf(engine.ConductorQueueType) == engine.EventSink(ours), e.EventSinkOf("sqs") == nil)
	// Output:
	// false true
}
