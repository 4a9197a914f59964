package engine

import (
	"context"
	"errors"
	"slices"
	"sync"
)

// forkPasses orders the records a fork's branches schedule as Conductor's
// decider writes them. The decider works in passes: in each, every branch
// whose last task has ended schedules its next one, in the order of the
// task list, and then executes the synchronous ones (INLINE, SET_VARIABLE,
// ...), whose branches go on in the next pass. A task that waits (a worker,
// a WAIT, a child run) ends outside the passes: its branch schedules its
// next task in a later decision, once the passes have nothing more to
// schedule.
//
// Here the members (the branches, then the fork itself, which records the
// JOIN) take turns around a ring: a member schedules a record on its turn;
// after a synchronous task it hands the turn on and runs that task when the
// turn comes back (the next pass), then hands it on once more before it
// schedules its next record, so that every task a pass scheduled has run
// before the next pass schedules anything (a DO_WHILE, whose execution
// schedules its first loop-over task, excepted); after a task that waits it
// leaves the ring. A member outside the ring joins it when the ring is empty. A fork
// nested in a branch shares the ring of the run's outermost fork, so the
// passes order the records of every fork of the run together. So the
// records of synchronous branches follow pass by pass, whatever goroutine
// runs first.
//
// Waking is targeted, so a pass costs O(members), not O(members²): a turn
// that moves wakes the one member it moves to, and a ring that empties
// wakes the first member waiting to join it.
type forkPasses struct {
	mu   sync.Mutex
	ring []int // members, in the order of their last records
	turn int   // the member whose turn it is; -1 when the ring is empty
	next int   // the id the next member gets
	// wake holds the channel of each member waiting (closed to wake it);
	// idle the members out of the ring waiting for it to empty, first
	// come first.
	wake map[int]chan struct{}
	idle []int
	// stopped: members of a fork one of whose branches failed; they
	// schedule nothing more. Each also holds the stops waiting for it to
	// leave the ring: a member leaving counts down their drains, so a
	// fork of n branches drains in O(n), not by looking for every member
	// in the ring at every removal.
	stopped map[int]memberStop
	stops   int // the stops so far (memberStop.stop)
	// halted: a branch failed the run; no member of any fork schedules
	// anything more. A member that has scheduled nothing yet (started)
	// still schedules its first record, stopped or halted: the mapping of
	// its fork, part of the decision under way.
	halted  bool
	started map[int]bool
	// ran: members that ran a synchronous task since they scheduled their
	// last record. Conductor's decider executes every task a pass
	// scheduled before the next pass schedules anything: such a member
	// lets the others run theirs before it schedules its next record.
	ran map[int]bool
	// round counts the times the turn went around the ring (it moved
	// from the ring's last member to its first); roundMoved, when a
	// member waits for that (awaitPassRan), is closed at the next round,
	// when the ring empties or when a branch fails.
	round      int
	roundMoved chan struct{}
	// held: the events of the tasks that wait scheduled in the rounds
	// not yet gone around (holdPassEvents), announced once they have
	// (announceLocked).
	held []passHold
}

// passHold is the held events of a task that waits and the round in which
// its branch scheduled it.
type passHold struct {
	round int
	h     *eventHold
}

// memberStop is a stopped member: the last stop that named it, and the
// drains counting it while it is in the ring — nearly always one (a
// second stop comes only when two branches fail in one pass).
type memberStop struct {
	stop  int
	first *forkDrain
	more  []*forkDrain
}

// forkDrain is a stop waiting for its members to leave the ring: left
// counts those still in it.
type forkDrain struct {
	left int
	done chan struct{}
}

// errForkStopped is what a branch stopped by a sibling's failure gets when
// it would schedule a task.
var errForkStopped = errors.New("fork stopped: a branch failed")

func newForkPasses() *forkPasses {
	return &forkPasses{turn: -1, wake: map[int]chan struct{}{}, started: map[int]bool{}, ran: map[int]bool{}}
}

// stoppedLocked: m schedules nothing more. Callers hold p.mu.
func (p *forkPasses) stoppedLocked(m int) bool {
	if !p.started[m] {
		return false
	}
	_, stopped := p.stopped[m]
	return stopped || p.halted
}

