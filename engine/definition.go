package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/tasks"
	"github.com/wfrun/wfrun/tasks/eval"
)

// Task types the engine executes itself (control flow and waits). Every
// other type is looked up in the tasks.Registry.
const (
	TypeSimple      = "SIMPLE"
	TypeSwitch      = "SWITCH"
	TypeDecision    = "DECISION" // legacy SWITCH (caseValueParam / caseExpression)
	TypeDoWhile     = "DO_WHILE"
	TypeForkJoin    = "FORK_JOIN"
	TypeJoin        = "JOIN"
	TypeSubWorkflow = "SUB_WORKFLOW"
	TypeSetVariable = "SET_VARIABLE"
	TypeTerminate   = "TERMINATE"
	TypeWait        = "WAIT"
	TypeHuman       = "HUMAN"
	// TypeLambda is Conductor's legacy JavaScript task:
	// inputParameters.scriptExpression is a function body over $ (the input);
	// output {"result": ...}.
	TypeLambda = "LAMBDA"
	// TypeFork is the taskType of a FORK_JOIN's (and FORK_JOIN_DYNAMIC's)
	// record, as Conductor names it.
	TypeFork            = "FORK"
	TypeForkJoinDynamic = "FORK_JOIN_DYNAMIC"
	TypeDynamic         = "DYNAMIC"
	TypeStartWorkflow   = "START_WORKFLOW"
	TypeEvent           = "EVENT"
	// TypeExclusiveJoin ends a DECISION/SWITCH: its output is the output of
	// the first task of joinOn (else defaultExclusiveJoinTask) that ran.
	TypeExclusiveJoin = "EXCLUSIVE_JOIN"
)

var controlTypes = map[string]bool{
	TypeSimple: true, TypeSwitch: true, TypeDecision: true, TypeDoWhile: true, TypeForkJoin: true,
	TypeJoin: true, TypeSubWorkflow: true, TypeSetVariable: true, TypeTerminate: true,
	TypeWait: true, TypeHuman: true, TypeLambda: true, TypeForkJoinDynamic: true,
	TypeDynamic: true, TypeEvent: true, TypeStartWorkflow: true, TypeExclusiveJoin: true,
}

// defaultLeafTypes are accepted by ParseDefinition when no registry is given:
// the types tasks.NewDefaultRegistry provides.
var defaultLeafTypes = []string{"HTTP", "HTTP_POLL", "INLINE", "JSON_JQ_TRANSFORM", "UPDATE_SECRET", "NOOP"}

// Definition is a parsed, validated and compiled Conductor WorkflowDef.
// It is immutable after ParseDefinition and safe for concurrent runs.
type Definition struct {
	Name             string          `json:"name"`
	Description      string          `json:"description,omitempty"`
	Version          int             `json:"version"`
	Tasks            []*WorkflowTask `json:"tasks"`
	OutputParameters json.RawMessage `json:"outputParameters,omitempty"`
	InputTemplate    json.RawMessage `json:"inputTemplate,omitempty"`
	FailureWorkflow  string          `json:"failureWorkflow,omitempty"`
	// FailureWorkflowVersion picks the failure workflow's version (absent:
	// the latest).
	FailureWorkflowVersion int             `json:"failureWorkflowVersion,omitempty"`
	SchemaVersion          *int            `json:"schemaVersion,omitempty"`
	Restartable            *bool           `json:"restartable,omitempty"`
	TimeoutSeconds         int64           `json:"timeoutSeconds,omitempty"`
	TimeoutPolicy          string          `json:"timeoutPolicy,omitempty"`
	Variables              json.RawMessage `json:"variables,omitempty"`
	MaskedFields           []string        `json:"maskedFields,omitempty"`

	raw        []byte
	outputTmpl *interpolate.Template
	// fromRunData: built at run time from run data (a SUB_WORKFLOW's
	// workflowDefinition expression, START_WORKFLOW's workflowDef); its
	// runs store it through their secret boundary (protectDefinition).
	fromRunData bool
	refs        map[string]*WorkflowTask // every taskReferenceName, nested included
	// adHoc: each named task's ad-hoc definition (adHocTaskDef), built once
	// when the definition is validated and shared, read-only, by its runs.
	adHoc map[*WorkflowTask]*TaskDef
	// unknownRefs: references to no task where Conductor accepts them
	// (UnknownReferences).
	unknownRefs []Problem
}

// Raw returns the definition JSON as it was parsed.
func (d *Definition) Raw() []byte { return d.raw }

// Task returns the task configuration with a reference name (nested tasks
// included).
func (d *Definition) Task(ref string) (*WorkflowTask, bool) {
	t, ok := d.refs[ref]
	return t, ok
}

