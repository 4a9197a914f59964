package engine

import (
	"context"
	"errors"
	"sync"
)

// The rest of a failed iteration of a permissive or optional DO_WHILE.
// When a permissive task of an iteration fails, Conductor's decider
// schedules its successor in the decision in which DoWhile.execute fails
// the loop (scheduleLoopSuccessor). A loop that is permissive or optional
// does not fail the run: the next decision schedules the task after the
// loop, and the successor runs beside it; when it ends, its own successor
// in the iteration is scheduled (getNextTask, filterNextLoopOverTasks), and
// so on to the end of the iteration (the loop itself, already ended,
// schedules nothing: no further iteration). So here the successor is
// recorded (a synchronous one executed) with the loop's failure, and the
// rest of the iteration runs beside the tasks after the loop, from the
// moment the next of them is recorded; the run ends when both have. A task
// failing there that is not permissive fails the run.
//
// Not modelled: the rest of an iteration whose failed task is in a fork
// branch; a permissive task failing in the rest (the rest stops there); a
// run resumed while a rest runs (the rest is not resumed, its tasks are
// cancelled when the run ends).

// restSegment is the tasks list[from:] of a list of the iteration (the
// failed task's list, then the lists enclosing it, innermost first).
type restSegment struct {
	list   []*WorkflowTask
	from   int
	suffix string
	iter   int
}

// addRest records, as the iteration's failure goes up from list[i], that
// the tasks after list[i] are the rest of the iteration; broken stops the
// rest (it went through a fork).
func (f *iterationFailed) addRest(list []*WorkflowTask, i int, suffix string, iter int) {
	if !f.broken && i+1 < len(list) {
		f.rest = append(f.rest, restSegment{list: list, from: i + 1, suffix: suffix, iter: iter})
	}
}

// restBroken marks err's iteration failure (if any) as leaving no rest.
func restBroken(err error) {
	var failed *iterationFailed
	if errors.As(err, &failed) {
		failed.broken, failed.rest = true, nil
	}
}

// loopRest is what a permissive or optional DO_WHILE that failed (and did
// not fail the run) returns: the rest of its iteration, to run beside the
// tasks after it (execListNotify, besideLoop).
type loopRest struct{ rest []restSegment }

func (l *loopRest) Error() string { return "DO_WHILE: the rest of the failed iteration runs beside" }

// besideLoop starts the rest of the iteration lr. It runs under ctx, once
// the next record of the run is added (or wait is called); its failure
// calls stop.
func (r *runState) besideLoop(ctx context.Context, lr *loopRest, stop context.CancelCauseFunc) *forkRest {
	// Beside a fork branch's own tasks, it takes no turns in the fork.
	rctx, cancel := context.WithCancel(context.WithValue(ctx, branchKey{}, (*branchTurn)(nil)))
	gate := make(chan struct{})
	var once sync.Once
	open := func() { once.Do(func() { close(gate) }) }
	r.mu.Lock()
	r.onRecord = func() { r.onRecord = nil; open() }
	r.mu.Unlock()
	done := make(chan struct{})
	var rerr error
	go func() {
		defer close(done)
		select {
		case <-gate:
		case <-rctx.Done():
			return
		}
		for _, s := range lr.rest {
			if err := r.execList(rctx, s.list[s.from:], s.suffix, s.iter); err != nil {
				var st *stopError
				if errors.As(err, &st) {
					rerr = err
					stop(err) // the run fails: the tasks after the loop end
				}
				return
			}
		}
	}()
	return &forkRest{
		cancel: func() { cancel(); open() },
		wait: func() error {
			open()
			<-done
			r.mu.Lock()
			r.onRecord = nil
			r.mu.Unlock()
			cancel()
			return rerr
		},
	}
}
