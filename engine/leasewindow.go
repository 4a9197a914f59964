package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync/atomic"

	"github.com/wfrun/wfrun/engine/runstore"
)

// Pause and Terminate change a run in the store themselves when no process
// executes it: they take its lease, write, and let go. The lease is the
// engine's, so a run this engine is about to execute — a new run between
// its first write (which took the lease) and execute, a run Resume loaded
// under its lease — is open to them until execute marks it active: after
// that they go through a signal, which the executor applies. Left alone,
// the executor would go on from what it holds in memory: a paused run would
// schedule its next task and its next write would put RUNNING back; a
// terminated (archived) run would execute its tasks and its next write
// would bring it back RUNNING.
//
// So the engine counts these operations (outsideOps): each one that
// proceeds without a signal bumps a generation when it begins and when it
// ends, and is counted in flight meanwhile. execute, once the run is active
// (no new operation can take that path), waits for those still in flight on
// the run, and reads the stored run (takeStoredState) only when the
// generation moved since the run's lease was taken here, or when that is
// not known: a run nobody touched is not read again.

// outsideOps is the engine's count of them: gen is atomic; inflight and
// idle are guarded by Engine.activeMu.
type outsideOps struct {
	gen      atomic.Uint64
	inflight map[string]int
	idle     map[string]chan struct{} // closed when the run's count drops to 0
}

// leaseOutside begins an operation on run id made here (beginOutside) and
// takes the run's lease for it: taken is false when a process executes the
// run — this engine or another holding its lease (the caller asks it
// through a signal) — or when err, the store's, is not nil. done must be
// called as beginOutside's; a taken lease is the caller's to release (or
// the run's end releases it).
func (e *Engine) leaseOutside(ctx context.Context, id string) (taken bool, done func(), err error) {
	active, done := e.beginOutside(id)
	if active {
		return false, done, nil
	}
	if err := e.runs.AcquireLease(ctx, id, e.newLease(), e.leaseTTL); err != nil {
		if errors.Is(err, runstore.ErrLeased) {
			return false, done, nil
		}
		return false, done, err
	}
	return true, done, nil
}

// beginOutside starts an operation that changes run id in the store here
// when this engine does not execute it. active: the engine executes it (go
// through a signal; done does nothing). done must be called once the
// operation's writes are over, and before it waits for an executor.
func (e *Engine) beginOutside(id string) (active bool, done func()) {
	e.activeMu.Lock()
	if e.active[id] != nil {
		e.activeMu.Unlock()
		return true, func() {}
	}
	if e.outside.inflight == nil {
		e.outside.inflight, e.outside.idle = map[string]int{}, map[string]chan struct{}{}
	}
	e.outside.inflight[id]++
	e.outside.gen.Add(1)
	e.activeMu.Unlock()
	var ended atomic.Bool
	return false, func() {
		if ended.Swap(true) {
			return
		}
		e.outside.gen.Add(1)
		e.activeMu.Lock()
		defer e.activeMu.Unlock()
		if e.outside.inflight[id]--; e.outside.inflight[id] > 0 {
			return
		}
		delete(e.outside.inflight, id)
		if ch := e.outside.idle[id]; ch != nil {
			close(ch)
			delete(e.outside.idle, id)
		}
	}
}

// outsideGen is the generation a lease taken now is compared with (never
// 0: a run's leaseGen 0 is "not known").
func (e *Engine) outsideGen() uint64 { return e.outside.gen.Load() + 1 }

// activate marks r executing here (false: it already is) and waits for the
// outside operations in flight on it. It reports whether the stored run
// may differ from r: an operation ran since r's lease was taken here
// (r.leaseGen), or that time is not known (0).
func (e *Engine) activate(ctx context.Context, r *runState) (ok, read bool) {
	e.activeMu.Lock()
	if e.active[r.id] != nil {
		e.activeMu.Unlock()
		return false, false
	}
	e.active[r.id] = r
	var wait chan struct{}
	if e.outside.inflight[r.id] > 0 {
		if wait = e.outside.idle[r.id]; wait == nil {
			wait = make(chan struct{})
			e.outside.idle[r.id] = wait
		}
	}
	e.activeMu.Unlock()
	if wait != nil {
		select {
		case <-wait:
		case <-ctx.Done(): // the read below sees what they wrote so far
		}
	}
	r.mu.Lock()
	at := r.leaseGen
	r.mu.Unlock()
	return true, at == 0 || e.outsideGen() != at
}

// takeStoredState reads the stored run once, after its lease is held here:
// an end stored meanwhile (Terminate archived it) is returned, and the run
// is not executed; a stored PAUSED status is taken, so the run schedules
// nothing until ResumePaused; stored variables (UpdateVariables) are taken.
// A store that cannot be read leaves the run as it is: its next write
// fails the same way.
func (r *runState) takeStoredState(ctx context.Context) (ended *Result) {
	doc, archived, err := r.e.runs.Load(ctx, r.id)
	if err != nil {
		return nil
	}
	var s struct {
		Status        string          `json:"status"`
		Reason        string          `json:"reasonForIncompletion"`
		Input         json.RawMessage `json:"input"`
		Variables     json.RawMessage `json:"variables"`
		Output        json.RawMessage `json:"output"`
		VariablesSeal string          `json:"variablesSeal"`
		PartsSeal     string          `json:"partsSeal"`
	}
	if json.Unmarshal(doc, &s) != nil && !archived {
		return nil
	}
	if archived || terminalWorkflow(s.Status) {
		res, err := r.e.resultOf(ctx, r.id)
		if err != nil {
			res = &Result{RunID: r.id, Status: s.Status}
		}
		return res
	}
	r.mu.Lock()
	changed := len(s.Variables) > 0 && !bytes.Equal(s.Variables, r.varStored)
	sealed := r.doc.VariablesSealed || r.doc.PartsSealed
	r.mu.Unlock()
	if changed && sealed && r.sec.Verify(s.PartsSeal, partsPointer, storedParts(s.Input, s.Variables, s.Status, s.Reason, s.Output)) != nil &&
		r.sec.Verify(s.VariablesSeal, variablesPointer, orEmpty(s.Variables)) != nil {
		// Not written by a wfrun holding the run's keyring
		// (recordseal.go), whichever way it sealed them: the run keeps
		// its own.
		changed = false
	}
	if changed {
		// Through the run's door: unsealed, and protected again as
		// SET_VARIABLE's are (its `_secrets` registered and sealed).
		if vars, err := r.sec.Unseal(s.Variables, "/variables"); err == nil {
			_ = r.setVariables(vars)
		}
	}
	if s.Status != StatusPaused {
		return nil
	}
	r.mu.Lock()
	if r.doc.Status == StatusRunning {
		r.pauseLocked()
	}
	r.mu.Unlock()
	return nil
}