// WorkflowTask is one task configuration (Conductor WorkflowTask).
type WorkflowTask struct {
	Name              string          `json:"name"`
	TaskReferenceName string          `json:"taskReferenceName"`
	Type              string          `json:"type"`
	Description       string          `json:"description,omitempty"`
	InputParameters   json.RawMessage `json:"inputParameters,omitempty"`
	Optional          bool            `json:"optional,omitempty"`
	// Permissive: a failure of this task does not stop the run at once; the
	// tasks after it still run, and the run FAILS when it would complete
	// (a JOIN on it fails once its other tasks have ended), as in Conductor.
	Permissive        bool                       `json:"permissive,omitempty"`
	RetryCount        *int                       `json:"retryCount,omitempty"`
	RetryLogic        string                     `json:"retryLogic,omitempty"`
	RetryDelaySeconds *int                       `json:"retryDelaySeconds,omitempty"`
	StartDelay        int                        `json:"startDelay,omitempty"`
	TaskDefinition    *TaskDefinition            `json:"taskDefinition,omitempty"`
	DecisionCases     map[string][]*WorkflowTask `json:"decisionCases,omitempty"`
	DefaultCase       []*WorkflowTask            `json:"defaultCase,omitempty"`
	EvaluatorType     string                     `json:"evaluatorType,omitempty"`
	Expression        string                     `json:"expression,omitempty"`
	CaseValueParam    string                     `json:"caseValueParam,omitempty"`
	CaseExpression    string                     `json:"caseExpression,omitempty"`
	ForkTasks         [][]*WorkflowTask          `json:"forkTasks,omitempty"`
	JoinOn            []string                   `json:"joinOn,omitempty"`
	LoopCondition     string                     `json:"loopCondition,omitempty"`
	LoopOver          []*WorkflowTask            `json:"loopOver,omitempty"`
	Items             json.RawMessage            `json:"items,omitempty"`
	SubWorkflowParam  *SubWorkflowParam          `json:"subWorkflowParam,omitempty"`
	// FORK_JOIN_DYNAMIC: the input members holding the tasks to fork and
	// their inputs (the newer forkTaskName/forkTaskInputs form needs none).
	DynamicForkTasksParam          string `json:"dynamicForkTasksParam,omitempty"`
	DynamicForkTasksInputParamName string `json:"dynamicForkTasksInputParamName,omitempty"`
	// DynamicForkJoinTasksParam: Conductor's older FORK_JOIN_DYNAMIC form,
	// the input member holding {"dynamicTasks":[{taskName, referenceName,
	// type, input}]} (DynamicForkJoinTaskList), used when
	// dynamicForkTasksParam is not given.
	DynamicForkJoinTasksParam string `json:"dynamicForkJoinTasksParam,omitempty"`
	// DYNAMIC: the input member naming the task to run.
	DynamicTaskNameParam string `json:"dynamicTaskNameParam,omitempty"`
	// EVENT: where the task publishes ("conductor", "conductor:queue", ...).
	Sink string `json:"sink,omitempty"`
	// EXCLUSIVE_JOIN: the refs joined when none of joinOn ran, in order.
	DefaultExclusiveJoinTask []string `json:"defaultExclusiveJoinTask,omitempty"`

	raw           json.RawMessage
	asyncComplete bool   // its asyncComplete (HTTP, EVENT), read once at parse
	loc           string // JSON pointer of this node in the definition
	input         *interpolate.Template
	items         *interpolate.Template
	program       eval.Program // SWITCH expression / DO_WHILE loopCondition
	evalType      string       // resolved evaluator type of program
	casesThrow    bool         // SWITCH/DECISION: mapping a case's first task may throw (casesMayThrow), set with program
	namesTaskID   bool         // SWITCH/DECISION: its inputParameters name CPEWF_TASK_ID (set at validation)
	subDef        *Definition  // inline subWorkflowParam.workflowDefinition
	// mapErr: where Conductor's registration does not check the task
	// (beanValidated), what its mapping throws at run time: the run
	// fails with it when the task is to be mapped, nothing of it
	// recorded (mapperthrow.go, mapFailure).
	mapErr string
	// sinkNull: an EVENT given no sink there (event.go, errNullSink).
	sinkNull bool
	// dynamicOf: the DYNAMIC task this task is the resolved task of
	// (dynamic.go), whose definition it takes.
	dynamicOf *WorkflowTask
	// mappedBy: for a task a FORK_JOIN_DYNAMIC forked, the task id of the
	// fork's record that mapped it: the definitions that mapping took are
	// found under it (taskdefsnap.go, mappedOverride).
	mappedBy string
	// subParams resolves a subWorkflowParam name/version given as
	// expressions ({"name":..,"version":..}).
	subParams *interpolate.Template
	// subExtra resolves the subWorkflowParam members wfrun shows without
	// acting on them (priority, taskToDomain, idempotencyKey).
	subExtra *interpolate.Template
	// subDefExpr resolves a subWorkflowParam.workflowDefinition given as an
	// expression ({"workflowDefinition":"${ref.output.def}"}): the
	// definition is what the expression reads when the task is scheduled.
	subDefExpr *interpolate.Template
	// sinkTmpl resolves an EVENT sink given as an expression ({"sink":..}).
	sinkTmpl *interpolate.Template
	// outputFilter is inputParameters.outputFilter, compiled (outputfilter.go).
	outputFilter *outputFilter
	// staticSecrets are the secret names the task reads or writes by name
	// (HTTP auth.secret, EXEC bundles, UPDATE_SECRET secretKey), checked
	// static at load (secretrules.go).
	staticSecrets []string
}

