package interpolate

import (
	"context"
	"encoding/json"
)

// Env is what expressions resolve against. An engine backs it with its own run state, so
// nothing is copied into maps per task. Documents returned must stay unchanged during Execute.
type Env interface {
	// Workflow returns the workflow JSON object: input, output, variables, workflowId,
	// correlationId, status, workflowType, version, parentWorkflowId, schemaVersion,
	// reasonForIncompletion, createTime.
	Workflow() []byte
	// Task returns the JSON object of the task record for a reference name (input, output,
	// status, taskId, retryCount, iteration, taskType, referenceTaskName, ...). ok=false when
	// the task has not run: the path then resolves to null.
	Task(ref string) (doc []byte, ok bool)
	// TaskID is CPEWF_TASK_ID; "" leaves the expression text in place, as Conductor does.
	TaskID() string
	// Secrets may return nil: any secret reference then fails with ErrNoSecretSource.
	Secrets() SecretSource
	// EnvValues may return nil: workflow.env.* then resolves to null.
	EnvValues() ValueSource
}

// TaskSelector is optional: an Env whose task documents may be large answers a definite path
// into one itself (from an index of the document), so that many references into one large
// output do not scan it once each. gpath is the path in gjson syntax with every key escaped
// (gjson.Escape). handled=false leaves the lookup to Execute (the document is scanned).
type TaskSelector interface {
	SelectTask(ref, gpath string) (raw string, found, handled bool)
}

// SecretSource looks secrets up by name.
type SecretSource interface {
	// Secret returns the secret's JSON value (a JSON string for string secrets). Errors
	// (not found, expired, forbidden) are wrapped into the *Error naming the secret; a source
	// should wrap ErrSecretNotFound for a missing name.
	Secret(ctx context.Context, name string) ([]byte, error)
}

// BatchSecretSource is optional: when the source implements it, Execute fetches all of the
// template's SecretNames in one call first (one round trip per task). Missing names are
// absent from values; per-name errors may be returned in errs.
type BatchSecretSource interface {
	SecretSource
	Secrets(ctx context.Context, names []string) (values map[string][]byte, errs map[string]error, err error)
}

// ValueSource serves workflow.env.NAME: non-secret configuration, never the OS environment.
type ValueSource interface {
	Value(ctx context.Context, name string) (doc []byte, ok bool, err error)
}

// MapSecrets is a SecretSource over a map of JSON values. A missing name gives an error
// wrapping ErrSecretNotFound.
type MapSecrets map[string]json.RawMessage

// Secret implements SecretSource.
func (m MapSecrets) Secret(_ context.Context, name string) ([]byte, error) {
	v, ok := m[name]
	if !ok {
		return nil, ErrSecretNotFound // the *Error around it names the secret
	}
	return v, nil
}

// MapValues is a ValueSource over a map of JSON values.
type MapValues map[string]json.RawMessage

// Value implements ValueSource.
func (m MapValues) Value(_ context.Context, name string) ([]byte, bool, error) {
	v, ok := m[name]
	return v, ok, nil
}

// DocEnv is an Env backed by one JSON context document, for tests, examples and `wfrun eval`:
//
//	{"workflow":{...}, "tasks":{"ref":{...}}, "taskId":"...", "secrets":{"name":value}, "env":{"name":value}}
//
// A context without "secrets" has no SecretSource (secret references fail).
type DocEnv struct {
	workflow []byte
	tasks    map[string]json.RawMessage
	taskID   string
	secrets  MapSecrets
	env      MapValues
}

// NewDocEnv parses a context document.
func NewDocEnv(context []byte) (*DocEnv, error) {
	var doc struct {
		Workflow json.RawMessage            `json:"workflow"`
		Tasks    map[string]json.RawMessage `json:"tasks"`
		TaskID   string                     `json:"taskId"`
		Secrets  MapSecrets                 `json:"secrets"`
		Env      MapValues                  `json:"env"`
	}
	if err := json.Unmarshal(context, &doc); err != nil {
		// The context may hold secret values: report only where it broke, never the text.
		var se *json.SyntaxError
		if ok := asSyntax(err, &se); ok {
			return nil, &Error{Offset: int(se.Offset), Msg: "malformed context document", Err: ErrBadDocument}
		}
		return nil, &Error{Offset: -1, Msg: "context document has the wrong shape (want an object with workflow, tasks, taskId, secrets, env)", Err: ErrBadDocument}
	}
	if len(doc.Workflow) == 0 || string(doc.Workflow) == "null" {
		doc.Workflow = json.RawMessage(`{}`)
	}
	return &DocEnv{workflow: doc.Workflow, tasks: doc.Tasks, taskID: doc.TaskID, secrets: doc.Secrets, env: doc.Env}, nil
}

func asSyntax(err error, target **json.SyntaxError) bool {
	se, ok := err.(*json.SyntaxError)
	if ok {
		*target = se
	}
	return ok
}

// Workflow implements Env.
func (d *DocEnv) Workflow() []byte { return d.workflow }

// Task implements Env.
func (d *DocEnv) Task(ref string) ([]byte, bool) {
	v, ok := d.tasks[ref]
	if !ok || string(v) == "null" {
		return nil, false
	}
	return v, true
}

// TaskID implements Env.
func (d *DocEnv) TaskID() string { return d.taskID }

// Secrets implements Env.
func (d *DocEnv) Secrets() SecretSource {
	if d.secrets == nil {
		return nil
	}
	return d.secrets
}

// EnvValues implements Env.
func (d *DocEnv) EnvValues() ValueSource {
	if d.env == nil {
		return nil
	}
	return d.env
}

var (
	_ Env          = (*DocEnv)(nil)
	_ SecretSource = MapSecrets(nil)
	_ ValueSource  = MapValues(nil)
)
