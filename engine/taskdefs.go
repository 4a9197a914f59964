package engine

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/wfrun/wfrun/store"
)

// ErrInvalidTaskDef: a task definition that cannot be used (no name, an
// unknown retryLogic or timeoutPolicy, malformed JSON).
var ErrInvalidTaskDef = errors.New("invalid task definition")

// TaskDef is a Conductor task definition (TaskDef): the retry, timeout,
// input-default and limit settings of every task with its name. Pointer
// fields distinguish "absent" from zero: an absent field takes Conductor's
// default (see Effective).
type TaskDef struct {
	Name                 string `json:"name"`
	Description          string `json:"description,omitempty"`
	RetryCount           *int   `json:"retryCount,omitempty"`
	RetryLogic           string `json:"retryLogic,omitempty"`
	RetryDelaySeconds    *int   `json:"retryDelaySeconds,omitempty"`
	BackoffScaleFactor   *int   `json:"backoffScaleFactor,omitempty"`
	MaxRetryDelaySeconds int    `json:"maxRetryDelaySeconds,omitempty"`
	// BackoffJitterMs adds a random 0..BackoffJitterMs milliseconds to
	// each retry's delay (after the maxRetryDelaySeconds cap).
	BackoffJitterMs int64 `json:"backoffJitterMs,omitempty"`
	// TotalTimeoutSeconds bounds a task's attempts together: once that
	// long has passed since its first attempt was scheduled, a failure is
	// not retried (0: no bound).
	TotalTimeoutSeconds         int64           `json:"totalTimeoutSeconds,omitempty"`
	TimeoutSeconds              int64           `json:"timeoutSeconds,omitempty"`
	ResponseTimeoutSeconds      *int64          `json:"responseTimeoutSeconds,omitempty"`
	PollTimeoutSeconds          *int64          `json:"pollTimeoutSeconds,omitempty"`
	TimeoutPolicy               string          `json:"timeoutPolicy,omitempty"`
	InputTemplate               json.RawMessage `json:"inputTemplate,omitempty"`
	ConcurrentExecLimit         *int            `json:"concurrentExecLimit,omitempty"`
	RateLimitPerFrequency       *int            `json:"rateLimitPerFrequency,omitempty"`
	RateLimitFrequencyInSeconds *int            `json:"rateLimitFrequencyInSeconds,omitempty"`
	InputKeys                   []string        `json:"inputKeys,omitempty"`
	OutputKeys                  []string        `json:"outputKeys,omitempty"`
	OwnerEmail                  string          `json:"ownerEmail,omitempty"`
	// RuntimeMetadata names the secrets and env values the workers of the
	// task get resolved when they poll it (runtimemeta.go).
	RuntimeMetadata []string `json:"runtimeMetadata,omitempty"`
	// IsolationGroupID and ExecutionNameSpace are recorded on the task
	// records of the types Conductor's mappers copy them to (isolation.go).
	IsolationGroupID   string `json:"isolationGroupId,omitempty"`
	ExecutionNameSpace string `json:"executionNameSpace,omitempty"`

	// adHoc: made for a task that has no definition (adHocTaskDef), not
	// registered or written inline.
	adHoc bool
}

// AdHoc reports whether d is the definition a run made for a task of its
// definition that has neither an inline nor a registered one (as
// Conductor's MetadataMapperService does when the run starts), rather than
// one registered or written inline.
func (d *TaskDef) AdHoc() bool { return d != nil && d.adHoc }

// adHocTaskDef is the definition a task of a run's definition gets when it
// has neither an inline nor a registered one, as Conductor's
// MetadataMapperService populates it when the run starts: new
// TaskDef(name) — retryCount 3, retried FIXED after 60 s,
// responseTimeoutSeconds 3600, timeoutPolicy TIME_OUT_WF, no timeoutSeconds
// — for a SIMPLE task, and for any other type the same with retryCount 0
// and responseTimeoutSeconds 0 (a system task is not retried or timed out
// unless the task's own retryCount says so).
func adHocTaskDef(wt *WorkflowTask) *TaskDef {
	retries, response := 3, int64(3600)
	if wt.Type != TypeSimple {
		retries, response = 0, 0
	}
	delay := 60
	return &TaskDef{Name: wt.Name, RetryCount: &retries, RetryLogic: "FIXED", RetryDelaySeconds: &delay,
		ResponseTimeoutSeconds: &response, TimeoutPolicy: TimeoutWorkflow, adHoc: true}
}