// UnmarshalJSON keeps the node's raw bytes: executors receive them as
// tasks.Request.Def.
func (t *WorkflowTask) UnmarshalJSON(b []byte) error {
	type plain WorkflowTask
	var p plain
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	*t = WorkflowTask(p)
	t.raw = append(json.RawMessage(nil), b...)
	if bytes.Contains(b, []byte(`"asyncComplete"`)) {
		// Read as it always was: a value that is not a bool is false.
		var c struct {
			AsyncComplete bool `json:"asyncComplete"`
		}
		_ = json.Unmarshal(b, &c)
		t.asyncComplete = c.AsyncComplete
	}
	return nil
}

// Location returns the task's JSON pointer in its definition.
func (t *WorkflowTask) Location() string { return t.loc }

// TaskDefinition is a task's inline taskDefinition: a whole TaskDef, which
// takes precedence over the registered one (WithTaskDefs).
type TaskDefinition = TaskDef

// SubWorkflowParam names the child workflow of a SUB_WORKFLOW task.
type SubWorkflowParam struct {
	Name               string          `json:"name,omitempty"`
	Version            int             `json:"version,omitempty"`
	WorkflowDefinition json.RawMessage `json:"workflowDefinition,omitempty"`
	// VersionExpr is a version given as an expression ("${workflow.input.v}");
	// Name may be one too. Both are resolved when the task runs.
	VersionExpr string `json:"-"`
	// Priority (0-99, or an expression), TaskToDomain, IdempotencyKey (may
	// be an expression) and IdempotencyStrategy (FAIL, RETURN_EXISTING,
	// FAIL_ON_RUNNING) are Conductor's: they show resolved in the
	// SUB_WORKFLOW record's inputData, as Conductor's SubWorkflowTaskMapper
	// writes it, and the child run gets them (childConfig, domains.go,
	// idempotency.go).
	Priority            json.RawMessage   `json:"priority,omitempty"`
	TaskToDomain        map[string]string `json:"taskToDomain,omitempty"`
	IdempotencyKey      string            `json:"idempotencyKey,omitempty"`
	IdempotencyStrategy string            `json:"idempotencyStrategy,omitempty"`
	// versionGiven: the definition gives a version as a number (0
	// included, Conductor's "the latest when the task starts"); without
	// one a static name is pinned to its latest version when the run
	// starts (subpin.go).
	versionGiven bool
}

