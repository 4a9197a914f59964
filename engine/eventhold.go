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

type eventHoldKey struct{}

// eventHold holds the task events of the record ref until released.
type eventHold struct {
	ref      string
	mu       sync.Mutex
	held     []Event
	released bool
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
		return false
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
