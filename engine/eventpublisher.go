package engine

import "context"

// EventPublisher is who published an EVENT task's message: the run, its
// workflow and the principal it executes as. A sink receives it in the
// context of Publish (EventPublisherOf): a consumer that acts on messages
// (wfrun serve's event handlers) checks that what a message asks for is
// something its publisher may do, so nobody gains rights by publishing.
type EventPublisher struct {
	RunID        string    `json:"runId"`
	WorkflowType string    `json:"workflowType"`
	Principal    Principal `json:"principal"`
}

type publisherKey struct{}

// EventPublisherOf returns the publisher of the message a sink's Publish
// is called for; false when ctx carries none (a call from outside the
// engine).
func EventPublisherOf(ctx context.Context) (EventPublisher, bool) {
	p, ok := ctx.Value(publisherKey{}).(EventPublisher)
	return p, ok
}

// withEventPublisher attaches p for the sink's Publish.
func withEventPublisher(ctx context.Context, p EventPublisher) context.Context {
	return context.WithValue(ctx, publisherKey{}, p)
}

// ContextWithPublisher returns ctx carrying p as the publisher of the
// messages published with it: what the engine does for an EVENT task (a
// sink's tests; code publishing on a run's behalf).
func ContextWithPublisher(ctx context.Context, p EventPublisher) context.Context {
	return withEventPublisher(ctx, p)
}
