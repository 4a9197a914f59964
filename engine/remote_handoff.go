package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/wfrun/wfrun/interpolate"
)

// A remote SIMPLE task's secrets resolve when a worker takes it, not when
// it is queued (SPEC §6, as Orkes and Conductor OSS do: the persisted task
// keeps the reference, the value is resolved at hand-off). A task may wait
// hours for a poll: a secret rotated meanwhile (UPDATE_SECRET) reaches the
// worker with its new value, a secret deleted or forbidden meanwhile fails
// the task then, and no value is held while the task waits. The input is
// computed once, when the task is scheduled (its stored form, references
// kept); Resolve fills in the references of that same stored form, so the
// worker's copy never disagrees with what the run shows.

// laterInput is a remote task's input whose secret references resolve at
// hand-off: the stored form with their places, and the task definition's
// inputTemplate defaults (applied to the resolved copy, as Resolve's
// transient form gets them).
type laterInput struct {
	d        interpolate.Deferred
	defaults map[string]json.RawMessage
}

// handoff is what RemoteTask.Resolve needs.
type handoff struct {
	r     *runState
	wt    *WorkflowTask
	input []byte      // the input, when it references no secret
	later *laterInput // otherwise
	names []string    // the definition's runtimeMetadata
}

// remoteSimple reports whether wt is handed to remote workers.
func (e *Engine) remoteSimple(wt *WorkflowTask) bool {
	if wt.Type != TypeSimple || e.remote == nil {
		return false
	}
	_, local := e.workers[wt.Name]
	return !local
}

// resolveLater is Resolve for a remote task: the stored form, no transient
// form (rec.later keeps what resolves it at hand-off).
func (r *runState) resolveLater(ctx context.Context, rec *taskRecord, tpl *interpolate.Template, env interpolate.Env, defaults map[string]json.RawMessage) (stored, transient []byte, err error) {
	d, err := r.sec.ResolveLater(r.sec.ForTask(ctx, rec.Ref), tpl, env)
	if err != nil {
		return nil, nil, err
	}
	// Its own copy: the stored form is protected in place.
	rec.later = &laterInput{d: interpolate.Deferred{Doc: bytes.Clone(d.Doc), Holes: d.Holes}, defaults: defaults}
	return d.Doc, nil, nil
}

// Resolve returns what the worker that takes the task gets: its input
// with the `${workflow.secrets.*}` references resolved, and the values of
// the names its definition declares in runtimeMetadata (secrets, then env
// values; names found in neither are left out). Call it when a worker's
// poll takes the task and hand the result to that worker only: never
// store or log it. The values are read now, as the run's principal,
// audited with the run id and the task's ref, and registered with the
// run's masker before Resolve returns, so a worker that echoes one has it
// masked in what the run stores.
//
// An error is the reason the attempt fails (a missing, expired or
// forbidden secret, named, never its value): give the worker nothing and
// end the attempt with a FAILED_WITH_TERMINAL_ERROR result carrying
// err.Error(). ErrNotWaiting: the attempt is over, the task is for no
// worker.
func (t RemoteTask) Resolve(ctx context.Context) (input json.RawMessage, runtimeMetadata map[string]string, err error) {
	h := t.hand
	if h == nil {
		return nil, nil, fmt.Errorf("%w: task %s was not handed out by an engine", ErrNotWaiting, t.TaskID)
	}
	if t.att.over() {
		return nil, nil, fmt.Errorf("%w: task %s", ErrNotWaiting, t.TaskID)
	}
	r := h.r
	ctx = r.sec.ForTask(ctx, t.Ref)
	input = h.input
	if h.later != nil {
		in, err := r.sec.ResolveDeferred(ctx, h.later.d)
		if err != nil {
			return nil, nil, err
		}
		input = withoutOutputFilter(h.wt, templateDefaults(in, h.later.defaults))
	}
	md, err := r.runtimeMetadata(ctx, t.Ref, h.names)
	if err != nil {
		return nil, nil, err
	}
	if len(input) == 0 {
		input = json.RawMessage("{}")
	}
	return input, md, nil
}

// over reports whether the attempt ended (nil: an attempt without clocks).
func (a *remoteAttempt) over() bool {
	if a == nil {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.ended
}

// remoteRecord reports whether rec is handed to the remote worker: a task
// whose type is its name (a SIMPLE task, or a DYNAMIC task naming one) that
// no local worker, registered executor or control type runs.
func (e *Engine) remoteRecord(rec *taskRecord) bool {
	return e.workerTask(&taskDoc{taskHead: taskHead{TaskType: rec.TaskType, TaskDefName: rec.TaskDefName}})
}
