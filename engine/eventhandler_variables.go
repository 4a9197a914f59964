package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wfrun/wfrun/runsecrets"
)

// ErrBadVariables: variables given to UpdateVariables are not a JSON
// object, or make the run's variables larger than the limit.
var ErrBadVariables = errors.New("bad workflow variables")

// variablesSignal is the status, and the key prefix, of a variables
// update stored for the process executing a run.
const variablesSignal = "VARIABLES"

// variablesUpdate is what a variables signal carries (sealed).
type variablesUpdate struct {
	Variables   json.RawMessage `json:"variables"`
	AppendArray bool            `json:"appendArray,omitempty"`
}

// UpdateVariables merges vars (a JSON object) into the variables of run
// id, RUNNING or PAUSED, as an event handler's update_workflow_variables
// action does (Orkes; its POST /api/workflow/{id}/variables without
// appendArray): each member replaces the variable of its name; with
// appendArray, a member is appended to the variable when that is an array
// (its elements, when the member is an array too), and the variable
// becomes an array of the old value and the member otherwise (of the
// member alone when there was none). The variables are written as
// SET_VARIABLE writes them (masked, `_secrets` sealed: runsecrets.Protect),
// with the same size limit: an update over it fails with ErrBadVariables,
// the variables staying as they were. A run this process executes, or
// that no process holds, is updated here and the outcome returned
// (ErrNotRunning: the run ended first). Else the update is stored,
// sealed, for the process executing it, which applies the stored updates
// in the order they were sent, within a lease renewal, and reports each
// outcome, which UpdateVariables waits for (awaitVariablesOutcome); one
// too large on its own is refused before it is stored.
func (e *Engine) UpdateVariables(ctx context.Context, id string, vars json.RawMessage, appendArray bool) error {
	var in map[string]json.RawMessage
	if err := json.Unmarshal(vars, &in); err != nil || in == nil {
		return fmt.Errorf("%w: want a JSON object", ErrBadVariables)
	}
	// An update too large on its own is refused before it is stored: the
	// runner could only drop it.
	if b, _ := json.Marshal(in); int64(len(b)) > e.maxVariablesKB()*1024 {
		return fmt.Errorf("%w: %s", ErrBadVariables, &variablesTooLargeError{size: len(b), run: id, maxKB: e.maxVariablesKB()})
	}
	_, d, archived, err := e.loadRunDoc(ctx, id)
	if err != nil {
		return err
	}
	if archived || (d.Status != StatusRunning && d.Status != StatusPaused) {
		return fmt.Errorf("%w: run %s is %s", ErrNotRunning, id, d.Status)
	}
	if r := e.executing(id); r != nil {
		// Executed here: applied now, its outcome returned.
		return r.updateVariablesNow(ctx, in, appendArray)
	}
	// Nobody executes the run: update it here. Counted as an outside
	// operation (leasewindow.go), so an executor about to take the run
	// takes the stored variables (takeStoredState).
	taken, done, err := e.leaseOutside(ctx, id)
	if taken {
		defer done()
		defer func() { _ = e.runs.ReleaseLease(context.WithoutCancel(ctx), id, e.owner) }()
		// Read again under the lease: the run may have ended since.
		doc, d, archived, err := e.loadRunDoc(ctx, id)
		if err != nil {
			return err
		}
		if archived || (d.Status != StatusRunning && d.Status != StatusPaused) {
			return fmt.Errorf("%w: run %s is %s", ErrNotRunning, id, d.Status)
		}
		r, err := e.loadDoc(ctx, id, doc, d, nil)
		if err != nil {
			return err
		}
		r.lease.held = true
		if err := r.mergeVariables(in, appendArray); err != nil {
			return err
		}
		return r.save(ctx)
	}
	done()
	if err != nil {
		return err
	}
	// Sealed: the values rest in the run store until the runner takes
	// them, in the order they were sent (variablesKey).
	key := variablesKey(time.Now())
	sec, err := e.newRunSecrets(id, nil)
	if err != nil {
		return err
	}
	body, _ := json.Marshal(variablesUpdate{Variables: vars, AppendArray: appendArray})
	sealed, err := sec.SealCompletion(key, body)
	if err != nil {
		return err
	}
	payload, _ := json.Marshal(signal{Status: variablesSignal, SealedOutput: sealed})
	if err := e.runs.PutSignal(ctx, id, key, payload); err != nil {
		return err
	}
	e.signalStored(ctx, id)
	return e.awaitVariablesOutcome(ctx, id, key, sec)
}

// variablesAckTimeout bounds how long UpdateVariables waits for the
// process executing the run to report what became of an update.
const variablesAckTimeout = 15 * time.Second

