package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tidwall/sjson"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/masking"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/store/seal"
	"github.com/wfrun/wfrun/tasks"
)

// Sentinel errors.
var (
	// ErrInterrupted: the context was cancelled while the run was active; the
	// run stays RUNNING in the store and can be resumed.
	ErrInterrupted = errors.New("run interrupted")
	// ErrNotRunning: resume/complete of a run that is not RUNNING.
	ErrNotRunning = errors.New("run is not running")
	// ErrStillRunning: restart of a run that has not ended.
	ErrStillRunning = errors.New("run has not ended")
	// ErrArchivedSecrets: restart of an archived run whose remaining tasks need
	// `_secrets` data that archiving replaced by "***".
	ErrArchivedSecrets = errors.New("run needs archived _secrets data")
	// ErrNotWaiting: external completion of a task that does not wait for one.
	ErrNotWaiting = errors.New("task is not waiting for completion")
	// ErrBadCompletion: an external completion with a status or an output
	// the engine does not take.
	ErrBadCompletion = errors.New("bad task completion")
	// ErrDefinitionNotFound: a SUB_WORKFLOW / failureWorkflow name that is not
	// in the definitions directory.
	ErrDefinitionNotFound = errors.New("workflow definition not found")
)

// WorkerFunc handles a SIMPLE task: it receives the resolved task input
// (transient: secrets in clear) and returns the task output JSON object.
// runsecrets.FromContext(ctx) is the run's secret boundary: text a worker
// cuts (its stderr, say) must be masked through it first.
type WorkerFunc func(ctx context.Context, input json.RawMessage) (json.RawMessage, error)

// SecretSourceFunc gives the secret source of a run, from who runs it and in
// which (project, environment) scope. The CLI returns a store.RunView.
type SecretSourceFunc func(p Principal, project, environment string) interpolate.SecretSource

// Event is one progress notification. Reason is already masked.
type Event struct {
	Kind         string // EventWorkflow, EventTask, EventWaiting or EventRetry
	RunID        string
	WorkflowType string
	TaskRef      string
	TaskType     string
	TaskID       string
	Status       string
	Reason       string
	Time         time.Time
}

// Event kinds.
const (
	EventWorkflow = "workflow"
	EventTask     = "task"
	// EventWaiting: a WAIT/HUMAN task waits; Reason says for what.
	EventWaiting = "waiting"
	// EventRetry: a task's attempt ended unsuccessfully and the task is
	// retried; Reason says when ("retrying in 60s (retry 1 of 3)").
	EventRetry = "retry"
)

// Engine executes workflow definitions. It is safe for concurrent use; each
// run has its own state.
type Engine struct {
	runs     runstore.Store
	registry *tasks.Registry
	keyring  *seal.Keyring
	// ownKey: the keyring was made at New (no WithKeyring).
	ownKey bool
	// unsealedHeads: runs whose head carries no seal are believed
	// (WithUnsealedHeads).
	unsealedHeads bool
	// angleForWorkers: remote workers' tasks keep `$<…>` (WithAngleForWorkers).
	angleForWorkers bool
	secrets         SecretSourceFunc
	envValues       interpolate.ValueSource
	workers         map[string]WorkerFunc
	defsDir         string
	// defsIdx: by definitions directory, the name and version of each
	// of its files (defindex.go).
	defsIdx      sync.Map
	events       func(Event)
	httpClient   *http.Client
	pollInterval time.Duration
	maxLoop      int
	maxVarsKB    int64 // SET_VARIABLE's limit on the variables' size, in KiB
	// owner names this engine in the leases of the runs it executes.
	owner    string
	leaseTTL time.Duration
	remote   RemoteWorkerFunc
	// remoteLimits: the RemoteWorkerFunc enforces the limits of the tasks
	// it hands out (WithRemoteLimits).
	remoteLimits bool
	// remoteDelays: the RemoteWorkerFunc holds a task back until its
	// OfferAt (WithRemoteDelays, remote_delay.go).
	remoteDelays bool
	clock        Clock
	taskDefs     TaskDefSource
	limits       *taskLimits
	templates    sync.Map // templateKey → *templateEntry
	eventSink    map[string]EventSink
	dynTasks     sync.Map // dynamicKey → *WorkflowTask (dynamic.go)
	dynTaskCount atomic.Int64
	// updateSeq is the last sequence updateSignalKey gave
	// (subworkflow_update.go).
	updateSeq atomic.Int64
	// bg executes the runs the engine starts on its own (background.go).
	bg background
	// beforeExecute, set by tests only, is called as an execution of a
	// run begins, before anything of it is looked at.
	beforeExecute func(id string)
	// vis writes the records of tasks that keep running (visible.go).
	vis visibility
	// active are the runs this engine executes now (their lease is this
	// engine's, so the store alone cannot tell them from a lease to renew).
	activeMu sync.Mutex
	active   map[string]*runState
	// outside counts Pause and Terminate changing a run here that no
	// process executes (leasewindow.go).
	outside outsideOps
	// lastPoll and idem: domains.go, idempotency.go.
	lastPoll LastPollFunc
	idem     localKeys
	// signalNotify tells other processes of a stored signal (signalnudge.go).
	signalNotify func(ctx context.Context, runID string)
	// written is told of each write of a run this engine executes
	// (WithWritten).
	written func(runID string)
	// skipRecorded (tests: SetSkipRecorded) is told of each skip SkipTask
	// records itself, once its record is in the run and before the
	// record is written (skip.go).
	skipRecorded func(runID, ref string)
	// processMasker learns every value a run of this engine registers
	// (WithProcessMasker).
	processMasker *masking.Masker
	// maskerLog gets the runs' maskers' warnings (WithMaskerLogger).
	maskerLog *slog.Logger
}

// Option configures New.
type Option func(*Engine)

// WithRunStore sets where runs are persisted (default: in memory).
func WithRunStore(s runstore.Store) Option { return func(e *Engine) { e.runs = s } }

// WithRegistry sets the leaf task executors (HTTP, INLINE, ...); default: an empty registry.
func WithRegistry(r *tasks.Registry) Option { return func(e *Engine) { e.registry = r } }

// WithKeyring sets the keyring that seals `_secrets` subtrees in stored runs.
// Without one, a random per-Engine key is used: runs then cannot be resumed
// by another process.
func WithKeyring(k *seal.Keyring) Option { return func(e *Engine) { e.keyring = k } }

