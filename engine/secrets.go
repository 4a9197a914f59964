package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/tidwall/gjson"
	"github.com/wfrun/wfrun/interpolate"
	"github.com/wfrun/wfrun/runsecrets"
	"github.com/wfrun/wfrun/tasks"
)

// The engine keeps no secret logic of its own: resolving, registering,
// protecting, sealing, unsealing, viewing and archiving are runsecrets'
// (one *runsecrets.Run per run, r.sec). This file is the seam: it builds
// that value for a run and tells it what the definition needs.

// newSecrets builds the run's secret boundary. parent, when not nil, is the
// run whose masker a SUB_WORKFLOW or failure workflow shares.
func (r *runState) newSecrets(parent *runsecrets.Run) error {
	src := r.secretSource()
	opts := []runsecrets.Option{
		runsecrets.WithMaskedFields(r.def.MaskedFields),
		runsecrets.Requiring(r.def.secretNeeds(r.e)),
	}
	if parent != nil {
		opts = append(opts, runsecrets.ChildOf(parent))
	}
	sec, err := r.e.newRunSecrets(r.id, src, opts...)
	if err != nil {
		return err
	}
	// Its task ids carry its tag (tasklook.go) and are shown whole in its
	// records: a value found inside one is not masked there either (as
	// for its run id, which New keeps).
	tag := r.tag
	sec.KeepIDsWhere(func(id []byte) bool { return carriesTag(id, tag) })
	r.sec = sec
	return nil
}

// keepNamedIDs keeps whole, in the run's masker, the ids of other runs
// that stored document d names as the engine wrote them: its parent, the
// run a failure run was started for, the failure runs it started, its
// SUB_WORKFLOW children and the runs its START_WORKFLOW tasks started
// (runsecrets.Run.KeepID; its own id New keeps). A run executing keeps
// them as it starts them; a run read back from its store needs them named
// again, so that a value registered later is not masked inside them when
// its outputs are masked again. Each is kept only if it is a lowercase
// UUID; the records they come from were authenticated (checkRecords,
// checkHead) before.
func (r *runState) keepNamedIDs(d *runDoc) {
	r.sec.KeepID(d.ParentWorkflowID)
	r.sec.KeepID(d.FailureOf)
	for _, id := range strings.Fields(d.RestartedFailures) {
		r.sec.KeepID(id)
	}
	if id := gjson.GetBytes(d.Output, failureOutMember).Str; id != "" {
		r.sec.KeepID(id)
	}
	for i := range d.Tasks {
		t := &d.Tasks[i]
		r.sec.KeepID(t.SubWorkflowID)
		if t.TaskType == TypeStartWorkflow && t.TaskID != "" {
			r.sec.KeepID(startedRunID(t.TaskID))
		}
	}
}

// secretSource is the secret source of the run's principal and scope
// (nil: none configured).
func (r *runState) secretSource() runsecrets.Source {
	if r.e.secrets != nil {
		if s := r.e.secrets(r.doc.Principal, r.doc.Project, r.doc.Environment); s != nil {
			return s
		}
	}
	return nil
}

// secretNeeds says whether the definition reads secrets (templates, HTTP
// auth, EXEC bundles) or writes them (UPDATE_SECRET).
func (d *Definition) secretNeeds(e *Engine) runsecrets.Needs {
	var n runsecrets.Needs
	walkTasks(d.Tasks, func(t *WorkflowTask) {
		if in := e.readInput(t); in != nil && in.HasSecrets() {
			n.Read = true
		}
		if len(t.staticSecrets) > 0 {
			n.Read = true
		}
		if t.Type == tasks.TypeUpdateSecret {
			n.Write = true
		}
	})
	return n
}

