package tasks

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
)

// Status is the outcome of one task execution attempt, in Conductor's terms.
type Status string

// Task statuses a Task may report.
const (
	Completed Status = "COMPLETED"
	// Failed may be retried by the engine according to retryCount.
	Failed Status = "FAILED"
	// FailedTerminal is never retried (bad configuration, bad evaluator, ...).
	FailedTerminal Status = "FAILED_WITH_TERMINAL_ERROR"
	// InProgress means the task waits for something outside it (WAIT, HUMAN).
	InProgress Status = "IN_PROGRESS"
)

// Masker hides registered secret values. The engine passes the run's masker.
type Masker interface {
	// Mask returns b with every registered value replaced by "***".
	Mask(b []byte) []byte
}

// Request is what a task executor receives for one attempt.
type Request struct {
	WorkflowID string
	TaskID     string
	RefName    string
	TaskType   string
	Attempt    int // 0 for the first attempt

	// Def is the task's definition node (Conductor WorkflowTask JSON), for
	// top-level fields such as SWITCH's evaluatorType or DO_WHILE's loopCondition.
	Def json.RawMessage

	// Input is the resolved input, secret references included. It is
	// transient: an executor must never persist it or log it unmasked.
	Input json.RawMessage

	Services *Services
}

// Services are the shared facilities an executor may use.
type Services struct {
	HTTPClient *http.Client
	Masker     Masker
	// Logf reports progress; the engine masks what it receives.
	Logf func(format string, args ...any)
}

// Result is the outcome of one attempt.
type Result struct {
	Status Status
	// Output is a JSON object (nil means {}).
	Output json.RawMessage
	// Reason explains a failure; it must not contain secret values
	// (executors pass text through Services.Masker when in doubt).
	Reason string
}

// Task executes one system task type.
type Task interface {
	Execute(ctx context.Context, req *Request) Result
}

// Validator is implemented by tasks that can check their definition node
// when a workflow definition loads. Each error names the field it concerns.
type Validator interface {
	Validate(def json.RawMessage) []error
}

// Registry maps task type names (HTTP, INLINE, ...) to executors. It is safe
// for concurrent use.
type Registry struct {
	mu sync.RWMutex
	m  map[string]Task
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{m: map[string]Task{}} }

// Register adds or replaces the executor for a task type.
func (r *Registry) Register(taskType string, t Task) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.m[taskType] = t
}

// Lookup returns the executor for a task type.
func (r *Registry) Lookup(taskType string) (Task, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	t, ok := r.m[taskType]
	return t, ok
}