// awaitVariablesOutcome waits for the outcome of the update stored under
// key: the runner's answer (answerwait.go, sealed to the run and its
// slot), ErrNotRunning when the run ended without taking it. A runner that
// lets go without taking it leaves it stored for whoever resumes the run:
// nil, as for a run nobody executes.
func (e *Engine) awaitVariablesOutcome(ctx context.Context, id, key string, sec *runsecrets.Run) error {
	deadline := time.Now().Add(variablesAckTimeout)
	return e.awaitAnswer(ctx, id, key, func(sealed []byte, answered bool) (bool, error) {
		if answered {
			return true, openVariablesOutcome(id, answerSlot(id, key), sealed, sec)
		}
		// The lease first, then the run: an archive between the two
		// (which removes the lease) is seen as the run's end, not as a
		// runner that let go.
		l, held, err := e.runs.GetLease(ctx, id)
		if err != nil {
			return true, err
		}
		_, archived, err := e.runs.Load(ctx, id)
		if err != nil {
			return true, err
		}
		if archived {
			return true, fmt.Errorf("%w: run %s ended before the variables update", ErrNotRunning, id)
		}
		return !held || !l.Live(time.Now()) || time.Now().After(deadline), nil
	})
}

// openVariablesOutcome is the outcome the runner sealed in slot.
func openVariablesOutcome(id, slot string, sealed []byte, sec *runsecrets.Run) error {
	b, err := sec.OpenCompletion(slot, string(sealed))
	if err != nil {
		return fmt.Errorf("run %s: the outcome of a variables update: %w", id, err)
	}
	var o variablesOutcome
	if err := json.Unmarshal(b, &o); err != nil {
		return fmt.Errorf("run %s: the outcome of a variables update: %w", id, err)
	}
	switch o.Refused {
	case "":
		return nil
	case "ended":
		return fmt.Errorf("%w: run %s ended before the variables update", ErrNotRunning, id)
	default:
		return fmt.Errorf("%w: %s", ErrBadVariables, o.Refused)
	}
}

// variablesOutcome is what the runner reports of a stored update: Refused
// is empty when it was applied, "ended" when the run had ended, else why
// it was refused.
type variablesOutcome struct {
	Refused string `json:"refused,omitempty"`
}

// ackVariables reports the outcome of the update stored under key
// (awaitVariablesOutcome reads it).
func (r *runState) ackVariables(ctx context.Context, key string, err error) {
	var o variablesOutcome
	var big *variablesTooLargeError
	switch {
	case err == nil:
	case errors.Is(err, ErrNotRunning):
		o.Refused = "ended"
	case errors.As(err, &big):
		o.Refused = big.Error()
	default:
		o.Refused = "the update was not applied"
	}
	b, _ := json.Marshal(o)
	slot := answerSlot(r.id, key)
	sealed, serr := r.sec.SealCompletion(slot, b)
	if serr != nil {
		return
	}
	r.answerTo(ctx, key, []byte(sealed)) // answerwait.go
}

// loadRunDoc loads run id's stored document and decodes it.
func (e *Engine) loadRunDoc(ctx context.Context, id string) ([]byte, *runDoc, bool, error) {
	doc, archived, err := e.runs.Load(ctx, id)
	if err != nil {
		return nil, nil, false, err
	}
	var d runDoc
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, nil, false, fmt.Errorf("run %s: damaged document: %w", id, err)
	}
	return doc, &d, archived, nil
}

// variablesSeq orders the variables updates this process sends within
// one clock tick.
var variablesSeq atomic.Uint64

// variablesKey is the signal key of a variables update sent at now: keys
// sort in sending order (time, then this process's sequence; a random
// tail keeps two processes' keys apart), and the runner applies them in
// that order. The key is sealed with the update (SealCompletion), so it
// cannot be changed to reorder it.
func variablesKey(now time.Time) string {
	return fmt.Sprintf("%s:%016x-%016x-%s", variablesSignal, uint64(now.UnixNano()), variablesSeq.Add(1), newID()[:8])
}

// updateVariablesNow applies an update to a run this process executes,
// as a SET_VARIABLE task would: ErrNotRunning when the run has ended,
// ErrBadVariables when the merged variables are over the limit.
func (r *runState) updateVariablesNow(ctx context.Context, in map[string]json.RawMessage, appendArray bool) error {
	r.mu.Lock()
	status := r.doc.Status
	r.mu.Unlock()
	if terminalWorkflow(status) {
		return fmt.Errorf("%w: run %s is %s", ErrNotRunning, r.id, status)
	}
	if err := r.mergeVariables(in, appendArray); err != nil {
		return err
	}
	return r.saveUnlessEnded(ctx)
}

// saveUnlessEnded saves the run unless it has ended meanwhile (its final
// write is its own): then ErrNotRunning.
func (r *runState) saveUnlessEnded(ctx context.Context) error {
	var status string
	// Its outcome is the update's answer: made now, never deferred to a
	// fork's decision (forkdecision.go).
	err := r.write(withReportedWrite(ctx), persistDeadline, func() bool {
		status = r.doc.Status
		return !terminalWorkflow(status)
	})
	if err == nil && terminalWorkflow(status) {
		err = fmt.Errorf("%w: run %s ended with status %s", ErrNotRunning, r.id, status)
	}
	return err
}