// Timeout policies of task definitions (RETRY, TIME_OUT_WF, ALERT_ONLY);
// workflows accept TIME_OUT_WF and ALERT_ONLY.
const (
	TimeoutRetry     = "RETRY"
	TimeoutWorkflow  = "TIME_OUT_WF"
	TimeoutAlertOnly = "ALERT_ONLY"
)

// Validate reports the first problem of d, or nil.
func (d *TaskDef) Validate() error {
	switch {
	case d == nil:
		return fmt.Errorf("%w: null", ErrInvalidTaskDef)
	case strings.TrimSpace(d.Name) == "":
		return fmt.Errorf("%w: missing name", ErrInvalidTaskDef)
	}
	if err := checkRetryLogic(d.RetryLogic); err != nil {
		return fmt.Errorf("%w %q: %v", ErrInvalidTaskDef, d.Name, err)
	}
	switch strings.ToUpper(d.TimeoutPolicy) {
	case "", TimeoutRetry, TimeoutWorkflow, TimeoutAlertOnly:
	default:
		return fmt.Errorf("%w %q: unknown timeoutPolicy %q (want RETRY, TIME_OUT_WF or ALERT_ONLY)", ErrInvalidTaskDef, d.Name, d.TimeoutPolicy)
	}
	if d.RetryCount != nil && *d.RetryCount < 0 {
		return fmt.Errorf("%w %q: retryCount must not be negative", ErrInvalidTaskDef, d.Name)
	}
	if d.TotalTimeoutSeconds < 0 {
		return fmt.Errorf("%w %q: totalTimeoutSeconds must not be negative", ErrInvalidTaskDef, d.Name)
	}
	if d.BackoffJitterMs < 0 {
		return fmt.Errorf("%w %q: backoffJitterMs must not be negative", ErrInvalidTaskDef, d.Name)
	}
	if it := bytes.TrimSpace(d.InputTemplate); len(it) > 0 && string(it) != "null" && it[0] != '{' {
		return fmt.Errorf("%w %q: inputTemplate must be a JSON object", ErrInvalidTaskDef, d.Name)
	}
	for i, name := range d.RuntimeMetadata {
		if err := store.ValidateName(name); err != nil {
			return fmt.Errorf("%w %q: runtimeMetadata[%d]: %v", ErrInvalidTaskDef, d.Name, i, err)
		}
	}
	return nil
}

func checkRetryLogic(logic string) error {
	switch strings.ToUpper(logic) {
	case "", "FIXED", "EXPONENTIAL_BACKOFF", "LINEAR_BACKOFF":
		return nil
	}
	return fmt.Errorf("unknown retryLogic %q (want FIXED, EXPONENTIAL_BACKOFF or LINEAR_BACKOFF)", logic)
}

// TaskDefSource gives the registered definition of a task name. A run
// reads the definitions of its tasks when it starts and keeps them, as
// Conductor does (taskdefsnap.go): a source that changes (a server's
// metadata API) takes effect for the runs started afterwards, for restarts
// with useLatestDefinitions, and for the tasks a DYNAMIC or
// FORK_JOIN_DYNAMIC task names at run time.
type TaskDefSource interface {
	TaskDef(name string) (*TaskDef, bool)
}

// WithTaskDefs sets where task definitions are looked up (by task name). A
// task's inline taskDefinition takes precedence, as in Conductor.
func WithTaskDefs(src TaskDefSource) Option { return func(e *Engine) { e.taskDefs = src } }

// TaskDefs is an in-memory, concurrency-safe TaskDefSource.
type TaskDefs struct {
	mu   sync.RWMutex
	defs map[string]*TaskDef
}

var _ TaskDefSource = (*TaskDefs)(nil)

// NewTaskDefs returns an empty registry.
func NewTaskDefs() *TaskDefs { return &TaskDefs{defs: map[string]*TaskDef{}} }

// TaskDef returns the definition registered under name.
func (t *TaskDefs) TaskDef(name string) (*TaskDef, bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	d, ok := t.defs[name]
	return d, ok
}

