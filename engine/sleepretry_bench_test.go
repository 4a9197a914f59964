package engine

import (
	"context"
	"testing"
	"time"
)

// dueClock is a Clock whose timers are due at once: what a retry wait
// costs besides the wait itself.
type dueClock struct{}

func (dueClock) Now() time.Time { return time.Now() }

func (dueClock) After(time.Duration) (<-chan time.Time, func()) {
	ch := make(chan time.Time, 1)
	ch <- time.Now()
	return ch, func() {}
}

// BenchmarkSleepRetry: the overhead of one wait before a WAIT's retry
// (sleepRetry: the engine clock's timer and the run's signal polling),
// with a timer due at once.
func BenchmarkSleepRetry(b *testing.B) {
	e, err := New(WithClock(dueClock{}), WithPollInterval(time.Hour))
	if err != nil {
		b.Fatal(err)
	}
	def, err := e.Parse([]byte(`{"name":"w","tasks":[{"name":"w","taskReferenceName":"w","type":"WAIT"}]}`))
	if err != nil {
		b.Fatal(err)
	}
	r := e.newState(def, "bench-run")
	wt := def.Tasks[0]
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := r.sleepRetry(ctx, wt, "w", time.Second); err != nil {
			b.Fatal(err)
		}
	}
}
