package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
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
// failing there that is not permissive fails the run; a permissive one
// lets the rest go on past it (its own successor scheduled).
//
// A loop with a fork runs each iteration beside itself (besideIter): when
// a permissive task fails in a fork branch, the loop fails then (its
// iteration's output taken at that moment), while the branch goes on past
// the failed task, the other branches and the JOIN run on, and the tasks
// after the JOIN in the iteration follow, as Conductor schedules each next
// one; a permissive task failing in the iteration once the loop has failed
// lets it go on too.
//
// A failure inside a loop nested in the failed one (failNested) fails the
// inner loops too; the rests of their iterations run beside as well, each
// once the rest of the loop around it has scheduled its next task
// (loopRest.inner), as Conductor's decider schedules the next task of
// each failed loop, outermost first, in the decision after the failure.
//
// A run resumed while a rest runs replays the failed iteration as a rest
// (resumedRest).

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
type loopRest struct {
	rest []restSegment
	loop *WorkflowTask // the failed loop
	iter *besideIter   // or the iteration itself, still running
	// inner: the rests of failed loops inside it (failNested), each
	// beside the others, started once the first task of rest (or of the
	// iteration) is recorded: Conductor schedules their next tasks in the
	// decision after the one that schedules the loop's own.
	inner []*loopRest
	// resumed: the rest was running before the run was resumed
	// (resumedRest): it goes on at once.
	resumed bool
}

// besideIter is an iteration of a permissive or optional DO_WHILE with a
// fork, run beside the loop (startBesideIter) so that a permissive task
// failing in a fork branch fails the loop at once (fail) while the
// iteration goes on.
type besideIter struct {
	loop       *WorkflowTask
	branch     any // the loop's own fork branch (branchKey), if any
	cancel     context.CancelFunc
	done       chan struct{}
	err        error // the iteration's end, once done
	failed     chan *iterationFailed
	once       sync.Once
	loopFailed atomic.Bool // fail has failed the loop
	// resume is closed once the tasks after the failed loop have started
	// (besideLoop): the branch that failed goes on from then, as the
	// decision after the loop's schedules the task after it first.
	resume     chan struct{}
	resumeOnce sync.Once
	gated      bool // the loop is in no fork branch (its next task takes no turn)
}

type besideIterKey struct{}

// hasFork: a fork in list, at any depth.
func hasFork(list []*WorkflowTask) bool {
	found := false
	walkTasks(list, func(t *WorkflowTask) {
		found = found || t.Type == TypeForkJoin || t.Type == TypeForkJoinDynamic
	})
	return found
}

// startBesideIter runs iteration i of the loop wt (suffix iterSfx) beside it.
func (r *runState) startBesideIter(ctx context.Context, wt *WorkflowTask, iterSfx string, i int) *besideIter {
	ictx, cancel := context.WithCancel(ctx)
	branch := ctx.Value(branchKey{})
	b, _ := branch.(*branchTurn)
	bi := &besideIter{loop: wt, branch: branch, cancel: cancel, done: make(chan struct{}),
		failed: make(chan *iterationFailed, 1), resume: make(chan struct{}), gated: b == nil}
	go func() {
		defer close(bi.done)
		bi.err = r.execList(context.WithValue(ictx, besideIterKey{}, bi), wt.LoopOver, iterSfx, i)
	}()
	return bi
}

// await returns the iteration's end (err), or the failure that fails the
// loop while the iteration goes on (failed).
func (bi *besideIter) await() (err error, failed *iterationFailed) {
	select {
	case f := <-bi.failed:
		return nil, f
	case <-bi.done:
	}
	select {
	case f := <-bi.failed:
		return nil, f
	default:
		return bi.err, nil
	}
}

// stop ends the iteration (nil: none) and waits for it.
func (bi *besideIter) stop() {
	if bi == nil {
		return
	}
	bi.cancel()
	<-bi.done
}