// enter adds the members of a fork: its n branches, then the fork itself
// (it records the JOIN). A fork nested in a branch (parent, a member; -1
// for none) shares the enclosing fork's ring and takes the parent's place
// in it: Conductor's fork mapper schedules the nested fork's branches and
// JOIN where the parent branch's next task would stand, and in the passes
// after, the nested branches' tasks come in that place, before the tasks
// of the branches that follow. The parent is out of the ring until the
// nested JOIN lets it go on (the JOIN ends outside the passes).
func (p *forkPasses) enter(parent, n int) []int {
	p.mu.Lock()
	defer p.mu.Unlock()
	ids := make([]int, n+1)
	for i := range ids {
		ids[i] = p.next
		p.next++
	}
	if i := slices.Index(p.ring, parent); parent >= 0 && i >= 0 {
		p.ring = slices.Concat(p.ring[:i:i], ids, p.ring[i+1:])
		if p.turn == parent {
			p.turn = ids[0]
		}
		if ms, ok := p.stopped[parent]; ok {
			// Mapped by a stopped member: its members map their first
			// records and stop; the stops waiting for it wait for them.
			for _, id := range ids {
				p.stopped[id] = memberStop{stop: ms.stop, first: ms.first, more: ms.more}
				for _, d := range ms.drains() {
					d.left++
				}
			}
		}
		p.leftRingLocked(parent)
	} else {
		// A fork replayed from a previous process's records: its parent
		// took no turn; its members queue after the others.
		p.ring = append(p.ring, ids...)
		if p.turn < 0 {
			p.turn = ids[0]
		}
	}
	p.signalLocked()
	return ids
}

// signalLocked wakes the member that may go on after a change: the one
// whose turn it is, or, when the ring is empty, the first member waiting
// to join it.
func (p *forkPasses) signalLocked() {
	m := p.turn
	if len(p.ring) == 0 {
		if len(p.idle) == 0 {
			return
		}
		m, p.idle = p.idle[0], p.idle[1:]
	}
	if ch, ok := p.wake[m]; ok {
		close(ch)
		delete(p.wake, m)
	}
}

// waitLocked waits (unlocked) until ok holds for member m; callers hold
// p.mu and hold it again when it returns.
func (p *forkPasses) waitLocked(ctx context.Context, m int, ok func() bool) error {
	for !ok() {
		ch := make(chan struct{})
		p.wake[m] = ch
		if !slices.Contains(p.ring, m) {
			p.idle = append(p.idle, m)
		}
		p.mu.Unlock()
		select {
		case <-ch:
			p.mu.Lock()
		case <-ctx.Done():
			p.mu.Lock()
			delete(p.wake, m)
			if i := slices.Index(p.idle, m); i >= 0 {
				p.idle = slices.Delete(p.idle, i, i+1)
			}
			// A wake meant for m goes to whoever may go on instead.
			p.signalLocked()
			return ctx.Err()
		}
	}
	return nil
}

// await returns when member m may schedule a record: on its turn, or, when
// it is out of the ring, once the ring is empty (it then joins it).
func (p *forkPasses) await(ctx context.Context, m int) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ran[m] {
		// The others run the tasks of this pass first.
		delete(p.ran, m)
		if p.turn == m && len(p.ring) > 1 {
			p.passLocked(m, false)
			if err := p.waitLocked(ctx, m, func() bool { return p.turn == m || !slices.Contains(p.ring, m) }); err != nil {
				return err
			}
		}
	}
	if p.stoppedLocked(m) {
		p.passLocked(m, true)
		return errForkStopped
	}
	err := p.waitLocked(ctx, m, func() bool {
		return p.turn == m && slices.Contains(p.ring, m) || len(p.ring) == 0
	})
	if err != nil {
		return err
	}
	if p.stoppedLocked(m) {
		// Stopped while it waited.
		p.passLocked(m, true)
		return errForkStopped
	}
	if len(p.ring) == 0 {
		p.ring, p.turn = []int{m}, m
	}
	return nil
}

// awaitJoin is await for a fork's own member (it records the JOIN): a turn
// that has come counts even when ctx ended meanwhile. Conductor records the
// JOIN in the pass that schedules the branches' first tasks, so once every
// branch has scheduled its task the JOIN is due; a branch whose task fails
// at once cancels ctx (the list's stop) while the turn moves to the fork,
// and await's wait sees both and may take either.
func (p *forkPasses) awaitJoin(ctx context.Context, m int) error {
	err := p.await(ctx, m)
	if err == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.turn == m && slices.Contains(p.ring, m) {
		return nil
	}
	return err
}

// pass hands the turn from m to the next member; with remove, m leaves the
// ring.
func (p *forkPasses) passLocked(m int, remove bool) {
	i := slices.Index(p.ring, m)
	if i < 0 {
		return
	}
	if remove {
		p.ring = slices.Delete(p.ring, i, i+1)
		switch {
		case len(p.ring) == 0:
			p.turn = -1
			p.roundMovedLocked(false)
		case p.turn == m:
			p.turn = p.ring[i%len(p.ring)]
			if i == len(p.ring) {
				p.roundMovedLocked(true)
			}
		}
	} else if p.turn == m {
		p.turn = p.ring[(i+1)%len(p.ring)]
		if i+1 == len(p.ring) {
			p.roundMovedLocked(true)
		}
	}
	p.announceLocked()
	p.signalLocked()
	if remove {
		p.leftRingLocked(m)
	}
}