// WithUnsealedHeads makes the engine believe a stored run whose head
// carries no seal (a run stored by a wfrun before heads were sealed,
// headseal.go) instead of refusing it; the run's next write seals its head.
// It is for the one resume of such runs after an upgrade, on a run store
// nobody else can write: a head stripped of its seal is believed too.
func WithUnsealedHeads() Option { return func(e *Engine) { e.unsealedHeads = true } }

// WithProcessMasker makes every value a run of this engine registers with
// its masker (resolved secrets, `_secrets` leaves, both sides of an
// UPDATE_SECRET, HTTP auth and EXEC bundle values, values read back when a
// run resumes, a child run's) also registered with m
// (runsecrets.AlsoRegisterWith): an embedder masks its own log lines with
// it. Build m with masking.WithLogger(nil): the run's masker already warns
// about a value too short to mask. m learns the values of every run,
// whoever started it: use it for text no client sees (logs), not to mask
// what one principal is answered (it would tell which text is a value of
// another principal's run).
func WithProcessMasker(m *masking.Masker) Option { return func(e *Engine) { e.processMasker = m } }

// WithMaskerLogger sets where the maskers of the engine's runs warn about
// a value too short to mask (the warning names its length, never the
// value); default slog.Default(). A server gives its own log.
func WithMaskerLogger(l *slog.Logger) Option { return func(e *Engine) { e.maskerLog = l } }

// newRunSecrets is runsecrets.New with the engine's keyring and its
// process masker: every secret boundary the engine builds for a run goes
// through it.
func (e *Engine) newRunSecrets(id string, src runsecrets.Source, opts ...runsecrets.Option) (*runsecrets.Run, error) {
	if e.processMasker != nil {
		opts = append(opts, runsecrets.AlsoRegisterWith(e.processMasker))
	}
	if e.maskerLog != nil {
		opts = append(opts, runsecrets.WithMaskerOptions(masking.WithLogger(e.maskerLog)))
	}
	return runsecrets.New(id, src, e.keyring, opts...)
}

// WithSecrets sets how a run resolves ${workflow.secrets.*}.
func WithSecrets(f SecretSourceFunc) Option { return func(e *Engine) { e.secrets = f } }

// WithEnvValues sets the source of ${workflow.env.*}.
func WithEnvValues(v interpolate.ValueSource) Option { return func(e *Engine) { e.envValues = v } }

// WithWorker registers the handler of SIMPLE tasks named name.
func WithWorker(name string, fn WorkerFunc) Option {
	return func(e *Engine) { e.workers[name] = fn }
}

// RemoteTask is a SIMPLE task handed to a RemoteWorkerFunc. It holds no
// secret value: what the worker that takes it gets — its input with
// `${workflow.secrets.*}` resolved, and its definition's runtimeMetadata
// values — comes from Resolve, called when a worker takes the task.
type RemoteTask struct {
	RunID, WorkflowType, CorrelationID string
	WorkflowVersion                    int
	TaskID, Ref, Name                  string
	RetryCount, Iteration              int
	// Seq is the task record's place in its run (Conductor's seq).
	Seq int
	// RetriedTaskID is the id of the attempt this one retries ("" for a
	// first attempt), as Conductor's Task shows it.
	RetriedTaskID string
	// StartDelay is the Task's startDelayInSeconds: a retry's delay in
	// whole seconds, as Conductor's DeciderService.retry sets it (0 for a
	// retry without delay), the one of the attempt it retries for a retry
	// of the run, else the workflow task's startDelay (SimpleTaskMapper).
	StartDelay int64
	// Def is the task's entry in the workflow definition (its JSON).
	Def json.RawMessage
	// TaskDef is the task definition the run applies to the task (its
	// inline one, else the one the run started with, else the one
	// registered when it was scheduled; nil: none), as Conductor's Task
	// carries its WorkflowTask's taskDefinition.
	TaskDef *TaskDef
	// ResponseTimeout is how long a worker that polled the task may stay
	// silent before the attempt times out (see Polled).
	ResponseTimeout time.Duration
	// Domain is the queue domain the task was scheduled in ("": none);
	// Priority its run's priority (domains.go).
	Domain   string
	Priority int
	// RateLimitPerFrequency and RateLimitFrequencyInSeconds are the
	// definition's, as the task's record shows them (isolation.go);
	// ConcurrentExecLimit is the definition's concurrentExecLimit (0: none).
	// See WithRemoteLimits.
	RateLimitPerFrequency, RateLimitFrequencyInSeconds int
	ConcurrentExecLimit                                int
	// OfferAt is when the task may first be handed to a worker's poll
	// (zero: at once): a retry waiting its retryDelaySeconds, or a first
	// attempt its startDelay. Set only under WithRemoteDelays.
	OfferAt time.Time

	att  *remoteAttempt // the attempt's clocks (Polled, Progress)
	hand *handoff       // what Resolve resolves
}

// RemoteWorkerFunc runs a SIMPLE task for which no WithWorker handler is
// registered (wfrun serve hands it to workers polling the Conductor API).
// Its result goes through the same path as any task's: the output is
// masked and its `_secrets` sealed before it is stored.
type RemoteWorkerFunc func(ctx context.Context, t RemoteTask) tasks.Result

// WithRemoteWorker sets the handler of SIMPLE tasks that have no WithWorker handler.
func WithRemoteWorker(fn RemoteWorkerFunc) Option { return func(e *Engine) { e.remote = fn } }

// WithAngleForWorkers makes every task handed to the remote worker
// (WithRemoteWorker) keep `$<…>` in its input as written, whichever
// definition the task comes from (registered, an inline sub-workflow or
// START_WORKFLOW definition, a DYNAMIC task, a task definition's
// inputTemplate): the worker resolves it from its own store (SPEC §1), and
// this engine reads no secret for it. `${…}` resolves as always.
func WithAngleForWorkers() Option { return func(e *Engine) { e.angleForWorkers = true } }

// WithRemoteLimits says the RemoteWorkerFunc enforces the task
// definitions' concurrentExecLimit and rateLimitPerFrequency for the tasks
// it hands out, when a worker polls them (RemoteTask.ConcurrentExecLimit,
// RateLimitPerFrequency, RateLimitFrequencyInSeconds), as Conductor's
// ExecutionService.poll does: a remote task is then not held back by the
// engine's own limits (limits.go), which count from its scheduling, in this
// process only.
func WithRemoteLimits() Option { return func(e *Engine) { e.remoteLimits = true } }

// WithDefinitionsDir sets the directory SUB_WORKFLOW and failureWorkflow
// names are looked up in (files *.json whose "name" matches).
func WithDefinitionsDir(dir string) Option { return func(e *Engine) { e.defsDir = dir } }

