package engine

import (
	"context"
	"sync"
)

// The passes of a workflow test. Conductor's WorkflowTestService drives a
// test run in passes: it reads the run (the decider has scheduled and
// executed all it could: synchronous system tasks ran, every other task
// waits), and stops there if one of the run's unfinished tasks, other than
// an operator, has no entry in the mocks; otherwise it gives every
// unfinished task its next mock at once, the decider goes on, and the next
// pass reads the run again. Its answer is the run as the last pass read
// it, and after it no mock is given any more: the run goes on as any run
// does (a worker task waits in the test's own domain for good).
//
// wfrun's executor runs a fork's branches in goroutines, so a pass is
// where every goroutine of the test's runs (the runs' own and their
// forks' branches) is either at the gate, a task of the test asking for
// its mock, or waiting for another goroutine (a fork waiting on its
// branches; a child run executes in its parent's goroutine). The last one
// to get there holds the pass: it decides for every task at the gate at
// once, as Conductor's pass does, while nothing else moves, and when the
// test stops it takes the answer then, before any task moves on.
//
// Conductor caps its loop at testPassLimit passes (MAX_LOOPS): the pass
// after them answers the run as it stands, and the run goes on without
// mocks, so a DO_WHILE whose iterations keep finding mocks stops at its
// next task that needs one.
//
// What counts is what Conductor's loop counts: each read of the test's
// run, whether it gives a mock or not. So a pass counts when a task of the
// run waits at the gate: for a mock, with a used-up entry (the read that
// removes it), or a JOIN whose joinOn tasks have ended (conductor-oss
// evaluates JOIN asynchronously, between the loop's reads, so a read finds
// it unfinished before the tasks after it are scheduled: awaitRead). A
// child run's mocks are given by a loop of the child's own, inside one
// read of its parent, its count starting again at each of the parent's
// reads: a pass of child runs' tasks only does not count. Conductor reads
// on while nothing but real work moves (its JOIN's worker latency, a
// child's tasks running for real once the child's test stopped), as fast
// as it can: those reads depend on timing. wfrun counts one read for a
// JOIN, none for the rest, and stops the test once every goroutine waits
// outside it, where Conductor reads on, answering the same run, until
// MAX_LOOPS.

// testPassLimit is Conductor's WorkflowTestService.MAX_LOOPS.
const testPassLimit = 20_000

// testGate holds the passes of one test (its run and its child runs).
type testGate struct {
	mu      sync.Mutex
	active  int // goroutines of the test running (not at the gate, not waiting on another)
	idle    int // goroutines waiting for something outside the test (a completion, a timer)
	waiting []*gateWait
	passes  int
	limit   int
	stopped bool // no mock is given any more
	// answer takes the test's answer (the root run's view) when it stops
	// in a pass; set by the root run as it executes.
	answer func() []byte
	// stopTest records the answer and closes the test's Stopped.
	stopTest func(answer []byte)
}

// gateWait is one task at the gate: its run's mocks and reference.
type gateWait struct {
	tr    *testRun
	ref   string
	ready chan struct{} // closed once decided
	mock  TaskMock
	used  int
	ok    bool // mock holds the task's next mock
	// read: an operator Conductor evaluates between its loop's reads (a
	// JOIN): it takes no mock and needs no entry, the pass only lets it go.
	read bool
}

func newTestGate(stop func([]byte)) *testGate {
	return &testGate{limit: testPassLimit, stopTest: stop}
}

// enter counts a goroutine of the test that starts running.
func (g *testGate) enter() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.active++
	g.mu.Unlock()
}

// exit counts a goroutine of the test that ended.
func (g *testGate) exit() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.active--
	release := g.settleLocked()
	g.mu.Unlock()
	g.finish(release)
}

// await is the gate: the task ref of tr waits for the pass, which gives it
// its next mock (ok) or none (the test stopped, or stops now).
func (g *testGate) await(ctx context.Context, tr *testRun, ref string) (TaskMock, int, bool) {
	return g.wait(ctx, &gateWait{tr: tr, ref: ref})
}

// awaitRead is an operator of tr that Conductor evaluates asynchronously
// (a JOIN: its system task worker evaluates it between the test loop's
// reads) waiting for the next pass, which counts as the read that finds it
// unfinished. Once the test stopped, or tr's did, it does not wait.
func (g *testGate) awaitRead(ctx context.Context, tr *testRun, ref string) {
	g.wait(ctx, &gateWait{tr: tr, ref: ref, read: true})
}