// Put registers (or replaces) definitions after validating each.
func (t *TaskDefs) Put(defs ...*TaskDef) error {
	for _, d := range defs {
		if err := d.Validate(); err != nil {
			return err
		}
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, d := range defs {
		c := *d
		t.defs[d.Name] = &c
	}
	return nil
}

// Delete removes a definition; it reports whether one was registered.
func (t *TaskDefs) Delete(name string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, ok := t.defs[name]
	delete(t.defs, name)
	return ok
}

// All returns the registered definitions sorted by name.
func (t *TaskDefs) All() []*TaskDef {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]*TaskDef, 0, len(t.defs))
	for _, d := range t.defs {
		out = append(out, d)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// ParseTaskDefs reads a JSON document holding one task definition (an object
// with "name" and no "tasks") or a list of them (as Conductor's
// POST /metadata/taskdefs takes). A workflow definition (an object with
// "tasks") gives no task definitions and no error.
func ParseTaskDefs(b []byte) ([]*TaskDef, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty document", ErrInvalidTaskDef)
	}
	var list []*TaskDef
	switch b[0] {
	case '[':
		if err := json.Unmarshal(b, &list); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidTaskDef, err)
		}
	case '{':
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(b, &probe); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidTaskDef, err)
		}
		if _, wf := probe["tasks"]; wf {
			return nil, nil
		}
		var d TaskDef
		if err := json.Unmarshal(b, &d); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalidTaskDef, err)
		}
		list = []*TaskDef{&d}
	default:
		return nil, fmt.Errorf("%w: want a JSON object or array", ErrInvalidTaskDef)
	}
	for i, d := range list {
		if err := d.Validate(); err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
	}
	return list, nil
}

// LoadDir registers the task definitions of every *.json file in dir (one
// definition or a list per file). Workflow definitions in the same
// directory are skipped, so a definitions directory can hold both. A file
// that cannot be read or parsed is an error naming it.
func (t *TaskDefs) LoadDir(dir string) error {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("task definitions: %w", err)
		}
		if !looksLikeTaskDefs(b) {
			continue
		}
		defs, err := ParseTaskDefs(b)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
		if err := t.Put(defs...); err != nil {
			return fmt.Errorf("%s: %w", f, err)
		}
	}
	return nil
}

// looksLikeTaskDefs: a list of objects with "name", or an object with "name"
// and no "tasks" (a workflow). Anything else in a definitions directory
// (inputs, outputs) is not a task definition file.
func looksLikeTaskDefs(b []byte) bool {
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return false
	}
	switch b[0] {
	case '{':
		var probe map[string]json.RawMessage
		if json.Unmarshal(b, &probe) != nil {
			return false
		}
		_, name := probe["name"]
		_, wf := probe["tasks"]
		_, tl := probe["timeoutSeconds"]
		_, rc := probe["retryCount"]
		_, rt := probe["responseTimeoutSeconds"]
		return name && !wf && (tl || rc || rt || probe["ownerEmail"] != nil || probe["inputTemplate"] != nil || probe["retryLogic"] != nil || probe["runtimeMetadata"] != nil)
	case '[':
		var probe []map[string]json.RawMessage
		if json.Unmarshal(b, &probe) != nil || len(probe) == 0 {
			return false
		}
		for _, p := range probe {
			if _, ok := p["name"]; !ok {
				return false
			}
			if _, wf := p["tasks"]; wf {
				return false
			}
		}
		return true
	}
	return false
}

// taskPolicy is a task's effective settings: the definition (inline or
// registered) with Conductor's defaults, and the task-level overrides.
type taskPolicy struct {
	def             *TaskDef // the definition they come from (nil: none)
	adHoc           bool     // def is the run's ad-hoc one (adHocTaskDef)
	retryCount      int
	retryLogic      string
	retryDelay      int
	scale           int
	maxDelay        int
	jitterMs        int64 // backoffJitterMs
	totalTimeout    int64 // totalTimeoutSeconds
	timeout         int64
	responseTimeout int64
	pollTimeout     int64 // remote tasks: SCHEDULED longer than this times out
	timeoutPolicy   string
	inputTemplate   json.RawMessage
	concurrentLimit int
	ratePerFreq     int
	rateFreqSeconds int
	defName         string
	runtimeMetadata []string // names resolved for the worker that polls the task
	isolationGroup  string   // the definition's isolationGroupId (isolation.go)
	executionNS     string   // the definition's executionNameSpace
}

// hasDef reports whether the settings come from a task definition.
func (p taskPolicy) hasDef() bool { return p.def != nil }