// WithEvents sets the progress callback. It is called synchronously from
// the run's goroutines; keep it fast.
func WithEvents(fn func(Event)) Option { return func(e *Engine) { e.events = fn } }

// WithHTTPClient sets the client leaf tasks use (Services.HTTPClient); by
// default the tasks' own client is used.
func WithHTTPClient(c *http.Client) Option { return func(e *Engine) { e.httpClient = c } }

// WithPollInterval sets how often a waiting task checks for an external
// completion (default 250ms; zero or less keeps the default).
func WithPollInterval(d time.Duration) Option {
	return func(e *Engine) {
		if d > 0 {
			e.pollInterval = d
		}
	}
}

// WithMaxLoopIterations caps DO_WHILE iterations (default 10000).
func WithMaxLoopIterations(n int) Option { return func(e *Engine) { e.maxLoop = n } }

// WithMaxVariablesPayloadKB caps the size of a run's variables a
// SET_VARIABLE may leave, in kilobytes of 1024 bytes (default 256, as
// Conductor's maxWorkflowVariablesPayloadSizeThreshold). A SET_VARIABLE that
// would exceed it fails with FAILED_WITH_TERMINAL_ERROR and changes nothing.
// kb <= 0 keeps the default.
func WithMaxVariablesPayloadKB(kb int64) Option {
	return func(e *Engine) {
		if kb > 0 {
			e.maxVarsKB = kb
		}
	}
}

// WithLeaseTTL sets how long the lease of a run outlives a heartbeat of
// the process executing it (default 10s): after the process dies, another
// one may take the run over that much later.
func WithLeaseTTL(d time.Duration) Option { return func(e *Engine) { e.leaseTTL = d } }

// New returns an Engine.
func New(opts ...Option) (*Engine, error) {
	e := &Engine{workers: map[string]WorkerFunc{}, pollInterval: 250 * time.Millisecond, maxLoop: 10000,
		owner: newID(), leaseTTL: 10 * time.Second, active: map[string]*runState{}}
	for _, o := range opts {
		o(e)
	}
	if e.runs == nil {
		e.runs = runstore.NewMemory()
	}
	if e.clock == nil {
		e.clock = systemClock{}
	}
	e.limits = newTaskLimits()
	if e.registry == nil {
		e.registry = tasks.NewRegistry()
	}
	if e.keyring == nil {
		key := make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, err
		}
		k, err := seal.NewKeyring(key)
		if err != nil {
			return nil, err
		}
		e.keyring, e.ownKey = k, true
	}
	return e, nil
}

// Parse parses a definition accepting the engine's task types (its
// registry's types and the control-flow types).
func (e *Engine) Parse(b []byte) (*Definition, error) {
	return ParseDefinition(b, WithTaskRegistry(e.registry))
}

// RunOption configures Start.
type RunOption func(*runConfig)

type runConfig struct {
	principal      Principal
	project, env   string
	vars           map[string]json.RawMessage
	correlationID  string
	definitionPath string
	id             string
	// refInput, for a SUB_WORKFLOW child, is its input with the parent's
	// secret references kept: what the child stores as its input.
	refInput []byte
	// test makes the run a test run (mock.go).
	test *testRun
	// priority, taskToDomain and idempotencyKey: domains.go.
	priority       int
	taskToDomain   map[string]string
	idempotencyKey string
	// failureOf: the run is the failureWorkflow of run failureOf, which
	// it waits for (failure.go).
	failureOf string
}

// AsPrincipal sets who the run executes as (default: "local" with "*").
func AsPrincipal(p Principal) RunOption { return func(c *runConfig) { c.principal = p } }

// InScope sets the run's (project, environment) for secret resolution.
func InScope(project, environment string) RunOption {
	return func(c *runConfig) { c.project, c.env = project, environment }
}

// WithVariable sets an initial workflow variable (overrides the definition's).
func WithVariable(name string, value json.RawMessage) RunOption {
	return func(c *runConfig) {
		if c.vars == nil {
			c.vars = map[string]json.RawMessage{}
		}
		c.vars[name] = value
	}
}

// WithCorrelationID sets the run's correlationId.
func WithCorrelationID(id string) RunOption { return func(c *runConfig) { c.correlationID = id } }

// WithDefinitionPath records where the definition came from.
func WithDefinitionPath(p string) RunOption { return func(c *runConfig) { c.definitionPath = p } }

// WithRunID fixes the run id (default: a random UUID).
func WithRunID(id string) RunOption { return func(c *runConfig) { c.id = id } }

// Result is the outcome of a run.
type Result struct {
	RunID  string
	Status string
	// Output is the workflow output in its display form (masked values,
	// `_secrets` and maskedFields shown as "***").
	Output json.RawMessage
	Reason string
	// FailedTaskRef names the task that failed the run, if any.
	FailedTaskRef string
}

// LocalPrincipal is the CLI's principal: every secret.
var localPrincipal = Principal{Name: "local", Scopes: []string{"*"}}

// Start creates a run of def with input and executes it to its end (or until
// ctx is cancelled: ErrInterrupted, the run can be resumed).
func (e *Engine) Start(ctx context.Context, def *Definition, input json.RawMessage, opts ...RunOption) (*Result, error) {
	cfg := runConfig{principal: localPrincipal}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.test != nil {
		defer cfg.test.t.stop()
	}
	r, err := e.newRun(ctx, def, input, &cfg, "", "", nil)
	if err != nil {
		return nil, err
	}
	return r.execute(ctx)
}

