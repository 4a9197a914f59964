package engine_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wfrun/wfrun/engine"
)

// publisherSink prints who published each message.
type publisherSink struct{}

func (publisherSink) Publish(ctx context.Context, queue, _ string, _ []byte) error {
	p, ok := engine.EventPublisherOf(ctx)
	fmt.Println(queue, ok, p.WorkflowType, p.Principal.Name, p.Principal.Scopes)
	return nil
}

// A sink learns who published a message: the run, its workflow and the
// principal it executes as, so that whatever acts on the message can
// check that the publisher may ask for it.
func ExampleEventPublisherOf() {
	e, err := engine.New(engine.WithEventSink(publisherSink{}))
	if err != nil {
		panic(err)
	}
	d, err := e.Parse([]byte(`{"name":"orders","tasks":[{"name":"a","taskReferenceName":"placed","type":"EVENT","sink":"conductor"}]}`))
	if err != nil {
		panic(err)
	}
	p := engine.Principal{Name: "bob", Scopes: []string{"workflows:start:orders"}}
	if _, err := e.Start(context.Background(), d, json.RawMessage(`{}`), engine.AsPrincipal(p)); err != nil {
		panic(err)
	}
	// Output:
	// conductor:orders:placed true orders bob [workflows:start:orders]
}
