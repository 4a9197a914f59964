package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// startWorkflowTask starts the workflow its input's startWorkflow (a
// Conductor StartWorkflowRequest: name, version, input, correlationId, or an
// inline workflowDef) describes, and completes with its workflowId without
// waiting for it, as Conductor's StartWorkflow task does: the started run is
// a run of its own (no parent, its own secrets and masker), persisted before
// it executes, executed in the background (Engine.WaitStarted), and left
// RUNNING and resumable if this process ends first.
//
// The request is read from the task's stored input, so a secret reference in
// it reaches the started run as text, never as a value; an inline
// workflowDef comes from run data and may read only the secrets this run's
// definition reads. Without a correlationId the started run takes this
// run's. The started run's id is derived from the task's id: a task that
// runs again after a crash finds the run it started (and executes it if
// nobody does) instead of starting another. The request's priority and
// taskToDomain apply to the started run (without a taskToDomain it takes
// this run's), and its idempotencyKey and idempotencyStrategy as on a start
// through the API (idempotency.go): RETURN_EXISTING completes the task with
// the id of the run holding the key, a refused start fails it.
func (r *runState) startWorkflowTask(ctx context.Context, rec *taskRecord) tasks.Result {
	r.mu.Lock()
	stored := append([]byte(nil), rec.inMem...)
	corr := r.doc.CorrelationID
	cfg := &runConfig{principal: r.doc.Principal, project: r.doc.Project, env: r.doc.Environment, id: startedRunID(rec.TaskID)}
	r.mu.Unlock()
	if doc, archived, err := r.e.runs.Load(ctx, cfg.id); err == nil {
		if !archived {
			r.continueStarted(ctx, cfg.id, doc)
		}
		return r.startedOutput(cfg.id)
	} else if !errors.Is(err, runstore.ErrNotFound) {
		return tasks.Result{Status: tasks.Failed, Reason: "START_WORKFLOW: " + r.sec.Text(err.Error())}
	}
	var in struct {
		StartWorkflow *struct {
			Name          string          `json:"name"`
			Version       int             `json:"version"`
			Input         json.RawMessage `json:"input"`
			CorrelationID string          `json:"correlationId"`
			WorkflowDef   json.RawMessage `json:"workflowDef"`
			startOptions
		} `json:"startWorkflow"`
	}
	if err := json.Unmarshal(orEmpty(stored), &in); err != nil || in.StartWorkflow == nil {
		reason := "START_WORKFLOW needs inputParameters.startWorkflow (a StartWorkflowRequest: name, version, input, correlationId)"
		if err != nil {
			reason += ": " + err.Error()
		}
		return tasks.Result{Status: tasks.Failed, Reason: reason}
	}
	req := in.StartWorkflow
	var def *Definition
	var err error
	switch {
	case len(req.WorkflowDef) > 0 && req.WorkflowDef[0] == '{':
		def, err = r.e.Parse(req.WorkflowDef)
		if err == nil {
			def.fromRunData = true // its `_secrets` in clear (rec.inMem)
			// Conductor validates the request as its start endpoint does.
			err = CheckRegistrable(def)
		}
		if err == nil {
			err = onlySecretsOf(r.def, def, "startWorkflow.workflowDef")
		}
	case req.Name != "":
		def, err = r.e.findDefinition(req.Name, req.Version)
	default:
		err = fmt.Errorf("startWorkflow has no name and no workflowDef")
	}
	if err != nil {
		return tasks.Result{Status: tasks.Failed, Reason: "START_WORKFLOW: " + err.Error()}
	}
	cfg.correlationID = req.CorrelationID
	if cfg.correlationID == "" {
		cfg.correlationID = corr
	}
	if res, done := r.startOptionsOf(ctx, &req.startOptions, def.Name, cfg); done {
		return res
	}
	child, err := r.e.newRun(context.WithoutCancel(ctx), def, req.Input, cfg, "", "", nil)
	if err != nil {
		if cfg.idempotencyKey != "" {
			_ = r.e.ReleaseIdempotencyKey(context.WithoutCancel(ctx), def.Name, cfg.idempotencyKey, cfg.id)
		}
		return tasks.Result{Status: tasks.Failed, Reason: "START_WORKFLOW: " + err.Error()}
	}
	r.e.startBackground(child)
	return r.startedOutput(child.id)
}