func (e *Engine) newRun(ctx context.Context, def *Definition, input json.RawMessage, cfg *runConfig, parentID, parentTaskID string, parent *runsecrets.Run) (*runState, error) {
	if len(input) == 0 || string(input) == "null" {
		input = json.RawMessage("{}")
	}
	if input[0] != '{' {
		return nil, fmt.Errorf("workflow input must be a JSON object")
	}
	if cfg.id == "" {
		cfg.id = newID()
	} else if err := runstore.CheckRunID(cfg.id); err != nil {
		return nil, fmt.Errorf("start %s: %w", def.Name, err)
	}
	r := e.newState(def, cfg.id)
	r.test = cfg.test
	now := r.nowMillis()
	r.doc = runDoc{runHead: runHead{
		WorkflowID: cfg.id, WorkflowType: def.Name, Version: def.Version, Status: StatusRunning,
		CorrelationID: cfg.correlationID, CreateTime: now, UpdateTime: now,
		ParentWorkflowID: parentID, ParentWorkflowTaskID: parentTaskID, SchemaVersion: 2,
		MaskedFields: def.MaskedFields, DefinitionHash: defHash(def.raw),
		DefinitionPath: cfg.definitionPath, Principal: cfg.principal, Project: cfg.project, Environment: cfg.env,
		Priority: cfg.priority, TaskToDomain: cfg.taskToDomain, IdempotencyKey: cfg.idempotencyKey,
		FailureOf: cfg.failureOf,
	}, WorkflowDefinition: def.raw}
	if err := r.newSecrets(parent); err != nil {
		return nil, err
	}
	if err := r.snapshotTaskDefs(); err != nil { // taskdefsnap.go
		return nil, err
	}
	if err := r.keepMocks(); err != nil { // mock.go
		return nil, err
	}
	input = withInputTemplate(input, def.InputTemplate)
	if err := r.setInput(input); err != nil {
		return nil, err
	}
	if cfg.refInput != nil {
		if err := r.keepReferenceInput(input, cfg.refInput); err != nil {
			return nil, err
		}
	}
	vars, err := initialVariables(def, cfg.vars)
	if err != nil {
		return nil, err
	}
	if err := r.setVariables(vars); err != nil {
		return nil, err
	}
	// With every value the run holds before it stores anything (its
	// input's `_secrets`, a parent's values) and those its definition
	// names.
	if err := r.checkDefinitionValues(ctx); err != nil { // defvalues.go
		return nil, err
	}
	if err := r.protectDefinition(); err != nil { // subworkflow.go
		return nil, err
	}
	if err := r.save(ctx); err != nil {
		return nil, err
	}
	if cfg.failureOf == "" { // else once it may execute (failure.go)
		r.emit(Event{Kind: EventWorkflow, Status: StatusRunning})
	}
	return r, nil
}

func (e *Engine) newState(def *Definition, id string) *runState {
	return &runState{
		e: e, def: def, id: id, tag: runstore.RunTagBytes(id), events: e.events,
		byRef: map[string]*taskRecord{}, latest: map[string]*taskRecord{}, pending: map[string]signal{},
	}
}

func initialVariables(def *Definition, extra map[string]json.RawMessage) ([]byte, error) {
	vars := map[string]json.RawMessage{}
	if len(def.Variables) > 0 && string(def.Variables) != "null" {
		if err := json.Unmarshal(def.Variables, &vars); err != nil {
			return nil, fmt.Errorf("/variables: %w", err)
		}
	}
	for k, v := range extra {
		vars[k] = v
	}
	return json.Marshal(vars)
}

func (r *runState) setInput(input []byte) error {
	return r.setWorkflowMember(input, "/input", &r.doc.Input, &r.inStored)
}

func (r *runState) setVariables(vars []byte) error {
	return r.setWorkflowMember(vars, "/variables", &r.doc.Variables, &r.varStored)
}

func (r *runState) setOutput(out []byte) error {
	return r.setWorkflowMember(out, "/output", &r.doc.Output, &r.outStored)
}

// setWorkflowMember protects a workflow-level member (masked, _secrets
// sealed) and keeps its in-memory and stored forms; the cached workflow
// document expressions read is dropped.
func (r *runState) setWorkflowMember(data []byte, ptr string, mem *json.RawMessage, stored *[]byte) error {
	gen := r.sec.Generation()
	m, st, err := r.sec.Protect(data, ptr)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.rx.producedLocked(gen)
	*mem, *stored, r.wfDoc = m, st, nil
	switch ptr {
	case "/input":
		r.changedIn, r.inPlain = true, nil
	case "/variables":
		r.changedVars = true
	default:
		r.changedOut, r.failureRun = true, ""
	}
	r.mu.Unlock()
	return nil
}

// Resume continues a RUNNING run from its persisted state (after the process
// that ran it died): completed tasks are not executed again.
// A run that another live process executes is refused (runstore.ErrLeased,
// naming the holder).
func (e *Engine) Resume(ctx context.Context, id string) (*Result, error) {
	if err := e.awaitLetGo(ctx, id); err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	gen := e.outsideGen() // leasewindow.go
	if err := e.runs.AcquireLease(ctx, id, e.newLease(), e.leaseTTL); err != nil {
		return nil, fmt.Errorf("resume: %w", err)
	}
	r, err := e.load(ctx, id, false, nil)
	if err != nil {
		_ = e.runs.ReleaseLease(context.WithoutCancel(ctx), id, e.owner)
		return nil, err
	}
	r.lease.held, r.leaseGen = true, gen
	// What was delivered while no process ran it (completions, skips) is
	// known before the first task is looked at.
	_ = r.takeSignals(ctx)
	return r.execute(ctx)
}

// Restart runs an ended run again under the same id. By default it keeps the
// tasks that completed and re-executes from the failed ones (Conductor's
// retry); fromStart re-executes everything with the original input. An
// archived run whose re-execution needs `_secrets` data removed by archiving
// fails with ErrArchivedSecrets naming the JSON pointers. A COMPLETED run of
// a definition with "restartable": false is not restarted from the start
// (ErrNotRestartable), as in Conductor.
func (e *Engine) Restart(ctx context.Context, id string, fromStart bool) (*Result, error) {
	if fromStart {
		if err := e.checkRestartable(ctx, id); err != nil {
			return nil, err
		}
	}
	return e.restart(ctx, id, fromStart, "")
}

// Rerun runs an ended run again from one of its tasks, under the same id
// (Conductor's rerun with reRunFromTaskId): the tasks recorded before it are
// kept, it and every later record are dropped and scheduled again.
func (e *Engine) Rerun(ctx context.Context, id, fromTaskID string) (*Result, error) {
	return e.RerunWith(ctx, id, RerunOptions{FromTaskID: fromTaskID})
}

func (e *Engine) load(ctx context.Context, id string, allowArchived bool, parent *runsecrets.Run) (*runState, error) {
	doc, archived, err := e.runs.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	var d runDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("run %s: damaged document: %w", id, err)
	}
	if (archived && !allowArchived) || terminalWorkflow(d.Status) {
		return nil, fmt.Errorf("%w: run %s ended with status %s", ErrNotRunning, id, d.Status)
	}
	return e.loadDoc(ctx, id, doc, &d, parent)
}

