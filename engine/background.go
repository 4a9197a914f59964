package engine

import (
	"context"
	"fmt"
	"sort"
	"sync"
)

// background executes the runs an engine starts on its own — a run's
// failureWorkflow, a START_WORKFLOW task's run — as Conductor does: each is
// a run of its own, persisted before it executes, whose life is not tied to
// the run that started it. They execute in this process until they end or
// WaitStarted interrupts them; a process that dies leaves them RUNNING, and
// Resume continues them like any run.
type background struct {
	mu     sync.Mutex
	ctx    context.Context
	cancel context.CancelFunc
	ids    map[string]bool
	idle   chan struct{} // closed when ids is empty
}

// enter counts run id among the background runs and returns the context
// they execute under (cancelled when WaitStarted gives up on them).
func (b *background) enter(id string) context.Context {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.ctx == nil {
		b.ctx, b.cancel = context.WithCancel(context.Background())
	}
	if len(b.ids) == 0 {
		b.ids, b.idle = map[string]bool{}, make(chan struct{})
	}
	b.ids[id] = true
	return b.ctx
}

// leave ends run id's count; the last one out closes idle.
func (b *background) leave(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.ids, id)
	if len(b.ids) == 0 {
		close(b.idle)
	}
}

// has reports whether run id is among the background runs: executed here
// or about to be (its goroutine may not have marked it active yet).
func (b *background) has(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ids[id]
}

// startBackground executes r in the background.
func (e *Engine) startBackground(r *runState) {
	b := &e.bg
	ctx := b.enter(r.id)
	go func() {
		defer b.leave(r.id)
		if _, err := r.execute(ctx); err != nil && ctx.Err() == nil {
			// Nobody waits for this run's result: say why it stopped.
			r.emit(Event{Kind: EventWorkflow, Status: StatusRunning,
				Reason: r.sec.Text(fmt.Sprintf("stopped: %v; continue with: wfrun resume %s", err, r.id))})
		}
	}()
}

// Started returns the ids of the runs this engine started on its own (a
// failureWorkflow, a START_WORKFLOW task's run) that it executes now.
func (e *Engine) Started() []string {
	e.bg.mu.Lock()
	defer e.bg.mu.Unlock()
	ids := make([]string, 0, len(e.bg.ids))
	for id := range e.bg.ids {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// WaitStarted waits until the runs this engine started on its own (a
// failureWorkflow, a START_WORKFLOW task's run, and those they start) have
// ended. If ctx ends first they are interrupted: each stays RUNNING with its
// lease released, so Resume (wfrun resume) continues it, and WaitStarted
// returns ErrInterrupted. Runs started after that execute as before.
func (e *Engine) WaitStarted(ctx context.Context) error {
	b := &e.bg
	for {
		b.mu.Lock()
		if len(b.ids) == 0 {
			b.mu.Unlock()
			return nil
		}
		idle := b.idle
		b.mu.Unlock()
		select {
		case <-idle:
			continue // a run may have started another one meanwhile
		case <-ctx.Done():
		}
		b.mu.Lock()
		cancel, ids := b.cancel, len(b.ids)
		b.ctx, b.cancel = nil, nil
		b.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		<-idle
		return fmt.Errorf("%w: %d run(s) started by this one stay RUNNING and can be resumed", ErrInterrupted, ids)
	}
}

// StopStarted interrupts the runs this engine started on its own (those
// WaitStarted waits for) and waits until each has stopped: RUNNING, its
// lease released, so Resume continues it. A server shutting down stops
// them as it stops its own runs. It returns ctx's error when ctx ends
// first (a run still stopping keeps its lease until it expires).
func (e *Engine) StopStarted(ctx context.Context) error {
	b := &e.bg
	for {
		b.mu.Lock()
		if len(b.ids) == 0 {
			b.mu.Unlock()
			return nil
		}
		cancel, idle := b.cancel, b.idle
		b.ctx, b.cancel = nil, nil
		b.mu.Unlock()
		if cancel != nil {
			cancel()
		}
		select {
		case <-idle:
			// A run stopping may have started another one meanwhile.
		case <-ctx.Done():
			return fmt.Errorf("background runs still stopping: %w", ctx.Err())
		}
	}
}