// startedOutput is the task's output naming the run it started, id,
// which the run's masker keeps whole (runsecrets.Run.KeepID): a value the
// run registered that occurs inside it by chance is not masked there.
func (r *runState) startedOutput(id string) tasks.Result {
	r.sec.KeepID(id)
	out, _ := json.Marshal(map[string]string{"workflowId": id})
	return tasks.Result{Status: tasks.Completed, Output: out}
}

// continueStarted executes a run an earlier attempt of this task started
// when it is RUNNING and no live process executes it.
func (r *runState) continueStarted(ctx context.Context, id string, doc []byte) {
	var head struct {
		Status string `json:"status"`
	}
	if json.Unmarshal(doc, &head) != nil || head.Status != StatusRunning || r.e.isActive(id) {
		return
	}
	if err := r.e.runs.AcquireLease(ctx, id, r.e.newLease(), r.e.leaseTTL); err != nil {
		return // executed elsewhere, or the store says why on the next read
	}
	child, err := r.e.load(ctx, id, false, nil)
	if err != nil {
		_ = r.e.runs.ReleaseLease(context.WithoutCancel(ctx), id, r.e.owner)
		return
	}
	child.lease.held = true
	r.e.startBackground(child)
}

// startedRunID is the id of the run a START_WORKFLOW task with id taskID
// starts (a UUID derived from it).
func startedRunID(taskID string) string {
	s := sha256.Sum256([]byte("wfrun START_WORKFLOW " + taskID))
	b := s[:16]
	b[6] = b[6]&0x0f | 0x50
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// onlySecretsOf refuses a definition taken from run data (what) that reads a
// secret the running definition does not: run data never chooses which
// secret is read.
func onlySecretsOf(running, def *Definition, what string) error {
	allowed := definitionSecrets(running)
	var bad []string
	for n := range definitionSecrets(def) {
		if !allowed[n] {
			bad = append(bad, n)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	return fmt.Errorf("%s references secrets the workflow definition does not (%s): run data cannot choose a secret", what, strings.Join(bad, ", "))
}

// startOptions are a START_WORKFLOW request's priority, taskToDomain and
// idempotency members (Conductor's StartWorkflowRequest).
type startOptions struct {
	Priority            *int              `json:"priority"`
	TaskToDomain        map[string]string `json:"taskToDomain"`
	IdempotencyKey      string            `json:"idempotencyKey"`
	IdempotencyStrategy string            `json:"idempotencyStrategy"`
}

// startOptionsOf applies o to the run about to start (cfg): validated as
// Conductor's StartWorkflow task validates its request, the taskToDomain
// taken from this run when o has none, the idempotency key claimed. done
// means the task ends with res instead (a bad request, a refused start, or
// the run already holding the key).
func (r *runState) startOptionsOf(ctx context.Context, o *startOptions, workflow string, cfg *runConfig) (res tasks.Result, done bool) {
	if o.Priority != nil {
		if err := CheckPriority(*o.Priority); err != nil {
			return tasks.Result{Status: tasks.Failed, Reason: "startWorkflow validation failed. 'priority' -> " + err.Error() + ". "}, true
		}
		cfg.priority = *o.Priority
	}
	if err := CheckIdempotencyStrategy(o.IdempotencyStrategy); err != nil {
		return tasks.Result{Status: tasks.Failed, Reason: "START_WORKFLOW: " + err.Error()}, true
	}
	if err := r.plainDomains(o.TaskToDomain); err != nil { // domains.go
		return tasks.Result{Status: tasks.FailedTerminal, Reason: "START_WORKFLOW: " + err.Error()}, true
	}
	cfg.taskToDomain = o.TaskToDomain
	if len(cfg.taskToDomain) == 0 {
		r.mu.Lock()
		cfg.taskToDomain = r.doc.TaskToDomain
		r.mu.Unlock()
	}
	if o.IdempotencyKey == "" {
		return tasks.Result{}, false
	}
	if err := r.plainKey(o.IdempotencyKey); err != nil {
		return tasks.Result{Status: tasks.FailedTerminal, Reason: "START_WORKFLOW: idempotencyKey: " + err.Error()}, true
	}
	existing, err := r.e.ClaimIdempotencyKey(ctx, workflow, o.IdempotencyKey, o.IdempotencyStrategy, cfg.id)
	switch {
	case err != nil:
		return tasks.Result{Status: tasks.Failed, Reason: "START_WORKFLOW: " + r.sec.Text(err.Error())}, true
	case existing != "":
		return r.startedOutput(existing), true
	}
	cfg.idempotencyKey = o.IdempotencyKey
	return tasks.Result{}, false
}