// loadDoc rebuilds the in-memory state of a persisted run.
func (e *Engine) loadDoc(ctx context.Context, id string, doc []byte, d *runDoc, parent *runsecrets.Run) (*runState, error) {
	if err := e.checkHead(id, d); err != nil { // headseal.go
		return nil, err
	}
	if err := e.checkRecords(id, doc, d); err != nil { // recordseal.go
		return nil, err
	}
	def, err := e.parseStored(d.WorkflowDefinition) // subworkflow.go
	if err != nil {
		return nil, fmt.Errorf("run %s: stored definition: %w", id, err)
	}
	r := e.newState(def, id)
	r.doc = *d
	r.doc.Tasks = nil
	r.resumed = true
	if err := r.newSecrets(parent); err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	r.keepNamedIDs(d) // secrets.go
	if err := r.openDefinition(); err != nil {
		return nil, fmt.Errorf("run %s: stored definition: %w", id, err)
	}
	if err := r.openLog(ctx, d); err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	var errs []error
	unseal := func(b []byte, base string) []byte {
		out, err := r.sec.Unseal(b, base)
		if err != nil {
			errs = append(errs, err)
		}
		return out
	}
	r.inStored, r.varStored, r.outStored = d.Input, d.Variables, d.Output
	r.doc.Input = unseal(d.Input, "/input")
	if d.SealedInput != "" {
		in, plain, err := r.openSealedInput(d.SealedInput) // secrets.go
		if err != nil {
			errs = append(errs, err)
		} else {
			r.doc.Input, r.inPlain = in, plain
		}
	}
	if d.RerunTask != "" {
		if err := r.openRerunTask(d.RerunTask); err != nil {
			errs = append(errs, err)
		}
	}
	if d.ReopenFailure != "" {
		if err := r.openReopenFailure(d.ReopenFailure); err != nil {
			errs = append(errs, err)
		}
	}
	if d.TaskDefs != "" {
		if err := r.openTaskDefs(d.TaskDefs, d.TaskDefsMasked); err != nil {
			errs = append(errs, err)
		}
	}
	if d.Test || d.TestMocks != "" {
		if err := r.openMocks(d.TestMocks, r.doc.MocksUsed); err != nil {
			errs = append(errs, err)
		}
	}
	r.doc.Variables = unseal(d.Variables, "/variables")
	r.doc.Output = unseal(d.Output, "/output")
	for _, td := range d.Tasks {
		t := &taskRecord{
			TaskID: td.TaskID, Ref: td.ReferenceTaskName, TaskType: td.TaskType, TaskDefName: td.TaskDefName,
			Status: td.Status, RetryCount: td.RetryCount, Iteration: td.Iteration, Seq: td.Seq, Reason: deref(td.Reason),
			Scheduled: td.ScheduledTime, Start: td.StartTime, End: td.EndTime, WaitUntil: td.WaitUntil, Awaiting: td.Awaiting, Callback: td.Callback, Postponed: td.Postponed,
			SubWorkflowID: td.SubWorkflowID, RetriedTaskID: td.RetriedTaskID, Domain: td.Domain, inStored: td.InputData, outStored: td.OutputData,
			IsolationGroupID: td.IsolationGroupID, ExecutionNameSpace: td.ExecutionNameSpace,
			RateLimitPerFrequency: td.RateLimitPerFrequency, RateLimitFrequencyInSeconds: td.RateLimitFrequencyInSeconds,
			ResponseTimeoutSeconds: td.ResponseTimeoutSeconds, WorkerID: td.WorkerID, PollCount: td.PollCount, Updated: td.UpdateTime,
		}
		if td.StartDelay != nil {
			t.StartDelay, t.ZeroDelay = *td.StartDelay, *td.StartDelay == 0
		}
		if td.Reason != nil && *td.Reason == "" {
			t.EmptyReasonAt = t.Status // stored as given: "", not none
		}
		t.inMem = unseal(td.InputData, "/tasks/"+t.TaskID+"/inputData")
		t.outMem = unseal(td.OutputData, "/tasks/"+t.TaskID+"/outputData")
		t.BaseRef = baseRef(t.Ref)
		t.wt, _ = def.Task(t.BaseRef)
		r.tasks = append(r.tasks, t)
		r.byRef[t.Ref], r.latest[t.BaseRef] = t, t
		r.storedRefLocked(t) // refindex.go
	}
	r.keepRerunReason() // rerun.go
	if len(errs) > 0 {
		return nil, fmt.Errorf("run %s: %w", id, errors.Join(errs...))
	}
	return r, nil
}

// CompleteTask completes (or fails) a task that waits for an external
// completion (WAIT without duration/until, HUMAN) in a RUNNING run, or
// updates a SUB_WORKFLOW task (IN_PROGRESS too: subworkflow_update.go). It may be
// called from another process than the one running the workflow: the
// completion is stored as a signal and applied by the runner (or by the next
// Resume). ref may omit the DO_WHILE "__N" suffix. It returns the exact ref.
func (e *Engine) CompleteTask(ctx context.Context, runID, ref, status string, output json.RawMessage) (string, error) {
	return e.completeTask(ctx, runID, status, output, refMatch(ref))
}

// Completion is an external completion of a task (CompleteTaskWith).
type Completion struct {
	// Ref names the task (its latest record; the DO_WHILE "__N" suffix may
	// be omitted) when TaskID is empty.
	Ref string
	// TaskID, when set, completes that attempt only: never a retry that
	// replaced it.
	TaskID string
	// Status is COMPLETED (when empty), FAILED or FAILED_WITH_TERMINAL_ERROR;
	// IN_PROGRESS for a SUB_WORKFLOW task (subworkflow_update.go).
	Status string
	// Output is the task's output, a JSON object.
	Output json.RawMessage
	// Reason is the task's reasonForIncompletion, whatever the status
	// (masked as every reason is); EmptyReason says an empty Reason is
	// the empty text given as such (Conductor's "", not null).
	Reason      string
	EmptyReason bool
	// SubWorkflowID and CallbackAfterSeconds are those of Conductor's
	// TaskResult, which an update of a SUB_WORKFLOW task sets on it
	// (subworkflow_update.go): SubWorkflowID is empty or the task's own
	// child.
	SubWorkflowID        string
	CallbackAfterSeconds int64
}

// CompleteTaskWith is CompleteTask for a completion that names an attempt
// by id or carries a reason for incompletion. It returns the exact ref.
func (e *Engine) CompleteTaskWith(ctx context.Context, runID string, c Completion) (string, error) {
	// The reason whatever the status: Conductor's updateTask sets it on
	// a task it completes too.
	reason := givenReason{text: c.Reason, empty: c.EmptyReason && c.Reason == ""}
	sub := &subUpdate{id: c.SubWorkflowID, callback: c.CallbackAfterSeconds}
	if c.TaskID != "" {
		return e.completeTaskReason(ctx, runID, c.Status, c.Output, idMatch(c.TaskID), reason, sub)
	}
	return e.completeTaskReason(ctx, runID, c.Status, c.Output, refMatch(c.Ref), reason, sub)
}

