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
// The run executes on its own goroutine (launch), so the start waits for
// it: each task event of the run and each task of it offered to pollers
// wakes the wait, which then reads the run (decided).

// startDecideWait bounds how long a start waits for its run's first
// decision; after it the start answers anyway (the run goes on).
const startDecideWait = 3 * time.Second

// startDecideTick is how often the wait reads the run when nothing woke it.
const startDecideTick = 50 * time.Millisecond

// syncTaskTypes are the types Conductor's decider executes (or resolves)
// within the decision itself: while one is unfinished the decision is
// still going on. Other system tasks (WAIT, HUMAN, HTTP, SUB_WORKFLOW,
// JOIN, DO_WHILE, …) are scheduled by the decision and run after it.
var syncTaskTypes = map[string]bool{
	engine.TypeSwitch: true, engine.TypeDecision: true, engine.TypeForkJoin: true, engine.TypeFork: true,
	engine.TypeForkJoinDynamic: true, engine.TypeDynamic: true, engine.TypeSetVariable: true,
	engine.TypeTerminate: true, engine.TypeLambda: true, engine.TypeExclusiveJoin: true,
	"INLINE": true, "JSON_JQ_TRANSFORM": true, "NOOP": true,
}

// deciding registers run id's start as waiting for its first decision; the
// returned channel is poked by pokeDeciding, done unregisters it.
func (c *conductor) deciding(id string) (wake <-chan struct{}, done func()) {
	ch := make(chan struct{}, 1)
	c.mu.Lock()
	if c.decide == nil {
		c.decide = map[string]chan struct{}{}
	}
	c.decide[id] = ch
	c.mu.Unlock()
	return ch, func() {
		c.mu.Lock()
		if c.decide[id] == ch {
			delete(c.decide, id)
		}
		c.mu.Unlock()
	}
}

// pokeDeciding wakes run id's start if it waits for the run's first
// decision (a task of the run changed, or was offered to pollers).
func (c *conductor) pokeDeciding(id string) {
	c.mu.Lock()
	ch := c.decide[id]
	c.mu.Unlock()
	if ch != nil {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// awaitFirstDecision waits, up to startDecideWait, until run id's first
// decision is done (decided), the run stops, or ctx ends.
func (s *Server) awaitFirstDecision(ctx context.Context, id string, wake <-chan struct{}) {
	c := s.conductor
	deadline := time.NewTimer(startDecideWait)
	defer deadline.Stop()
	tick := time.NewTicker(startDecideTick)
	defer tick.Stop()
	for {
		if s.decided(ctx, id) {
			return
		}
		select {
		case <-wake:
		case <-tick.C:
		case <-deadline.C:
			return
		case <-ctx.Done():
			return
		case <-c.ctx.Done():
			return
		}
	}
}

// decided reports whether run id's first decision is done: the run is no
// longer RUNNING, or it has unfinished tasks, none of which is a worker
// task not yet offered to pollers nor a task the decision executes itself.
// A run whose tasks all ended is between two decisions: not done.
func (s *Server) decided(ctx context.Context, id string) bool {
	doc, err := s.execution(ctx, id)
	if err != nil {
		return true // nothing to wait for that can be read
	}
	if st, _ := doc["status"].(string); st != engine.StatusRunning {
		return true
	}
	list, _ := doc["tasks"].([]any)
	open := 0
	for _, it := range list {
		t, _ := it.(map[string]any)
		if st, _ := t["status"].(string); st != engine.TaskScheduled && st != engine.TaskInProgress {
			continue
		}
		open++
		wt, _ := t["workflowTask"].(map[string]any)
		typ, _ := wt["type"].(string)
		if syncTaskTypes[typ] {
			return false
		}
		if typ == "" || typ == engine.TypeSimple {
			ref, _ := t["referenceTaskName"].(string)
			if !s.conductor.queue.offeredRef(id, ref) {
				return false
			}
		}
	}
	return open > 0
}