// staticSecretNames lists every secret name the definition names
// statically: template references, HTTP auth.secret, EXEC bundles and
// UPDATE_SECRET keys. A resumed run reads them again (runsecrets.Reread).
func (d *Definition) staticSecretNames(e *Engine) []string {
	seen := map[string]bool{}
	var names []string
	add := func(n string) {
		if n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	walkTasks(d.Tasks, func(t *WorkflowTask) {
		if in := e.readInput(t); in != nil {
			for _, n := range in.SecretNames() {
				add(n)
			}
		}
		for _, n := range t.staticSecrets {
			add(n)
		}
	})
	return names
}

// leafCall is what an executor is handed for one attempt, in one
// allocation: the request and its services. The run's boundary is both
// the executor's masker and its secret access, so no credential reaches a
// task without being registered.
type leafCall struct {
	r   *runState
	rec *taskRecord
	req tasks.Request
	svc tasks.Services
}

func (c *leafCall) logf(format string, args ...any) { c.r.logf(c.rec)(format, args...) }

func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("invalid JSON: %w", err)
	}
	return v, nil
}

func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// maxReasonBytes bounds text quoted into a failure reason (a worker's
// stderr): masked whole first, then cut.
const maxReasonBytes = 4 << 10

// sealedInputPointer binds a child's sealed input.
const sealedInputPointer = "/sealedInput"

// keepReferenceInput makes a SUB_WORKFLOW child store refs (its input with
// the parent's secret references kept, `_secrets` sealed for the child) as
// its input, and keeps plain, its input with the values its parent's task
// resolved (secret values, values read from the parent's sealed input), as
// Conductor's SubWorkflow.start hands them: its expressions read it
// (exprInputLocked) where its in-memory input masks them, as any run's
// does. plain is sealed (sealedInput, bound to the child's id) for a
// resume; its values are registered with the masker the child shares with
// its parent, so whatever the child stores from them is masked.
func (r *runState) keepReferenceInput(plain, refs []byte) error {
	gen := r.sec.Generation() // what the stored form is masked with at least
	_, stored, err := r.sec.Protect(refs, "/input")
	if err != nil {
		return err
	}
	r.mu.Lock()
	mem := r.doc.Input
	r.mu.Unlock()
	if len(plain) == 0 || bytes.Equal(plain, mem) {
		plain = nil
	}
	keep := plain
	if keep == nil {
		keep = mem
	}
	sealed, err := r.sec.Seal(keep, sealedInputPointer)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.rx.producedLocked(gen)
	r.inStored, r.doc.SealedInput, r.inPlain, r.changedIn = stored, sealed, plain, true
	r.mu.Unlock()
	return nil
}

// openSealedInput is the in-memory input of a resumed SUB_WORKFLOW child
// (its `_secrets` leaves registered again) and, when it differs, the input
// its expressions read (keepReferenceInput).
func (r *runState) openSealedInput(sealed string) (mem, plain []byte, err error) {
	plain, err = r.sec.Open(sealed, sealedInputPointer)
	if err != nil {
		return nil, nil, err
	}
	if mem, _, err = r.sec.Protect(plain, "/input"); err != nil {
		return nil, nil, err
	}
	if bytes.Equal(mem, plain) {
		plain = nil
	}
	return mem, plain, nil
}

// exprInputLocked is the workflow input the run's expressions read: a
// SUB_WORKFLOW child's input with its parent's values (keepReferenceInput),
// else the in-memory input. Callers hold r.mu.
func (r *runState) exprInputLocked() []byte {
	if r.inPlain != nil {
		return r.inPlain
	}
	return r.doc.Input
}

// readInput is t's input template as this engine reads secrets for it: a
// task handed to the remote worker keeps `$<…>` for the worker
// (WithAngleForWorkers), so its `$<…>` names are not this engine's.
func (e *Engine) readInput(t *WorkflowTask) *interpolate.Template {
	if t.input == nil || !e.angleForWorkers || !e.remoteSimple(t) {
		return t.input
	}
	kept, err := t.input.KeepingAngle()
	if err != nil {
		return t.input
	}
	return kept
}
