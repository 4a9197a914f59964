package engine

import (
	"context"
	"sync"
	"time"
)

// taskLimits enforces the task definitions' concurrentExecLimit and
// rateLimitPerFrequency / rateLimitFrequencyInSeconds across every run of
// an engine, as Conductor does for one cluster: a task over its limit stays
// SCHEDULED until a slot frees.
type taskLimits struct {
	mu      sync.Mutex
	running map[string]int
	starts  map[string][]time.Time
	changed chan struct{} // closed and replaced when a slot frees
}

func newTaskLimits() *taskLimits {
	return &taskLimits{running: map[string]int{}, starts: map[string][]time.Time{}, changed: make(chan struct{})}
}

// acquireSlot waits for a slot of the task definition p names; release
// frees it. A task that has to wait is persisted first, so whoever reads the
// run sees it SCHEDULED, held by its limit, as Conductor shows it.
func (r *runState) acquireSlot(ctx context.Context, p taskPolicy) (release func(), err error) {
	return r.e.acquireSlot(ctx, p, func() error { return r.save(ctx) })
}

// acquireSlot waits for a slot of the task definition p names, calling
// beforeWait once if it has to wait; release frees the slot.
func (e *Engine) acquireSlot(ctx context.Context, p taskPolicy, beforeWait func() error) (release func(), err error) {
	if p.concurrentLimit <= 0 && (p.ratePerFreq <= 0 || p.rateFreqSeconds <= 0) {
		return func() {}, nil
	}
	l := e.limits
	for waited := false; ; waited = true {
		l.mu.Lock()
		now := e.now()
		wait := time.Duration(0)
		if p.ratePerFreq > 0 && p.rateFreqSeconds > 0 {
			window := time.Duration(p.rateFreqSeconds) * time.Second
			s := l.starts[p.defName]
			for len(s) > 0 && !s[0].Add(window).After(now) {
				s = s[1:]
			}
			l.starts[p.defName] = s
			if len(s) >= p.ratePerFreq {
				wait = s[0].Add(window).Sub(now)
			}
		}
		full := p.concurrentLimit > 0 && l.running[p.defName] >= p.concurrentLimit
		if wait == 0 && !full {
			l.running[p.defName]++
			if p.ratePerFreq > 0 && p.rateFreqSeconds > 0 {
				l.starts[p.defName] = append(l.starts[p.defName], now)
			}
			l.mu.Unlock()
			var once sync.Once
			name := p.defName // not p: a captured p would be moved to the heap on every call
			return func() {
				once.Do(func() {
					l.mu.Lock()
					l.running[name]--
					close(l.changed)
					l.changed = make(chan struct{})
					l.mu.Unlock()
				})
			}, nil
		}
		changed := l.changed
		l.mu.Unlock()
		if !waited && beforeWait != nil {
			if err := beforeWait(); err != nil {
				return nil, err
			}
		}
		var timer <-chan time.Time
		stop := func() {}
		if wait > 0 {
			timer, stop = e.clock.After(wait)
		}
		select {
		case <-ctx.Done():
			stop()
			return nil, ctx.Err()
		case <-changed:
		case <-timer:
		}
		stop()
	}
}
