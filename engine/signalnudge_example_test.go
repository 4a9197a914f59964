package engine_test

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/wfrun/wfrun/engine"
	"github.com/wfrun/wfrun/engine/runstore"
	"github.com/wfrun/wfrun/tasks"
)

// Two engines share a run store, as two processes do: a executes a run, b
// pauses and resumes it. b's WithSignalNotify tells a of each signal it
// stores (a serve process publishes it over Redis), so a takes it at once.
func ExampleWithSignalNotify() {
	runs := runstore.NewMemory()
	running, release := make(chan struct{}), make(chan struct{})
	a, err := engine.New(engine.WithRunStore(runs), engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithWorker("work", func(context.Context, json.RawMessage) (json.RawMessage, error) {
			close(running)
			<-release
			return json.RawMessage(`{}`), nil
		}))
	if err != nil {
		panic(err)
	}
	b, err := engine.New(engine.WithRunStore(runs), engine.WithRegistry(tasks.NewDefaultRegistry()),
		engine.WithSignalNotify(func(_ context.Context, runID string) { a.SignalStored(runID) }))
	if err != nil {
		panic(err)
	}
	def, err := a.Parse([]byte(`{"name":"one","tasks":[{"name":"work","taskReferenceName":"work"}]}`))
	if err != nil {
		panic(err)
	}
	done := make(chan *engine.Result)
	go func() {
		res, err := a.Start(context.Background(), def, nil, engine.WithRunID("run-1"))
		if err != nil {
			panic(err)
		}
		done <- res
	}()
	<-running
	ctx := context.Background()
	if err := b.Pause(ctx, "run-1"); err != nil {
		panic(err)
	}
	fmt.Println("paused through b")
	if err := b.ResumePaused(ctx, "run-1"); err != nil {
		panic(err)
	}
	close(release)
	fmt.Println((<-done).Status)
	// Output:
	// paused through b
	// COMPLETED
}
