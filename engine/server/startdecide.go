package server

import (
	"context"
	"time"

	"github.com/wfrun/wfrun/engine"
)

// A start answers once its run's first decision is done, as Conductor's
// does (WorkflowExecutor.startWorkflow decides before it returns): the
// first tasks are recorded and every worker task among them is offered to
// pollers, so a worker that polls right after the start finds its task.
// Restart, retry, rerun and resume answer the same way: Conductor's decide
// runs within those calls too.
//
// The run executes on its own goroutine (launch), so the call waits for
// it, without polling: each change of the run is announced after it is
// made — an engine event for every task and status change, the queue's
// onOffer for each worker task offered to pollers, and the run's
// goroutine ending (its end stored, or it stopped) — and each wakes the
// wait, which then reads the run as its executor sees it (engine.State).
// Only a run this engine does not execute (not yet, or handed to another
// process) is looked at every elsewhereTick: nothing here announces it.
// The answer claims the decision stored, as Conductor's is once decide
// returns: the executor's memory holds it before its write, so the wait
// ends once a read of the run shows it too, each write of the run waking
// the wait (engine.WithWritten).

// elsewhereTick is how often a call looks at a run this process does not
// execute (yet): its executor in another process announces nothing here.
const elsewhereTick = 100 * time.Millisecond

// startDecideWait bounds how long a call waits for its run's decision;
// after it the call answers anyway (the run goes on).
const startDecideWait = 3 * time.Second

// deciding registers a call on run id as waiting for the run's decision;
// the returned channel is poked by pokeDeciding, done unregisters it.
// Several calls may wait on one run.
func (c *conductor) deciding(id string) (wake <-chan struct{}, done func()) {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	if c.decide == nil {
		c.decide = map[string][]chan struct{}{}
	}
	c.decide[id] = append(c.decide[id], ch)
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		list := c.decide[id]
		for i, w := range list {
			if w == ch {
				list = append(list[:i], list[i+1:]...)
				break
			}
		}
		if len(list) == 0 {
			delete(c.decide, id)
		} else {
			c.decide[id] = list
		}
		c.mu.Unlock()
	}
}

// pokeDeciding wakes the calls waiting for run id's decision (a task of the
// run changed, or was offered to pollers).
func (c *conductor) pokeDeciding(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ch := range c.decide[id] {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// awaitDecision waits, up to startDecideWait, until run id's decision is
// done (decided), the run's goroutine in this process ends, the run
// stops, or ctx ends. wake is deciding's, registered before the call
// launched the run.
func (s *Server) awaitDecision(ctx context.Context, id string, wake <-chan struct{}) {
	s.awaitRun(ctx, id, wake, func() (bool, bool) { return s.decided(ctx, id) })
}

// awaitRun waits, up to startDecideWait, until done reports true, the
// run's goroutine in this process ends, or ctx ends. done's here reports
// whether this engine executes the run: its changes wake the wait (wake,
// deciding's, registered before the call launched the run); otherwise the
// wait looks again every elsewhereTick. Nothing executes run id here:
// nothing to wait for.
func (s *Server) awaitRun(ctx context.Context, id string, wake <-chan struct{}, done func() (done, here bool)) {
	c := s.conductor
	c.mu.Lock()
	var ended <-chan struct{}
	if h := c.active[id]; h != nil {
		ended = h.done
	}
	c.mu.Unlock()
	if ended == nil {
		return
	}
	deadline := time.NewTimer(startDecideWait)
	defer deadline.Stop()
	var elsewhere *time.Ticker
	defer func() {
		if elsewhere != nil {
			elsewhere.Stop()
		}
	}()
	for {
		ok, here := done()
		if ok {
			return
		}
		var look <-chan time.Time
		if !here {
			if elsewhere == nil {
				elsewhere = time.NewTicker(elsewhereTick)
			}
			look = elsewhere.C
		}
		select {
		case <-look:
		case <-wake:
		case <-ended:
			return
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		case <-c.ctx.Done():
			return
		}
	}
}

// decided reports whether run id's decision is done: the run is no longer
// RUNNING, another process executes it (a restart of a child run hands it
// to the process executing its parent), or it has unfinished tasks, none
// of which is a worker task not yet offered to pollers, a WAIT or HUMAN
// not yet waiting, nor a task the decision executes itself
// (engine.KindDecided). A run whose tasks all
// ended is between two decisions: not done. The decision of a run this
// engine executes is done once a read of the run shows it too, its
// unfinished tasks stored as they are in the executor's memory. here
// reports whether this engine executes the run (its changes and writes
// wake the wait).
func (s *Server) decided(ctx context.Context, id string) (done, here bool) {
	eng := s.conductor.eng
	st, err := eng.State(ctx, id)
	if err != nil {
		return true, false // nothing to wait for that can be read
	}
	if st.Status != engine.StatusRunning || (!st.Here && eng.ExecutedElsewhere(ctx, id)) {
		return true, st.Here
	}
	if !s.decidedTasks(id, st.Tasks) {
		return false, st.Here
	}
	if !st.Here {
		return true, false // read from the store already
	}
	// As written, not written first: a look that wrote the run itself
	// would wait behind the executor's write under way, which wakes the
	// wait when it is done.
	stored, err := eng.WrittenState(ctx, id)
	if err != nil || stored.Status != engine.StatusRunning {
		return true, true
	}
	if s.decidedTasks(id, stored.Tasks) && holdsOpen(stored.Tasks, st.Tasks) {
		return true, true
	}
	if f := s.conductor.decideWait.Load(); f != nil {
		(*f)()
	}
	return false, true
}

// holdsOpen reports whether stored holds every unfinished task of tasks
// unfinished too.
func holdsOpen(stored, tasks []engine.TaskState) bool {
	open := map[string]bool{}
	for _, t := range stored {
		if t.Open() {
			open[t.TaskID] = true
		}
	}
	for _, t := range tasks {
		if t.Open() && !open[t.TaskID] {
			return false
		}
	}
	return true
}

// decidedTasks reports whether tasks, run id's, are those of a decision
// done (decided).
func (s *Server) decidedTasks(id string, tasks []engine.TaskState) bool {
	eng := s.conductor.eng
	open := 0
	for _, t := range tasks {
		if !t.Open() {
			continue
		}
		open++
		switch eng.TaskKind(t.Type, t.DefName) {
		case engine.KindDecided:
			return false
		case engine.KindWorker:
			if !s.conductor.queue.offeredRef(id, t.Ref) {
				return false
			}
		case engine.KindOutside:
			// A WAIT or HUMAN is decided once it waits, its wait recorded
			// (Conductor's WaitTaskMapper sets its waitTimeout as it
			// schedules it): a client reading the run sees how it waits.
			if (t.Type == engine.TypeWait || t.Type == engine.TypeHuman) && !t.Awaiting {
				return false
			}
		}
	}
	return open > 0
}