// CompleteTaskStored is CompleteTaskWith for an update IN_PROGRESS (of a
// task waiting for its completion from outside, or of a SUB_WORKFLOW
// task), by its attempt's id, or by reference when c names no TaskID
// (as CompleteTask takes it: built from the pending task). It returns once
// the process executing the run (this one or another sharing the run
// store) stored the update, or the attempt or the run ended meanwhile
// (the update is not applied then), or ctx ended: the update then rests
// in the run store, applied when the runner takes it. It returns the
// exact ref and the id of the attempt the update is for.
func (e *Engine) CompleteTaskStored(ctx context.Context, runID string, c Completion) (ref, taskID string, err error) {
	if c.Status != TaskInProgress {
		return "", "", fmt.Errorf("%w: status: CompleteTaskStored takes IN_PROGRESS", ErrBadCompletion)
	}
	key := "update-" + newID()
	var seq int
	if c.TaskID != "" {
		sub := &subUpdate{id: c.SubWorkflowID, callback: c.CallbackAfterSeconds}
		ref, taskID, seq, err = e.storeUpdate(ctx, runID, c.Status, c.Output, idMatch(c.TaskID), givenReason{text: c.Reason, empty: c.EmptyReason && c.Reason == ""}, sub, key)
	} else {
		ref, taskID, seq, err = e.storeUpdate(ctx, runID, c.Status, c.Output, refMatch(c.Ref), givenReason{}, nil, key)
	}
	if err != nil {
		return "", "", err
	}
	err = e.awaitAnswer(ctx, runID, key, func(_ []byte, answered bool) (bool, error) {
		if answered {
			return true, nil
		}
		return e.attemptEnded(ctx, runID, taskID, seq)
	})
	if err != nil && ctx.Err() != nil {
		err = nil // stored for the runner, which answers nobody (answerwait.go)
	}
	return ref, taskID, err
}

// givenReason is the reasonForIncompletion an update gives: its text,
// and for an empty text whether it is the empty text given as such
// (Conductor's "") rather than none (null).
type givenReason struct {
	text  string
	empty bool
	// pending: the update is built from the pending task (Conductor's
	// TaskResult(pending), as its signal builds it), whose reason it
	// carries, "" kept apart from none.
	pending bool
}

// deref is *s, "" for nil.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// storedReason is a stored record's reasonForIncompletion as a signal
// carries it: its text, and whether it is the empty text given as such.
func storedReason(s *string) (text string, empty bool) {
	return deref(s), s != nil && *s == ""
}

// completeTask stores the completion of the latest record m names; by id
// the signal applies to that attempt only.
func (e *Engine) completeTask(ctx context.Context, runID, status string, output json.RawMessage, m taskMatch) (string, error) {
	return e.completeTaskReason(ctx, runID, status, output, m, givenReason{}, nil)
}

// completeTaskReason is completeTask with a reason for incompletion.
// sub, when given, carries what an update of a SUB_WORKFLOW task also says
// (Completion): such an update may say IN_PROGRESS.
func (e *Engine) completeTaskReason(ctx context.Context, runID, status string, output json.RawMessage, m taskMatch, reason givenReason, sub *subUpdate) (string, error) {
	ref, _, _, err := e.storeUpdate(ctx, runID, status, output, m, reason, sub, "")
	return ref, err
}