// announceLocked emits the held events of the tasks that wait scheduled
// in a round the turn has gone around since (or all, once the ring is
// empty): every member has mapped its task of that pass, and none of the
// pass's synchronous tasks has run yet — each runs when its turn comes
// back, which signalLocked gives only after this. So, as Conductor's
// scheduleTask queues (announces) a pass's tasks that wait before the
// decide executes its synchronous ones, their SCHEDULED events come first.
// Callers hold p.mu.
func (p *forkPasses) announceLocked() {
	if len(p.held) == 0 {
		return
	}
	p.releaseHeldLocked(func(e passHold) bool { return len(p.ring) == 0 || e.round < p.round }, true)
}

// dropHeld: the pass of round was thrown away (dropPass, a mapper threw):
// the events of its tasks that wait are never announced.
func (p *forkPasses) dropHeld(round int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.releaseHeldLocked(func(e passHold) bool { return e.round == round }, false)
}

// releaseHeldLocked releases the held events that done picks, emitting
// them when emit says so (else dropping them), and keeps the others in
// their order. Callers hold p.mu.
func (p *forkPasses) releaseHeldLocked(done func(passHold) bool, emit bool) {
	k := 0
	for _, e := range p.held {
		if done(e) {
			e.h.r.releaseEvents(e.h, emit)
			continue
		}
		p.held[k] = e
		k++
	}
	clear(p.held[k:])
	p.held = p.held[:k]
}

// roundMovedLocked: the turn went around the ring (next), or the ring
// emptied or a branch failed; the members waiting in awaitPassRan look
// again. Callers hold p.mu.
func (p *forkPasses) roundMovedLocked(next bool) {
	if next {
		p.round++
	}
	if p.roundMoved != nil {
		close(p.roundMoved)
		p.roundMoved = nil
	}
}

// stop: a branch of the fork whose branches are members failed. Like
// Conductor's decider, which fails the run in the decision after the one
// that saw the failure, the pass under way ends: a member in the ring runs
// the synchronous task it scheduled when its turn comes, and none of them
// schedules anything more (await returns errForkStopped). The returned
// channel is closed once none of members is in the ring; the fork then
// cancels what still runs (its tasks that wait).
//
// With all (the failure ends the run) every member of the ring stops, a
// nested fork's and an enclosing one's too, as Conductor's next decision
// fails the whole run; the channel is closed once every member that was
// in the ring (or took the place of one, enter) has left it.
func (p *forkPasses) stop(members []int, all bool) <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped == nil {
		p.stopped = map[int]memberStop{}
	}
	p.stops++
	p.halted = p.halted || all
	for _, m := range members {
		ms := p.stopped[m]
		ms.stop = p.stops
		p.stopped[m] = ms
	}
	// A stopped member never joins the ring again (await): those in it
	// now are the ones to wait for.
	d := &forkDrain{done: make(chan struct{})}
	for _, m := range p.ring {
		ms, ok := p.stopped[m]
		if all {
			ms.stop, ok = p.stops, true
		}
		if !ok || ms.stop != p.stops {
			continue
		}
		if ms.first == nil {
			ms.first = d
		} else {
			ms.more = append(ms.more, d)
		}
		p.stopped[m] = ms
		d.left++
	}
	if d.left == 0 {
		close(d.done)
	}
	p.roundMovedLocked(false)
	return d.done
}

// leftRingLocked counts down the drains waiting for m, which has just left
// the ring, and closes those it was the last member of.
func (p *forkPasses) leftRingLocked(m int) {
	ms, ok := p.stopped[m]
	if !ok || ms.first == nil {
		return
	}
	p.stopped[m] = memberStop{stop: ms.stop}
	ms.first.countDown()
	for _, d := range ms.more {
		d.countDown()
	}
}

// drains are the stops waiting for the member.
func (ms memberStop) drains() []*forkDrain {
	if ms.first == nil {
		return nil
	}
	return append([]*forkDrain{ms.first}, ms.more...)
}

// countDown: one of d's members left the ring; the last closes d.
func (d *forkDrain) countDown() {
	if d.left--; d.left == 0 {
		close(d.done)
	}
}

// leave takes m out of the ring (its branch ended, or the fork recorded
// its JOIN).
func (p *forkPasses) leave(m int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.passLocked(m, true)
}

// branchKey is the context key of a branch's *branchTurn.
type branchKey struct{}