func (g *testGate) wait(ctx context.Context, w *gateWait) (TaskMock, int, bool) {
	g.mu.Lock()
	if g.stopped || w.tr.halted {
		g.mu.Unlock()
		return TaskMock{}, 0, false
	}
	w.ready = make(chan struct{})
	g.waiting = append(g.waiting, w)
	g.active--
	release := g.settleLocked()
	g.mu.Unlock()
	g.finish(release)
	select {
	case <-w.ready:
		return w.mock, w.used, w.ok
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-w.ready: // decided meanwhile: counted as running again
		return w.mock, w.used, w.ok
	default:
	}
	for i, o := range g.waiting {
		if o == w {
			g.waiting = append(g.waiting[:i:i], g.waiting[i+1:]...)
			break
		}
	}
	g.active++ // it goes on to its end
	return TaskMock{}, 0, false
}

// stop ends the passes: the tasks at the gate go on without a mock.
func (g *testGate) stop() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.stopped = true
	release := g.releaseLocked()
	g.mu.Unlock()
	g.finish(release)
}

// settleLocked holds the passes while no goroutine of the test runs and
// tasks wait at the gate. It returns the tasks to let go (their decision
// made) and whether the test stopped in this pass (the answer is taken
// before they go). Callers hold g.mu.
func (g *testGate) settleLocked() gateRelease {
	for g.active == 0 && !g.stopped {
		if len(g.waiting) == 0 {
			if g.idle > 0 {
				// Every goroutine waits for something outside the test:
				// no mock moves the run any more.
				return g.stopLocked()
			}
			return gateRelease{}
		}
		if g.readsRootLocked() {
			g.passes++
		}
		if g.passes > g.limit {
			return g.stopLocked()
		}
		// A task whose reference has no entry left in its run's mocks
		// stops the test (a child run's stops that run's mocks only, as
		// Conductor's loop over the child returns to the parent's): no
		// task of it gets a mock in this pass.
		var gone []*gateWait
		for _, w := range g.waiting {
			if !w.read && !w.tr.entry(w.ref) {
				if w.tr == w.tr.t.root {
					return g.stopLocked()
				}
				w.tr.halted = true
			}
		}
		// Every other task gets its next mock; one whose entry is used up
		// loses the entry (Conductor removes it) and waits for the next
		// pass, where it stops the test.
		var stay []*gateWait
		for _, w := range g.waiting {
			if w.tr.halted || w.read {
				gone = append(gone, w) // no mock: its run's test stopped, or an operator read
				continue
			}
			if m, used, ok := w.tr.next(w.ref); ok {
				w.mock, w.used, w.ok = m, used, true
				gone = append(gone, w)
			} else {
				w.tr.drop(w.ref)
				stay = append(stay, w)
			}
		}
		g.waiting = stay
		if len(gone) > 0 {
			g.active += len(gone)
			return gateRelease{waits: gone}
		}
	}
	return gateRelease{}
}

// readsRootLocked reports whether the pass is a read of the test's own run
// by Conductor's loop: one of the tasks at the gate is the run's (a pass
// of its child runs' tasks only is one of their loops', inside a read of
// the run). Callers hold g.mu.
func (g *testGate) readsRootLocked() bool {
	for _, w := range g.waiting {
		if w.tr == w.tr.t.root {
			return true
		}
	}
	return false
}

// idleEnter is a goroutine of the test waiting for something outside it (a
// task of a run whose test stopped waits for a completion or a timer); it
// does not count as running until idleExit.
func (g *testGate) idleEnter() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.idle++
	g.active--
	release := g.settleLocked()
	g.mu.Unlock()
	g.finish(release)
}

func (g *testGate) idleExit() {
	if g == nil {
		return
	}
	g.mu.Lock()
	g.idle--
	g.active++
	g.mu.Unlock()
}

// stopLocked stops the test in a pass: every task at the gate goes on
// without a mock, once the answer is taken. Callers hold g.mu.
func (g *testGate) stopLocked() gateRelease {
	g.stopped = true
	rel := g.releaseLocked()
	rel.stopping, rel.answer = true, g.answer
	return rel
}

func (g *testGate) releaseLocked() gateRelease {
	rel := gateRelease{waits: g.waiting}
	g.active += len(g.waiting)
	g.waiting = nil
	return rel
}

// gateRelease is what a pass decided, carried out outside g.mu.
type gateRelease struct {
	waits    []*gateWait
	stopping bool          // the test stopped in the pass
	answer   func() []byte // takes its answer (nil: none to take)
}

// finish carries out a pass: when the test stopped in it, the answer is
// taken while every task still waits; then the tasks go.
func (g *testGate) finish(rel gateRelease) {
	if rel.stopping {
		var answer []byte
		if rel.answer != nil {
			answer = rel.answer()
		}
		if g.stopTest != nil {
			g.stopTest(answer)
		}
	}
	for _, w := range rel.waits {
		close(w.ready)
	}
}