// UnmarshalJSON accepts a version given as a number, a numeric string or an
// expression, as Conductor's SubWorkflowParams does.
func (p *SubWorkflowParam) UnmarshalJSON(b []byte) error {
	var raw struct {
		Name                string            `json:"name"`
		Version             json.RawMessage   `json:"version"`
		WorkflowDefinition  json.RawMessage   `json:"workflowDefinition"`
		Priority            json.RawMessage   `json:"priority"`
		TaskToDomain        map[string]string `json:"taskToDomain"`
		IdempotencyKey      string            `json:"idempotencyKey"`
		IdempotencyStrategy string            `json:"idempotencyStrategy"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	*p = SubWorkflowParam{Name: raw.Name, WorkflowDefinition: raw.WorkflowDefinition, TaskToDomain: raw.TaskToDomain,
		IdempotencyKey: raw.IdempotencyKey, IdempotencyStrategy: raw.IdempotencyStrategy}
	if pr := bytes.TrimSpace(raw.Priority); len(pr) > 0 && string(pr) != "null" {
		p.Priority = pr
	}
	v := bytes.TrimSpace(raw.Version)
	switch {
	case len(v) == 0 || string(v) == "null":
	case v[0] == '"':
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return err
		}
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil {
			p.Version, p.versionGiven = n, true
		} else if s != "" {
			p.VersionExpr = s
		}
	default:
		var n json.Number
		if err := json.Unmarshal(v, &n); err != nil {
			return fmt.Errorf("subWorkflowParam.version: %w", err)
		}
		i, err := n.Int64()
		if err != nil {
			return fmt.Errorf("subWorkflowParam.version %s is not an integer", n)
		}
		p.Version, p.versionGiven = int(i), true
	}
	return nil
}

// ParseOption configures ParseDefinition.
type ParseOption func(*parseConfig)

type parseConfig struct {
	registry *tasks.Registry
	workers  map[string]bool
	evalOpts []eval.Option
	// unregistered: a definition given at run time (resolved from a
	// SUB_WORKFLOW's workflowDefinition expression), which Conductor's
	// registration never checks (beanValidated).
	unregistered bool
}

// WithTaskRegistry makes ParseDefinition accept the task types of r (and
// run their Validators) instead of the default leaf types.
func WithTaskRegistry(r *tasks.Registry) ParseOption {
	return func(c *parseConfig) { c.registry = r }
}

// ParseDefinition parses, validates and compiles a workflow definition. All
// problems are reported at once in a *ValidationError (errors.Is
// ErrInvalidDefinition), each with its JSON pointer.
func ParseDefinition(b []byte, opts ...ParseOption) (*Definition, error) {
	var cfg parseConfig
	for _, o := range opts {
		o(&cfg)
	}
	return parseDefinition(b, "", &cfg)
}

func parseDefinition(b []byte, prefix string, cfg *parseConfig) (*Definition, error) {
	v := &validator{cfg: cfg, prefix: prefix}
	// A definition without a version is version 1, as Conductor's WorkflowDef
	// defaults it (the decoder leaves an absent member as it is).
	d := Definition{Version: 1}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&d); err != nil {
		v.add("", "%s", jsonErrorText(b, err))
		return nil, v.err()
	}
	if dec.More() {
		off := int(dec.InputOffset())
		l, c := lineCol(b, off)
		v.add("", "malformed JSON: unexpected data after the definition at line %d, column %d", l, c)
		return nil, v.err()
	}
	// Kept compact: the definition is embedded in every persisted run.
	var compact bytes.Buffer
	if json.Compact(&compact, b) == nil {
		d.raw = compact.Bytes()
	} else {
		d.raw = append([]byte(nil), b...)
	}
	v.definition(&d)
	if err := v.err(); err != nil {
		return nil, err
	}
	d.unknownRefs = v.unknownRefs
	return &d, nil
}

func jsonErrorText(b []byte, err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case asErr(err, &se) && strings.Contains(se.Error(), "max depth"):
		l, c := lineCol(b, int(se.Offset))
		return fmt.Sprintf("JSON nested too deeply at line %d, column %d (more than 10000 levels of arrays and objects)", l, c)
	case asErr(err, &se):
		l, c := lineCol(b, int(se.Offset))
		return fmt.Sprintf("malformed JSON at line %d, column %d: %v", l, c, se)
	case asErr(err, &te):
		l, c := lineCol(b, int(te.Offset))
		if te.Field == "" {
			return fmt.Sprintf("line %d, column %d: the document is a JSON %s; a workflow definition is a JSON object", l, c, te.Value)
		}
		return fmt.Sprintf("field %s at line %d, column %d: a JSON %s where a %s belongs", te.Field, l, c, te.Value, jsonKind(te.Type))
	case err.Error() == "EOF":
		return "malformed JSON: empty document"
	}
	return "malformed JSON: " + err.Error()
}

// jsonKind names the JSON kind that decodes into t, for error messages
// (not Go type names).
func jsonKind(t reflect.Type) string {
	if t == nil {
		return "value"
	}
	switch t.Kind() {
	case reflect.Struct, reflect.Map:
		return "JSON object"
	case reflect.Slice, reflect.Array:
		return "JSON array"
	case reflect.String:
		return "JSON string"
	case reflect.Bool:
		return "JSON boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8,
		reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "JSON number"
	case reflect.Pointer:
		return jsonKind(t.Elem())
	}
	return "value"
}

// lineCol converts a byte offset into 1-based line and column.
func lineCol(b []byte, off int) (int, int) {
	if off > len(b) {
		off = len(b)
	}
	line, col := 1, 1
	for _, c := range b[:off] {
		if c == '\n' {
			line++
			col = 1
		} else {
			col++
		}
	}
	return line, col
}

// pointerEscape escapes one JSON-pointer reference token (RFC 6901).
func pointerEscape(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

func itoa(i int) string { return strconv.Itoa(i) }
