package tasks

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"

	"github.com/wfrun/wfrun/store"
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
	// Register adds a value to mask from now on (a rotated token, a bundle
	// file's content). It reports false when the value is too short to mask.
	Register(value string) bool
}

// SecretAccess is the run's view of the secret store, acting as the run's
// principal within its project and environment scope. store.RunView
// implements it.
type SecretAccess interface {
	// Secret returns a secret's JSON value.
	Secret(ctx context.Context, name string) ([]byte, error)
	// Put creates or updates a secret; ifVersion -1 means no compare-and-swap.
	Put(ctx context.Context, name string, value json.RawMessage, ifVersion int64) (*store.Secret, error)
	// Get returns the secret with its metadata (version, for CAS loops).
	Get(ctx context.Context, name string) (*store.Secret, error)
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
	// InputValid says Input is known to be one valid JSON document (the
	// engine resolved it from a compiled template or checked it), so an
	// executor need not validate it again. False: Input may be anything.
	InputValid bool

	Services *Services
}

// Services are the shared facilities an executor may use.
type Services struct {
	HTTPClient *http.Client
	Masker     Masker
	// Logf reports progress; the engine masks what it receives.
	Logf func(format string, args ...any)
	// Secrets is nil when the run has no secret store.
	Secrets SecretAccess
}

// Result is the outcome of one attempt.
type Result struct {
	Status Status
	// Output is a JSON object (nil means {}).
	Output json.RawMessage
	// Reason explains a failure; it must not contain secret values
	// (executors pass text through Services.Masker when in doubt).
	Reason string
	// EmptyReason says an empty Reason is the empty text given as such
	// (a worker's reasonForIncompletion "", which Conductor keeps apart
	// from none, null); without it an empty Reason is none.
	EmptyReason bool
	// OutputValid says the executor built Output as one valid JSON
	// document (every piece it spliced checked or encoded by it), so the
	// engine does not validate it again before masking and storing it.
	// Masking is the same either way. Leave it false for output taken
	// from elsewhere (a process, a remote worker, user code).
	OutputValid bool
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

var _ SecretAccess = (*store.RunView)(nil)