// forkWait is a fork's goroutine waiting on its branches (forkpasses.go
// orders their records; this counts them for the passes). Its methods do
// nothing for a run that is not a test.
type forkWait struct {
	g        *testGate
	left     int  // branches still running
	blocked  bool // the fork's goroutine waits (not counted as running)
	onEnd    bool // it waits for every branch to end, not for progress
	progress chan struct{}
}

// enterTest counts the goroutine executing a test's run for the passes,
// when the run is the test's own (a child executes in its parent's
// goroutine), and has the answer taken from it. It returns what to call
// when the run's tasks are done.
func (r *runState) enterTest(ctx context.Context) func() {
	tr := r.test
	if tr == nil || tr.t.root != tr {
		return func() {}
	}
	g := tr.t.gate
	g.mu.Lock()
	g.answer = func() []byte {
		actx := context.WithoutCancel(ctx)
		if err := r.markTestOver(); err != nil {
			return nil
		}
		if err := r.save(actx); err != nil {
			return nil
		}
		view, err := r.e.Show(actx, r.id)
		if err != nil {
			return nil
		}
		return view
	}
	g.mu.Unlock()
	g.enter()
	return g.exit
}

// gateOf is the gate of tr's test (nil: not a test run).
func (tr *testRun) gateOf() *testGate {
	if tr == nil {
		return nil
	}
	return tr.t.gate
}

// newForkWait counts n branches about to start.
func (g *testGate) newForkWait(n int, progress chan struct{}) *forkWait {
	if g == nil {
		return nil
	}
	g.mu.Lock()
	g.active += n
	g.mu.Unlock()
	return &forkWait{g: g, left: n, progress: progress}
}

// notify is a branch's progress: the fork's goroutine, waiting for it,
// counts as running from now (before the branch itself can stop running).
func (f *forkWait) notify() {
	if f == nil {
		return
	}
	f.g.mu.Lock()
	defer f.g.mu.Unlock()
	select {
	case f.progress <- struct{}{}:
	default:
	}
	if f.blocked && !f.onEnd {
		f.blocked = false
		f.g.active++
	}
}

// ended is a branch's end (after its last notify): the branch no longer
// runs; the fork's goroutine, when this was the last branch, does.
func (f *forkWait) ended() {
	if f == nil {
		return
	}
	f.g.mu.Lock()
	f.left--
	if f.left == 0 && f.blocked {
		f.blocked = false
		f.g.active++
	}
	f.g.active--
	release := f.g.settleLocked()
	f.g.mu.Unlock()
	f.g.finish(release)
}

// block is the fork's goroutine about to wait: for progress (or every
// branch's end), or with onEnd for every branch's end only. It does not
// count as running while it waits, unless what it waits for is there.
func (f *forkWait) block(onEnd bool) {
	if f == nil {
		return
	}
	f.g.mu.Lock()
	if f.left == 0 || (!onEnd && len(f.progress) > 0) {
		f.g.mu.Unlock()
		return
	}
	f.blocked, f.onEnd = true, onEnd
	f.g.active--
	release := f.g.settleLocked()
	f.g.mu.Unlock()
	f.g.finish(release)
}

// unblock is the fork's goroutine going on after a wait.
func (f *forkWait) unblock() {
	if f == nil {
		return
	}
	f.g.mu.Lock()
	if f.blocked {
		f.blocked = false
		f.g.active++
	}
	f.g.mu.Unlock()
}

// besideWait counts, for the passes, the goroutine that executes a child
// re-opened beside its run's other tasks (reopen_executing.go), and the
// goroutines of the run that wait for it to end: those do not count while
// they wait, and count again, atomically, when it ends.
type besideWait struct {
	g       *testGate
	ended   bool
	blocked int // goroutines waiting for its end, not counted as running
}

// newBesideWait counts the goroutine about to start.
func (g *testGate) newBesideWait() *besideWait {
	g.enter()
	return &besideWait{g: g}
}

// end is the goroutine's end: the goroutines waiting for it run again.
func (b *besideWait) end() {
	b.g.mu.Lock()
	b.ended = true
	b.g.active += b.blocked - 1
	b.blocked = 0
	release := b.g.settleLocked()
	b.g.mu.Unlock()
	b.g.finish(release)
}

// block is a goroutine about to wait for the end; goOn is called when it
// goes on (after the end, or for another reason).
func (b *besideWait) block() (goOn func()) {
	b.g.mu.Lock()
	if b.ended {
		b.g.mu.Unlock()
		return func() {}
	}
	b.blocked++
	b.g.active--
	release := b.g.settleLocked()
	b.g.mu.Unlock()
	b.g.finish(release)
	return func() {
		b.g.mu.Lock()
		defer b.g.mu.Unlock()
		if !b.ended { // end counted it already
			b.blocked--
			b.g.active++
		}
	}
}