// applyVariableSignals applies the variables updates taken from the store
// (the lease keeper calls it with each batch of signals), in the order
// they were sent.
func (r *runState) applyVariableSignals(ctx context.Context) {
	r.mu.Lock()
	var keys []string
	for k := range r.pending {
		if strings.HasPrefix(k, variablesSignal+":") {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var ups []signal
	var upKeys []string
	for _, k := range keys {
		if s := r.pending[k]; s.Status == variablesSignal {
			ups, upKeys = append(ups, s), append(upKeys, k)
		}
		delete(r.pending, k)
	}
	ended := terminalWorkflow(r.doc.Status)
	r.mu.Unlock()
	if len(ups) == 0 {
		return
	}
	if ended {
		for _, k := range upKeys {
			r.ackVariables(ctx, k, ErrNotRunning)
		}
		return
	}
	outcomes := make([]error, len(ups))
	changed := false
	for i, s := range ups {
		var u variablesUpdate
		var in map[string]json.RawMessage
		if json.Unmarshal(s.Output, &u) != nil || json.Unmarshal(u.Variables, &in) != nil {
			outcomes[i] = ErrBadVariables
			continue
		}
		if outcomes[i] = r.mergeVariables(in, u.AppendArray); outcomes[i] == nil {
			changed = true
		}
	}
	if changed {
		if err := r.saveUnlessEnded(ctx); err != nil {
			for i := range outcomes {
				if outcomes[i] == nil {
					outcomes[i] = err
				}
			}
		}
	}
	for i, k := range upKeys {
		r.ackVariables(ctx, k, outcomes[i])
	}
}

// mergeVariables merges in into the run's variables (UpdateVariables, and
// the updates the runner takes from the store): over the size limit,
// ErrBadVariables wrapping the *variablesTooLargeError (ackVariables
// reports its text).
func (r *runState) mergeVariables(in map[string]json.RawMessage, appendArray bool) error {
	err := r.mergeVariablesWith(func(vars map[string]json.RawMessage) {
		mergeInto(vars, in, appendArray)
	})
	var big *variablesTooLargeError
	if errors.As(err, &big) {
		return fmt.Errorf("%w: %w", ErrBadVariables, big)
	}
	return err
}

// mergeInto merges in into vars (UpdateVariables).
func mergeInto(vars, in map[string]json.RawMessage, appendArray bool) {
	for k, v := range in {
		if appendArray {
			v = appendVariable(vars[k], v)
		}
		vars[k] = v
	}
}

// variablesTooLargeError: merged variables over the size limit (the
// reason is Conductor's SetVariable one).
type variablesTooLargeError struct {
	size  int
	run   string
	maxKB int64
}

func (e *variablesTooLargeError) Error() string {
	return fmt.Sprintf("The variables payload size: %d of workflow: %s is greater than the permissible limit: %d kilobytes", e.size, e.run, e.maxKB)
}

// maxVariablesKB is the size limit of a run's variables.
func (e *Engine) maxVariablesKB() int64 {
	if e.maxVarsKB <= 0 {
		return defaultMaxVariablesKB
	}
	return e.maxVarsKB
}

// mergeVariablesWith reads the run's variables, lets merge change them,
// checks the size limit and sets them (protected), all under r.varsMu:
// SET_VARIABLE tasks and signalled updates merging at once each see the
// other's result. Over the limit, the variables stay as they were
// (*variablesTooLargeError).
func (r *runState) mergeVariablesWith(merge func(vars map[string]json.RawMessage)) error {
	r.varsMu.Lock()
	defer r.varsMu.Unlock()
	r.mu.Lock()
	vars := map[string]json.RawMessage{}
	_ = json.Unmarshal(orEmpty(r.doc.Variables), &vars)
	r.mu.Unlock()
	merge(vars)
	b, _ := json.Marshal(vars)
	if maxKB := r.e.maxVariablesKB(); int64(len(b)) > maxKB*1024 {
		return &variablesTooLargeError{size: len(b), run: r.id, maxKB: maxKB}
	}
	return r.setVariables(b)
}

// appendVariable is old with v appended (appendArray).
func appendVariable(old, v json.RawMessage) json.RawMessage {
	var list []json.RawMessage
	switch {
	case len(old) == 0 || string(old) == "null":
	case json.Unmarshal(old, &list) == nil:
	default:
		list = []json.RawMessage{old}
	}
	var more []json.RawMessage
	if json.Unmarshal(v, &more) == nil && more != nil {
		list = append(list, more...)
	} else {
		list = append(list, v)
	}
	b, _ := json.Marshal(list)
	return b
}