// storeUpdate is completeTaskReason; it also returns the id and seq of the
// attempt the update is for, and gives an update IN_PROGRESS answer (when
// not "") as the slot the runner answers in once it stored it.
func (e *Engine) storeUpdate(ctx context.Context, runID, status string, output json.RawMessage, m taskMatch, reason givenReason, sub *subUpdate, answer string) (string, string, int, error) {
	taskID := m.id
	// IN_PROGRESS is taken for a SUB_WORKFLOW task and a task waiting for
	// its completion from outside (subUpdate.check, once the task is
	// found), by id or by reference as Conductor's updateTask takes it.
	progress := status == TaskInProgress
	if progress {
		status = TaskCompleted // checked as a completion's, then restored
	}
	status, output, err := checkCompletion(status, output)
	if err != nil {
		return "", "", 0, err
	}
	if progress {
		status = TaskInProgress
	}
	runStatus, found, archived, err := e.updatedTask(ctx, runID, m)
	if err != nil {
		return "", "", 0, err
	}
	if archived || (runStatus != StatusRunning && runStatus != StatusPaused) {
		return "", "", 0, fmt.Errorf("%w: run %s is %s", ErrNotRunning, runID, runStatus)
	}
	if found == nil {
		return "", "", 0, fmt.Errorf("%w: run %s has no %s yet", ErrNotWaiting, runID, m.what())
	}
	if found.Status != TaskInProgress && found.Status != TaskScheduled {
		return "", "", 0, fmt.Errorf("%w: task %q is %s", ErrNotWaiting, found.ReferenceTaskName, found.Status)
	}
	// A SUB_WORKFLOW task is taken too, as Conductor's updateTask takes
	// it (subworkflow_update.go).
	if found.TaskType != TypeWait && found.TaskType != TypeHuman && found.TaskType != TypeSubWorkflow && !found.Awaiting {
		if e.workerTask(found) {
			return "", "", 0, fmt.Errorf("%w: task %q (%s) is not handed to a worker yet: try again", ErrNotWaiting, found.ReferenceTaskName, found.TaskType)
		}
		return "", "", 0, fmt.Errorf("%w: task %q is a %s task, completed by wfrun itself", ErrNotWaiting, found.ReferenceTaskName, found.TaskType)
	}
	// An update IN_PROGRESS by id of a task waiting for its completion
	// from outside (a WAIT, a HUMAN, an asyncComplete task) is stored as
	// Conductor's updateTask stores it on a system task: IN_PROGRESS, with
	// the update's output, reason and callbackAfterSeconds (waitProgress).
	// By reference (no attempt named, no SUB_WORKFLOW fields) too, as
	// Conductor's updateTask by reference builds the update from the
	// pending task: its callbackAfterSeconds and reason kept, its
	// output with the update's members over it.
	byRef := taskID == "" && sub == nil
	outside := progress && found.TaskType != TypeSubWorkflow && (taskID != "" && sub != nil || byRef) && !e.workerTask(found)
	if !outside {
		if err := sub.check(found, status, func(id string) bool { return e.ownChild(ctx, runID, found.TaskID, id) }); err != nil {
			return "", "", 0, err
		}
	}
	// Sealed now: the output rests in the run store until a runner takes
	// it, and may carry values (`_secrets`) the runner will protect.
	sec, err := e.newRunSecrets(runID, nil)
	if err != nil {
		return "", "", 0, err
	}
	sealed, err := sec.SealCompletion(found.ReferenceTaskName, output)
	if err != nil {
		return "", "", 0, err
	}
	sig := signal{Status: status, SealedOutput: sealed, TaskID: taskID, Reason: reason.text, EmptyReason: reason.empty}
	if reason.pending {
		sig.Reason, sig.EmptyReason = storedReason(found.Reason)
		sig.MergeOutput = true // its output under the signal's members
	}
	if progress {
		sig.Answer = answer
	}
	switch {
	case outside && byRef:
		sig.TaskID, sig.Callback, sig.MergeOutput = found.TaskID, found.Callback, true
		sig.Reason, sig.EmptyReason = storedReason(found.Reason)
	case outside:
		sig.Callback = sub.callback
	case found.TaskType != TypeSubWorkflow:
		if byRef {
			// Conductor's TaskResult made from the pending task keeps
			// its reasonForIncompletion, and its outputData under the
			// update's members.
			sig.Reason, sig.EmptyReason = storedReason(found.Reason)
			sig.MergeOutput = true
		}
	case sub != nil:
		sig.SubWorkflowID, sig.Callback = sub.id, sub.callback
	default:
		// By reference (or a signal): Conductor builds the update from
		// the pending task (TaskResult(pending)), its child,
		// callbackAfterSeconds and reasonForIncompletion kept
		// (subworkflow_update.go). The reason is the stored record's,
		// masked as it was stored.
		sig.SubWorkflowID, sig.KeepChild, sig.Callback = found.SubWorkflowID, true, found.Callback
		if sig.Reason == "" && !sig.EmptyReason {
			sig.Reason, sig.EmptyReason = storedReason(found.Reason)
		}
	}
	// The reason too: it may quote a value the run protects, and this
	// process has no masker for the run (signalseal.go).
	if err := sealSignalReason(sec, found.ReferenceTaskName, &sig); err != nil {
		return "", "", 0, err
	}
	// Each update under a key of its own, applied in the order stored: a
	// later one (an IN_PROGRESS after a completion) no longer replaces
	// one not taken yet (subworkflow_update.go, pendLocked).
	key := e.updateSignalKey(found.ReferenceTaskName)
	if found.TaskType == TypeSubWorkflow && sig.TaskID == "" {
		// Each to the attempt it updates (by reference, the one
		// pending now): subworkflow_update.go.
		sig.TaskID = found.TaskID
	}
	payload, _ := json.Marshal(sig)
	if err := e.runs.PutSignal(ctx, runID, key, payload); err != nil {
		return "", "", 0, err
	}
	if found.TaskType == TypeSubWorkflow || outside {
		// Its parent waits for its lease keeper to take the signal
		// (runChild), an outside task's waitTask too: at once rather
		// than at its next look.
		e.signalStored(ctx, runID)
	}
	return found.ReferenceTaskName, found.TaskID, found.Seq, nil
}

// updatedTask is the status of run runID and the latest record m names
// (nil: none), for storeUpdate: by id the attempt's record alone when its
// id says where it is (lookTask), by reference the record the run's
// reference index names when it waits (lookRef), else the run read whole.
func (e *Engine) updatedTask(ctx context.Context, runID string, m taskMatch) (status string, found *taskDoc, archived bool, err error) {
	var head, task []byte
	var ok bool
	if m.id != "" {
		head, task, archived, ok, err = e.lookTask(ctx, runID, m.id)
	} else {
		head, task, archived, ok, err = e.lookRef(ctx, runID, m.ref) // refindex.go
	}
	if err != nil {
		return "", nil, false, err
	}
	if ok && !archived { // an archived run's status: read whole below
		var t taskDoc
		if err := json.Unmarshal(task, &t); err != nil {
			return "", nil, false, fmt.Errorf("run %s: damaged task record of %s: %w", runID, m.what(), err)
		}
		if !m.match(&t) {
			return docStatus(head), nil, false, nil
		}
		return docStatus(head), &t, false, nil
	}
	doc, archived, err := e.runs.Load(ctx, runID)
	if err != nil {
		return "", nil, false, err
	}
	var d runDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return "", nil, false, fmt.Errorf("run %s: damaged document: %w", runID, err)
	}
	if err := e.checkStoredDoc(runID, doc, &d, archived); err != nil { // recordseal.go
		return "", nil, false, err
	}
	for i := range d.Tasks {
		if t := &d.Tasks[i]; m.match(t) {
			found = t
		}
	}
	return d.Status, found, archived, nil
}

// workerTask reports whether record t is a SIMPLE task handed to remote
// workers (WithRemoteWorker): its type is its name, which names no type
// wfrun executes and no local worker.
func (e *Engine) workerTask(t *taskDoc) bool {
	if e.remote == nil || t.TaskType != t.TaskDefName || controlTypes[t.TaskType] {
		return false
	}
	if _, local := e.workers[t.TaskDefName]; local {
		return false
	}
	if e.registry != nil {
		if _, ok := e.registry.Lookup(t.TaskType); ok {
			return false
		}
	}
	return true
}

// checkCompletion validates an external completion's status (COMPLETED
// when empty) and output (a JSON object, {} when empty): ErrBadCompletion.
func checkCompletion(status string, output json.RawMessage) (string, json.RawMessage, error) {
	if status == "" {
		status = TaskCompleted
	}
	switch status {
	case TaskCompleted, TaskFailed, TaskFailedTerminal:
	default:
		// The status is the caller's text, not quoted: it may be a value
		// the caller was handed, put in the wrong field.
		return "", nil, fmt.Errorf("%w: status: want COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR", ErrBadCompletion)
	}
	if output = bytes.TrimSpace(output); len(output) == 0 {
		output = json.RawMessage("{}")
	}
	if !json.Valid(output) || output[0] != '{' {
		return "", nil, fmt.Errorf("%w: the task output must be a JSON object", ErrBadCompletion)
	}
	return status, output, nil
}

