package tasks

import "context"

// TypeNoop is the task type name of Noop.
const TypeNoop = "NOOP"

// Noop is Conductor's NOOP system task: it completes at once with an empty
// output. Workflows use it as a placeholder, most often as a SWITCH branch
// that has nothing to do.
type Noop struct{}

// Execute completes the task.
func (Noop) Execute(context.Context, *Request) Result {
	return Result{Status: Completed}
}
