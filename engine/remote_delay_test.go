package engine_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// TestRemoteDelays: a remote retry's retryDelaySeconds and a first
// attempt's startDelay. Under WithRemoteDelays the task is handed to the
// RemoteWorkerFunc at once with OfferAt at the end of the delay (the
// function holds it back, and its poll timeout runs from then); without
// it the engine waits the delay itself and hands it over without OfferAt.
func TestRemoteDelays(t *testing.T) {
	const retryDef = `{"name":"d","tasks":[{"name":"work","taskReferenceName":"work","type":"SIMPLE",
	  "taskDefinition":{"name":"work","retryCount":1,"retryDelaySeconds":30}}]}`
	const startDef = `{"name":"d","tasks":[{"name":"work","taskReferenceName":"work","type":"SIMPLE","startDelay":30}]}`
	for _, tc := range []struct {
		name, def string
		delays    bool
		attempt   int // the attempt that waits 30 s
	}{
		{"retry, WithRemoteDelays", retryDef, true, 1},
		{"retry, engine waits", retryDef, false, 1},
		{"startDelay, WithRemoteDelays", startDef, true, 0},
		{"startDelay, engine waits", startDef, false, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			clock := engine.NewManualClock(start)
			type call struct {
				at, offerAt time.Time
				retry       int
			}
			var mu sync.Mutex
			var calls []call
			opts := []engine.Option{engine.WithClock(clock), engine.WithRemoteWorker(func(ctx context.Context, rt engine.RemoteTask) tasks.Result {
				mu.Lock()
				calls = append(calls, call{clock.Now(), rt.OfferAt, rt.RetryCount})
				mu.Unlock()
				if rt.RetryCount == 0 && tc.attempt == 1 {
					return tasks.Result{Status: tasks.Failed, Reason: "try again"}
				}
				return tasks.Result{Status: tasks.Completed}
			})}
			if tc.delays {
				opts = append(opts, engine.WithRemoteDelays())
			}
			e, err := engine.New(opts...)
			if err != nil {
				t.Fatal(err)
			}
			def, err := e.Parse([]byte(tc.def))
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			done := make(chan *engine.Result, 1)
			go func() {
				res, err := e.Start(ctx, def, nil)
				if err != nil {
					t.Error(err)
				}
				done <- res
			}()
			if !tc.delays {
				// The engine's own wait: move the clock past it.
				if err := clock.WaitForWaiters(ctx, 1); err != nil {
					t.Fatal(err)
				}
				clock.Advance(30 * time.Second)
			}
			res := <-done
			if res == nil || res.Status != engine.StatusCompleted {
				t.Fatalf("run: %+v", res)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(calls) != tc.attempt+1 {
				t.Fatalf("%d calls, want %d", len(calls), tc.attempt+1)
			}
			c := calls[tc.attempt]
			switch {
			case tc.delays && (!c.at.Equal(start) || !c.offerAt.Equal(start.Add(30*time.Second))):
				t.Errorf("attempt %d handed over at %v with OfferAt %v, want at once with OfferAt 30 s later", tc.attempt, c.at.Sub(start), c.offerAt)
			case !tc.delays && (!c.at.Equal(start.Add(30*time.Second)) || !c.offerAt.IsZero()):
				t.Errorf("attempt %d handed over at %v with OfferAt %v, want after 30 s without OfferAt", tc.attempt, c.at.Sub(start), c.offerAt)
			}
		})
	}
}

// TestRemoteDelayResumed: a run stopped while its remote retry waited for
// its retryDelaySeconds is resumed (another engine on the same run store):
// the retry is handed over with OfferAt at the end of the delay it was
// scheduled with, not offered at once.
func TestRemoteDelayResumed(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := engine.NewManualClock(start)
	store := runstore.NewMemory()
	const def = `{"name":"d","tasks":[{"name":"work","taskReferenceName":"work","type":"SIMPLE",
	  "taskDefinition":{"name":"work","retryCount":1,"retryDelaySeconds":30}}]}`
	offers := make(chan engine.RemoteTask, 4)
	worker := engine.WithRemoteWorker(func(ctx context.Context, rt engine.RemoteTask) tasks.Result {
		offers <- rt
		if rt.RetryCount == 0 {
			return tasks.Result{Status: tasks.Failed, Reason: "try again"}
		}
		<-ctx.Done() // waits for a worker until the run stops
		return tasks.Result{Status: tasks.Failed, Reason: "interrupted"}
	})
	ring := keyring(t, 1) // the same keyring in both processes: it seals the head
	newEngine := func() *engine.Engine {
		e, err := engine.New(engine.WithClock(clock), engine.WithRunStore(store), engine.WithKeyring(ring), engine.WithRemoteDelays(), worker)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	e := newEngine()
	d, err := e.Parse([]byte(def))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan string, 1)
	go func() {
		res, _ := e.Start(ctx, d, nil)
		if res == nil {
			stopped <- ""
			return
		}
		stopped <- res.RunID
	}()
	<-offers // the first attempt
	retry := <-offers
	want := start.Add(30 * time.Second)
	if !retry.OfferAt.Equal(want) {
		t.Fatalf("the retry's OfferAt %v, want %v", retry.OfferAt, want)
	}
	cancel()
	id := <-stopped
	if id == "" {
		t.Fatal("the interrupted run has no result")
	}
	clock.Advance(10 * time.Second)
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	resumed := make(chan struct{})
	go func() {
		defer close(resumed)
		_, _ = newEngine().Resume(rctx, id)
	}()
	select {
	case again := <-offers:
		if again.TaskID != retry.TaskID || !again.OfferAt.Equal(want) {
			t.Errorf("resumed: task %s with OfferAt %v, want %s with %v", again.TaskID, again.OfferAt, retry.TaskID, want)
		}
	case <-rctx.Done():
		t.Fatal("the resumed retry was not handed over")
	}
	rcancel()
	<-resumed
}
