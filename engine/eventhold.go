package engine

import (
	"context"
	"sync"
)

// A SWITCH or DECISION is recorded before its case's first task is mapped
// (execSwitch), and that mapping may throw: Conductor's decide then stores
// nothing of the tasks it mapped, and emits nothing of them either (no
// task status listener or event handler hears of a task that was never
// stored). The task events of such a record wait in an eventHold, carried
// by the context its transitions get, until its mapping stands (emitted)
// or throws (dropped with the record).
//
// So do those of a task that waits (a worker's, a WAIT, ...) scheduled by
// a fork's branch: a mapper of a later member of its pass may throw, and
// the whole pass goes (dropPass). Conductor's scheduleTask stores every
// task its pass mapped and queues the ones that wait (TaskStatusListener.
// onTaskScheduled) before the decide executes the pass's synchronous
// tasks: the task is announced once every member of the ring has mapped
// its task of the pass, when the turn goes around (forkpasses.go,
// announceLocked), before any of those runs; a task whose pass is thrown
// away is never announced (dropPass, dropHeld).

type eventHoldKey struct{}

// eventHold holds the task events of the record ref until released.
type eventHold struct {
	ref      string
	r        *runState // a fork pass's hold (holdPassEvents): its run
	mu       sync.Mutex
	held     []Event
	released bool
	// announced: the hold of a SCHEDULED announced with its fork's pass
	// (announceScheduled). Once released, the events of its record that
	// come through it are dropped: the SCHEDULED its input's write makes
	// again is out already.
	announced bool
}

func withEventHold(ctx context.Context, h *eventHold) context.Context {
	return context.WithValue(ctx, eventHoldKey{}, h)
}

// holdEvent keeps ev when ctx holds the events of its task, and reports
// whether it did.
func holdEvent(ctx context.Context, ev Event) bool {
	h, _ := ctx.Value(eventHoldKey{}).(*eventHold)
	if h == nil || h.ref != ev.TaskRef {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.released {
		return h.announced
	}
	h.held = append(h.held, ev)
	return true
}

// releaseEvents ends h: its events are emitted, in order, when emit is
// true, else dropped. Later ones are emitted as they come; releasing again
// does nothing.
func (r *runState) releaseEvents(h *eventHold, emit bool) {
	h.mu.Lock()
	evs, done := h.held, h.released
	h.held, h.released = nil, true
	h.mu.Unlock()
	if done || !emit {
		return
	}
	for _, ev := range evs {
		r.emit(ev)
	}
}

// holdPassEvents returns the context that holds the events of the task
// that waits wt (ref) while its fork's pass may still be taken away, and
// the hold (nil outside a fork, or for a task the decider executes). The
// ring announces them when the pass is mapped (branchTurn.scheduled);
// else they go out when begin returns (releasePassEvents).
func (r *runState) holdPassEvents(ctx context.Context, wt *WorkflowTask, ref string) (context.Context, *eventHold) {
	if !startsAfterDecision(wt.Type) {
		return ctx, nil
	}
	if b, ok := ctx.Value(branchKey{}).(*branchTurn); !ok || b == nil {
		return ctx, nil
	}
	h := &eventHold{ref: ref, r: r}
	return withEventHold(ctx, h), h
}

// releasePassEvents ends h (holdPassEvents) once begin returns: its pass
// stands unless rec was dropped with it, whose events go with it.
func (r *runState) releasePassEvents(h *eventHold, rec *taskRecord) {
	if h != nil {
		r.releaseEvents(h, rec == nil || !r.dropped(rec))
	}
}

// announceScheduled returns the hold of the SCHEDULED event of rec, the
// record of a synchronous task just made (created) by a fork's branch: the
// ring announces it with the other tasks of its pass when the turn goes
// around (branchTurn.scheduled, announceLocked), before any of them runs,
// as Conductor's scheduleTask stores every task of the pass before the
// decide executes the synchronous ones. nil outside a fork and for a
// record made earlier (its events go out as it is written).
func (r *runState) announceScheduled(ctx context.Context, rec *taskRecord, created bool) *eventHold {
	if !created {
		return nil
	}
	if b, ok := ctx.Value(branchKey{}).(*branchTurn); !ok || b == nil {
		return nil
	}
	r.mu.Lock()
	ev := Event{Kind: EventTask, TaskRef: rec.Ref, TaskType: rec.TaskType, TaskID: rec.TaskID, Status: TaskScheduled}
	if rec.heldReason {
		ev.Reason = rec.Reason // a retry's, kept until its next update (transitionReason)
	}
	r.mu.Unlock()
	a := &announcedHold{eventHold: eventHold{ref: rec.Ref, r: r, announced: true}, ev: [1]Event{ev}}
	a.held = a.ev[:]
	return &a.eventHold
}

// announcedHold is announceScheduled's hold with room for its one event:
// one allocation a task of a fork's pass, not two.
type announcedHold struct {
	eventHold
	ev [1]Event
}