// localResponseTimeout is the response timeout (seconds, 0: none) of an
// attempt run in this process (a worker function, a system task): none
// for a WAIT, HUMAN or asynchronously completed task, and none from the
// ad-hoc definition, whose 3600 s bound an unanswered remote worker
// (remoteResponseTimeout), not a local worker that runs as long as it
// runs.
func (p taskPolicy) localResponseTimeout(waits bool) int64 {
	if waits || p.adHoc {
		return 0
	}
	return p.responseTimeout
}

// policy returns the effective settings of wt. Conductor uses the inline
// taskDefinition, else the registered definition of the task's name; each
// absent field takes TaskDef's default (retryCount 3, retryDelaySeconds 60,
// FIXED, responseTimeoutSeconds 3600, TIME_OUT_WF); the task-level
// retryCount overrides the definition's. A task a run's definition holds
// that has neither gets the run's ad-hoc one (runState.policy), and a
// DYNAMIC task's resolved task the DYNAMIC task's; a task a dynamic fork
// made without any definition is never retried, whatever its own
// retryCount says:
// Conductor's DeciderService.retry expects 0 retries when it finds no
// TaskDef.
func (e *Engine) policy(wt *WorkflowTask) taskPolicy {
	td := wt.TaskDefinition
	if td == nil && e.taskDefs != nil {
		if d, ok := e.taskDefs.TaskDef(wt.Name); ok {
			td = d
		}
	}
	return policyOf(wt, td)
}

// policyOf is wt's effective settings with td its definition (nil: none).
func policyOf(wt *WorkflowTask, td *TaskDef) taskPolicy {
	p := taskPolicy{scale: 1, retryLogic: "FIXED", defName: wt.Name}
	if td != nil {
		p.def, p.adHoc = td, td.adHoc
		p.isolationGroup, p.executionNS = td.IsolationGroupID, td.ExecutionNameSpace
		p.retryCount, p.retryDelay, p.responseTimeout, p.timeoutPolicy = 3, 60, 3600, TimeoutWorkflow
		if td.RetryCount != nil {
			p.retryCount = *td.RetryCount
		}
		if td.RetryLogic != "" {
			p.retryLogic = strings.ToUpper(td.RetryLogic)
		}
		if td.RetryDelaySeconds != nil {
			p.retryDelay = *td.RetryDelaySeconds
		}
		if td.BackoffScaleFactor != nil && *td.BackoffScaleFactor > 0 {
			p.scale = *td.BackoffScaleFactor
		}
		p.maxDelay, p.jitterMs, p.totalTimeout = td.MaxRetryDelaySeconds, td.BackoffJitterMs, td.TotalTimeoutSeconds
		p.timeout = td.TimeoutSeconds
		if td.ResponseTimeoutSeconds != nil {
			p.responseTimeout = *td.ResponseTimeoutSeconds
		}
		if td.PollTimeoutSeconds != nil {
			p.pollTimeout = *td.PollTimeoutSeconds
		}
		if td.TimeoutPolicy != "" {
			p.timeoutPolicy = strings.ToUpper(td.TimeoutPolicy)
		}
		if it := bytes.TrimSpace(td.InputTemplate); len(it) > 2 && it[0] == '{' {
			p.inputTemplate = it
		}
		if td.ConcurrentExecLimit != nil {
			p.concurrentLimit = *td.ConcurrentExecLimit
		}
		// TaskDef's getters: rateLimitPerFrequency is 0 and
		// rateLimitFrequencyInSeconds 1 when absent (a limit per second).
		p.rateFreqSeconds = 1
		if td.RateLimitPerFrequency != nil {
			p.ratePerFreq = *td.RateLimitPerFrequency
		}
		if td.RateLimitFrequencyInSeconds != nil {
			p.rateFreqSeconds = *td.RateLimitFrequencyInSeconds
		}
		p.runtimeMetadata = td.RuntimeMetadata
	}
	// Task-level settings override the definition (WorkflowTask.retryCount).
	if !p.hasDef() {
		return p
	}
	if wt.RetryCount != nil {
		p.retryCount = *wt.RetryCount
	}
	if wt.RetryLogic != "" {
		p.retryLogic = strings.ToUpper(wt.RetryLogic)
	}
	if wt.RetryDelaySeconds != nil {
		p.retryDelay = *wt.RetryDelaySeconds
	}
	if p.retryCount < 0 {
		p.retryCount = 0
	}
	if p.retryDelay < 0 {
		p.retryDelay = 0
	}
	return p
}
