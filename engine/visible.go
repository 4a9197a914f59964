package engine

import (
	"context"
	"sync"
	"time"
)

// A run is written at its durable points only (save: creation, each task
// attempt that ended, a task that starts waiting, the end): a task's
// SCHEDULED and IN_PROGRESS records travel with the next write. While a
// slow task runs — a worker command that takes a minute, a long HTTP call
// — nothing would tell another process (wfrun show, wfrun runs, another
// serve's GET /api/workflow/{id}) that it started. Conductor shows it.
//
// So one goroutine per engine looks at the runs it executes every
// visibleEvery: a run that had an unwritten SCHEDULED or IN_PROGRESS record
// at visibleLooks looks in a row, with no write of the run in between, is
// written (save's path: the same masked and sealed forms, the same delta,
// the run's saveMu). A task that ends within (visibleLooks-1)×visibleEvery
// (50ms) is never written early: a fast sequential run still pays one
// commit per completed task (a task held off the CPU that long on a loaded
// machine may be). A task still running after visibleLooks×visibleEvery
// (75ms) is visible.
//
// Ordering: every write of a run — this one, a task's completion, the
// archive — holds r.saveMu from the snapshot (changeLocked, under r.mu) to
// the end of its commit, so a later state is always committed after an
// earlier one and a stale IN_PROGRESS never overwrites a COMPLETED. A run
// that is ending (its execute left execList: finishing, interrupted,
// its lease lost) is no longer looked at, and a write already under way
// checks that under saveMu: nothing is written after the archive, and no
// lease is taken for a run this process lets go.
//
// A reader of this engine (Show: serve's GET /api/workflow/{id}, the CLI)
// does not wait for the looks: a run this engine executes that has an
// unwritten in-flight record is written before Show reads it
// (visibleNow), so a client that starts a run and reads it at once sees
// its running task, as Conductor shows a task SCHEDULED when its decider
// schedules it. Readers in other processes see it after the looks.
//
// Nothing of this is on a task's path: execute registers a run once, and
// a save counts its commits.

// visibleEvery is how often the engine looks at its running runs;
// visibleLooks how many looks in a row find a run's unwritten in-flight
// record before it is written.
const (
	visibleEvery = 25 * time.Millisecond
	visibleLooks = 3
)

// visibleIdle is how many looks without a run the goroutine waits before
// it exits (the next run starts it again).
const visibleIdle = 50

// visibleRetry is how long a run whose early write failed waits before
// another (the store is failing: do not add to its load).
const visibleRetry = time.Second

// visibleDeadline bounds one early write.
const visibleDeadline = 10 * time.Second

// visibility is the engine's set of runs to look at.
type visibility struct {
	mu      sync.Mutex
	runs    []*runState
	running bool // the goroutine runs
	off     bool // no early writes (tests that count writes); set before the first run
}

// visState is a run's part of it: on and saves are guarded by r.mu; idx by
// visibility.mu; the rest belongs to the goroutine.
type visState struct {
	on    bool   // execute is in execList
	saves uint64 // writes of the run that committed
	idx   int

	seen      int    // looks in a row that found an unwritten in-flight record
	seenSaves uint64 // saves at the last of them
	busy      bool   // an early write is under way
	retryAt   time.Time
}

// visibleAdd registers r (execute, before its task list).
func (e *Engine) visibleAdd(r *runState) {
	r.mu.Lock()
	r.vis.on = true
	r.mu.Unlock()
	v := &e.vis
	if v.off {
		return
	}
	v.mu.Lock()
	r.vis.idx = len(v.runs)
	v.runs = append(v.runs, r)
	if !v.running {
		v.running = true
		go e.visibleLoop()
	}
	v.mu.Unlock()
}

// visibleRemove unregisters r (execute, when its task list returned).
func (e *Engine) visibleRemove(r *runState) {
	r.mu.Lock()
	r.vis.on = false
	r.mu.Unlock()
	v := &e.vis
	v.mu.Lock()
	i, last := r.vis.idx, len(v.runs)-1
	if i <= last && v.runs[i] == r {
		v.runs[i] = v.runs[last]
		v.runs[i].vis.idx = i
		v.runs[last] = nil
		v.runs = v.runs[:last]
	}
	v.mu.Unlock()
}

func (e *Engine) visibleLoop() {
	v := &e.vis
	tick := time.NewTicker(visibleEvery)
	defer tick.Stop()
	var runs []*runState
	idle := 0
	for range tick.C {
		v.mu.Lock()
		if len(v.runs) == 0 {
			if idle++; idle >= visibleIdle {
				v.running = false
				v.mu.Unlock()
				return
			}
			v.mu.Unlock()
			continue
		}
		idle = 0
		runs = append(runs[:0], v.runs...)
		v.mu.Unlock()
		now := time.Now()
		for _, r := range runs {
			if r.visibleDue(now) {
				r.mu.Lock()
				r.vis.busy = true
				r.mu.Unlock()
				go r.saveVisible()
			}
		}
		clear(runs)
	}
}

// visibleDue reports whether r had an unwritten SCHEDULED or IN_PROGRESS
// record at this look and the visibleLooks-1 before, with no write in
// between.
func (r *runState) visibleDue(now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.vis.on || r.vis.busy || now.Before(r.vis.retryAt) || !r.inFlightUnsavedLocked() {
		r.vis.seen = 0
		return false
	}
	if r.vis.seenSaves != r.vis.saves {
		r.vis.seen = 0
	}
	r.vis.seen++
	r.vis.seenSaves = r.vis.saves
	if r.vis.seen < visibleLooks {
		return false
	}
	r.vis.seen = 0
	return true
}

// inFlightUnsavedLocked reports a record changed since the last write that
// is SCHEDULED or IN_PROGRESS, on a run leased by this process and RUNNING
// (or PAUSED: a task that started before the pause runs on).
// The run is in the store (created before execute, or loaded from it); a
// resumed run's first write of this process is a full one (changeLocked),
// early or not. Callers hold r.mu.
func (r *runState) inFlightUnsavedLocked() bool {
	if !r.lease.held || (r.doc.Status != StatusRunning && r.doc.Status != StatusPaused) {
		return false
	}
	for _, t := range r.dirty {
		if !t.forgotten && t.inStored != nil && (t.Status == TaskScheduled || t.Status == TaskInProgress) {
			return true
		}
	}
	return false
}

// visibleNow writes run id at once, if this engine executes it and it has
// an unwritten in-flight record (Show, before it reads the store).
func (e *Engine) visibleNow(id string) {
	r := e.executing(id) // skip.go
	if r == nil {
		return
	}
	r.mu.Lock()
	due := r.vis.on && r.inFlightUnsavedLocked()
	r.mu.Unlock()
	if due {
		// An error leaves the store as it was: the reader sees the last
		// write, and the looks try again.
		_ = r.write(context.Background(), visibleDeadline, func() bool {
			return r.vis.on && r.runCtx != nil && r.runCtx.Err() == nil && r.inFlightUnsavedLocked()
		})
	}
}

// saveVisible is the early write of a run whose task keeps running: save,
// unless the run is ending or was written meanwhile.
func (r *runState) saveVisible() {
	err := r.write(context.Background(), visibleDeadline, func() bool {
		return r.vis.on && r.runCtx != nil && r.runCtx.Err() == nil && r.inFlightUnsavedLocked()
	})
	r.mu.Lock()
	r.vis.busy = false
	if err != nil {
		r.vis.retryAt = time.Now().Add(visibleRetry)
	}
	r.mu.Unlock()
}