// goesOn is the iteration of loop that a permissive task failing under
// ctx goes on past: the loop's, when the task is in a fork branch of it or
// the loop has failed already. nil when the failure fails the iteration.
func goesOn(ctx context.Context, loop *WorkflowTask) *besideIter {
	bi, _ := ctx.Value(besideIterKey{}).(*besideIter)
	if bi == nil || loop == nil || bi.loop != loop {
		return nil
	}
	if !bi.loopFailed.Load() && ctx.Value(branchKey{}) == bi.branch {
		return nil
	}
	return bi
}

// fail fails the loop with failed, the first time, and reports whether the
// list of the failed task goes on: not when the successor's mapping ended
// the run (a mapper that throws, a TERMINATE). The first failure waits for
// the tasks after the loop to start.
func (bi *besideIter) fail(ctx context.Context, failed *iterationFailed) bool {
	first := false
	bi.once.Do(func() {
		first = true
		bi.loopFailed.Store(true)
		bi.failed <- failed
	})
	if failed.thrown != nil || failed.terminated || failed.then != nil {
		return false
	}
	if first && bi.gated {
		select {
		case <-bi.resume:
		case <-ctx.Done():
		}
	}
	return true
}

// failedIter is the iteration of loop, failed already, that its rest
// (loopRest.rest) runs in.
func failedIter(loop *WorkflowTask) *besideIter {
	bi := &besideIter{loop: loop, failed: make(chan *iterationFailed, 1), resume: make(chan struct{})}
	bi.once.Do(func() {})
	bi.loopFailed.Store(true)
	bi.release()
	return bi
}

// release lets the iteration go on (the tasks after the loop started).
func (bi *besideIter) release() { bi.resumeOnce.Do(func() { close(bi.resume) }) }

// runRest runs the rest lr (not its inner rests) under ctx and returns
// its end.
func (r *runState) runRest(ctx context.Context, lr *loopRest) error {
	if bi := lr.iter; bi != nil {
		bi.release()
		select {
		case <-bi.done:
		case <-ctx.Done():
			bi.stop()
			return nil
		}
		return bi.err
	}
	if lr.loop != nil {
		// The rest is the failed loop's iteration: a permissive task
		// failing in it lets it go on (goesOn).
		ctx = context.WithValue(context.WithValue(ctx, loopKey{}, lr.loop), besideIterKey{}, failedIter(lr.loop))
	}
	for _, s := range lr.rest {
		if err := r.execList(ctx, s.list[s.from:], s.suffix, s.iter); err != nil {
			return err
		}
	}
	return nil
}

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
	if lr.resumed {
		open()
	} else {
		r.mu.Lock()
		r.onRecord = func() { r.onRecord = nil; open() }
		r.mu.Unlock()
	}
	done := make(chan struct{})
	var rerr error
	var failOnce sync.Once
	// fail: the run fails (a stopError): the tasks after the loop end.
	fail := func(err error) {
		var st *stopError
		if errors.As(err, &st) {
			failOnce.Do(func() { rerr = err; stop(err) })
		}
	}
	go func() {
		defer close(done)
		select {
		case <-gate:
		case <-rctx.Done():
			if lr.iter != nil {
				lr.iter.stop()
			}
			return
		}
		// The loop's own rest first, then the rests of the failed loops
		// inside it, outermost first, each once the one before it has
		// recorded a task (or ended).
		chains := []*loopRest{lr}
		for k := len(lr.inner) - 1; k >= 0; k-- {
			chains = append(chains, lr.inner[k])
		}
		var wg sync.WaitGroup
		started := make(chan struct{})
		close(started)
		for _, c := range chains {
			select {
			case <-started:
			case <-rctx.Done():
			}
			next := make(chan struct{})
			var once sync.Once
			mark := func() { once.Do(func() { close(next) }) }
			r.mu.Lock()
			r.onRecord = func() { r.onRecord = nil; mark() }
			r.mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer mark()
				fail(r.runRest(rctx, c))
			}()
			started = next
		}
		wg.Wait()
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