// headBookkeeping are the members of a stored run's head that are wfrun's
// own, not Conductor's Workflow: who runs it, its definition's hash and
// file, its journal's counts, its seals and the flags saying what they
// cover (and an archived run's mark that its task definitions were
// masked, taskdefarchive.go), a failure run's gate, a failed run's
// restarted failure runs.
// engineOnly: no view shows it (Show drops it); the others a server reads
// from a view before it drops them (the run's principal: its access
// check), and every other reader drops them (HeadBookkeeping).
var headBookkeeping = [...]struct {
	member     string
	engineOnly bool
}{
	{"principal", false}, {"definitionHash", false}, {"definitionPath", false}, {"nextSeq", false},
	{"runLogLength", false}, {"runLogSeal", false}, {"headSeal", false},
	{"recordSeals", false}, {"variablesSealed", false}, {"variablesSeal", false}, {"outcomeSealed", false}, {"outcomeSeal", false},
	{"inputSealed", false}, {"inputSeal", false}, {"partsSealed", false}, {"partsSeal", false},
	{"requestSealed", false}, {"failuresSealed", false}, {"taskDefsMasked", false},
	{"failureOf", true}, {"restartedFailures", true},
}

// HeadBookkeeping returns the members of a run's view (Show) that are
// wfrun's own bookkeeping, not the run as a client knows it: a server's
// execution document and `wfrun show` drop them.
func HeadBookkeeping() []string {
	out := make([]string, len(headBookkeeping))
	for i, b := range headBookkeeping {
		out[i] = b.member
	}
	return out
}

// sealedMembers are the members of a stored run that hold sealed values.
var sealedMembers = []string{"registeredValues", "sealedInput", "rerunTask", "reopenFailure", "taskDefs", "testMocks", "runLog"}

// Show returns the display form of a run (runsecrets.ViewStored):
// `_secrets`, `_masked` and maskedFields values as "***". The string values
// of `_masked` subtrees are kept in clear in the stored run (a restart may
// need them), so their copies elsewhere in the run — the workflow input a
// task read them from — are masked in the view too, as Orkes shows them.
// The view names the task definitions the run applies as
// "taskDefinitions" (taskdefview.go). The stored run is authenticated
// before it is shown (checkStoredDoc).
func (e *Engine) Show(ctx context.Context, id string) ([]byte, error) {
	e.visibleNow(id)
	doc, archived, err := e.runs.Load(ctx, id)
	if err != nil {
		return nil, err
	}
	// Authenticated, not believed, as a resume reads it, or an archived
	// run as a restart does (recordseal.go): a record or head edited in
	// the store is an error naming the run, not a run a client is shown.
	{
		var d runDoc
		if err := json.Unmarshal(doc, &d); err != nil {
			return nil, fmt.Errorf("run %s: damaged document: %w", id, err)
		}
		if err := e.checkStoredDoc(id, doc, &d, archived); err != nil {
			return nil, err
		}
	}
	// With its task definitions (taskdefview.go), its copies masked
	// (headview.go).
	if masked, err := e.showRunHead(ctx, id, doc, archived); err == nil {
		doc = masked
	} else {
		// Archived since it was read, its masker gone with it? The
		// archived form is masked: read it again.
		again, nowArchived, lerr := e.runs.Load(ctx, id)
		if archived || lerr != nil || !nowArchived {
			return nil, fmt.Errorf("run %s: view: %w", id, err)
		}
		doc = withMappedDefs(e.withTaskDefs(id, again, nil, true))
	}
	doc = stripRecordSeals(doc) // the store's bookkeeping (recordseal.go)
	var d struct {
		MaskedFields []string `json:"maskedFields"`
		Status       string   `json:"status"`
		Tasks        []struct {
			Ref     string `json:"referenceTaskName"`
			DefName string `json:"taskDefName"`
			Status  string `json:"status"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("run %s: damaged document: %w", id, err)
	}
	view, err := runsecrets.ViewStored(doc, d.MaskedFields)
	if err != nil {
		return nil, err
	}
	// The store's sealed bookkeeping (the journal of the values the run
	// registered, a sealed input, a rerun's sealed task) is for resume only:
	// ciphertext of secret values leaves no view.
	for _, k := range sealedMembers {
		if view, err = sjson.DeleteBytes(view, k); err != nil {
			return nil, fmt.Errorf("run %s: view: %w", id, err)
		}
	}
	// A failure run's gate and a failed run's restarted failure runs
	// (failure.go) are the engine's own: no view shows them.
	for _, b := range headBookkeeping {
		if !b.engineOnly {
			continue
		}
		if view, err = sjson.DeleteBytes(view, b.member); err != nil {
			return nil, fmt.Errorf("run %s: view: %w", id, err)
		}
	}
	for _, t := range d.Tasks {
		if t.Status == TaskSkipped {
			if view, err = skippedFirst(view); err != nil { // skip.go
				return nil, fmt.Errorf("run %s: view: %w", id, err)
			}
			break
		}
	}
	if !terminalWorkflow(d.Status) {
		return view, nil
	}
	// An ended run names its failed tasks (every FAILED or
	// FAILED_WITH_TERMINAL_ERROR attempt, retried or not), as Conductor
	// records them when a run completes or is terminated.
	refs, names := map[string]bool{}, map[string]bool{}
	for _, t := range d.Tasks {
		if t.Status == TaskFailed || t.Status == TaskFailedTerminal {
			refs[t.Ref], names[t.DefName] = true, true
		}
	}
	return appendMembers(view, "failedReferenceTaskNames", sortedKeys(refs), "failedTaskNames", sortedKeys(names)), nil
}

// appendMembers adds members (name, list of strings pairs) at the end of a
// JSON object, keeping its bytes and order.
func appendMembers(obj []byte, kv ...any) []byte {
	end := bytes.LastIndexByte(obj, '}')
	if end < 0 {
		return obj
	}
	out := append([]byte(nil), obj[:end]...)
	empty := len(bytes.TrimSpace(out)) == 1 // "{"
	for i := 0; i+1 < len(kv); i += 2 {
		k, _ := json.Marshal(kv[i])
		v, _ := json.Marshal(kv[i+1])
		if !empty {
			out = append(out, ',')
		}
		empty = false
		out = append(append(append(out, k...), ':'), v...)
	}
	return append(out, obj[end:]...)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// List returns run summaries, newest first.
func (e *Engine) List(ctx context.Context, opt runstore.ListOptions) ([]runstore.Summary, error) {
	return e.runs.List(ctx, opt)
}

// findDefinition looks a workflow up by name (and version, 0 = highest) in
// the definitions directory.
func (e *Engine) findDefinition(name string, version int) (*Definition, error) {
	return e.findDefinitionIn(e.defsDir, name, version)
}