// branchTurn is one branch of a fork taking turns (begin calls it).
type branchTurn struct {
	p *forkPasses
	m int
	// left: the round in which the branch's last record, a task that
	// waits, took it out of the ring (leftSet); awaitPassRan waits for
	// the tasks that round scheduled to run. Guarded by p.mu.
	left    int
	leftSet bool
}

// passOf is the fork passes of ctx's branch and the round under way; nil
// outside a fork.
func passOf(ctx context.Context) (*forkPasses, int) {
	b, ok := ctx.Value(branchKey{}).(*branchTurn)
	if !ok || b == nil {
		return nil, 0
	}
	b.p.mu.Lock()
	defer b.p.mu.Unlock()
	return b.p, b.p.round
}

// awaitTurn returns when the branch of ctx (if any) may schedule a record.
func awaitTurn(ctx context.Context) error {
	if b, ok := ctx.Value(branchKey{}).(*branchTurn); ok && b != nil {
		return b.p.await(ctx, b.m)
	}
	return nil
}

// scheduled: the branch has scheduled a task; a synchronous one (sync)
// runs when the branch's turn comes back, any other leaves the ring.
// schedules: running it schedules the branch's next record at once (a
// DO_WHILE's DoWhile.execute schedules its first loop-over task).
func (b *branchTurn) scheduled(ctx context.Context, sync, schedules bool) {
	p := b.p
	p.mu.Lock()
	defer p.mu.Unlock()
	p.started[b.m] = true
	b.leftSet = false
	if !slices.Contains(p.ring, b.m) {
		return
	}
	if !sync {
		b.left, b.leftSet = p.round, true
		if h, _ := ctx.Value(eventHoldKey{}).(*eventHold); h != nil && h.r != nil {
			// Its events wait for the pass to be mapped (announceLocked).
			p.held = append(p.held, passHold{round: p.round, h: h})
		}
		p.passLocked(b.m, true)
		return
	}
	if p.turn != b.m {
		return // a record of a previous process, scheduled out of turn
	}
	if h, _ := ctx.Value(eventHoldKey{}).(*eventHold); h != nil && h.r != nil {
		// Its SCHEDULED goes out with the pass (announceScheduled).
		p.held = append(p.held, passHold{round: p.round, h: h})
	}
	p.passLocked(b.m, false)
	if p.waitLocked(ctx, b.m, func() bool { return p.turn == b.m || !slices.Contains(p.ring, b.m) }) == nil && !schedules {
		p.ran[b.m] = true
	}
}

// awaitPassRan returns once the synchronous tasks scheduled in the pass
// in which the branch of ctx (if any) scheduled its task that waits have
// run, or at once when it scheduled none: errForkStopped when a branch
// failed the run meanwhile (haltedFork). Conductor's WorkflowExecutor.decide
// executes every synchronous task its decision scheduled (INLINE,
// SET_VARIABLE, ...) before it saves the decision and the decider looks at
// the run again, in one call under the run's lock: one of them that fails
// ends the run in that call, and the run's other tasks — a WAIT, a HUMAN,
// a worker's task, scheduled in the same decision — are cancelled as they
// were mapped, never started. So such a task starts (a worker may take it,
// a timer or a call begins) only once the ring has gone around twice since
// it left it: once for the branches after it to schedule their records of
// the pass, once for every synchronous task of the pass to run (each on
// its turn, and a member that ran one lets the others run theirs before
// it schedules again); or once the ring is empty (nothing more to run).
func awaitPassRan(ctx context.Context) error {
	b, ok := ctx.Value(branchKey{}).(*branchTurn)
	if !ok || b == nil {
		return nil
	}
	p := b.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if !b.leftSet {
		return nil
	}
	b.leftSet = false
	for !p.halted && len(p.ring) > 0 && p.round < b.left+2 {
		if p.roundMoved == nil {
			p.roundMoved = make(chan struct{})
		}
		ch := p.roundMoved
		p.mu.Unlock()
		select {
		case <-ch:
			p.mu.Lock()
		case <-ctx.Done():
			p.mu.Lock()
			return ctx.Err()
		}
	}
	if p.halted {
		return errForkStopped
	}
	return nil
}

// haltedFork reports whether the fork of ctx (if any) stopped scheduling
// because a branch failed the run: a task that waits, scheduled in the
// decision that saw the failure, never starts (the next decision fails
// the run, cancelling it).
func haltedFork(ctx context.Context) bool {
	if b, ok := ctx.Value(branchKey{}).(*branchTurn); ok && b != nil {
		b.p.mu.Lock()
		defer b.p.mu.Unlock()
		return b.p.halted
	}
	return false
}
